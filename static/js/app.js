// Small behaviours the templates ask for with data- attributes (no inline script: CSP).
document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-autosubmit]");
  if (form) {
    form.requestSubmit();
  }
});

// <button data-print>: print the page (cards, slips).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});

// The live search as an ARIA combobox (WAI-ARIA APG, list autocomplete with manual
// selection). <form data-combobox-root> holds <input data-combobox="POPUP_ID"> and the popup
// that htmx fills; in the results, [data-combobox-list] holds [data-combobox-option] items:
// a link opens a person, an item with a [data-combobox-action] button (receive a person of
// another branch here) presses it, and an item with neither is shown but cannot be chosen.
// Focus stays in the input: ArrowDown/ArrowUp move the highlighted option
// (aria-activedescendant), Enter acts on it, Escape closes the list (a second Escape lets the
// browser clear the box), and a click or Tab elsewhere closes it too. Roles and ids are added here, so the same results partial
// stays a plain list of links on the full search page. <input data-combobox-status="ID">
// names a live region that gets the list's data-combobox-summary.
const combobox = {
  popup(input) {
    return document.getElementById(input.dataset.combobox);
  },
  options(popup) {
    return Array.from(popup.querySelectorAll("[data-combobox-option]:not([aria-disabled='true'])"));
  },
  action(option) {
    return option.matches("a[href]") ? option : option.querySelector("[data-combobox-action]");
  },
  active(input) {
    const id = input.getAttribute("aria-activedescendant");
    return id ? document.getElementById(id) : null;
  },
  highlight(input, popup, option) {
    for (const other of popup.querySelectorAll("[data-combobox-option][aria-selected='true']")) {
      other.setAttribute("aria-selected", "false");
    }
    if (option) {
      option.setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  },
  show(input, popup, open) {
    const visible = open && popup.childElementCount > 0;
    popup.hidden = !visible;
    input.setAttribute("aria-expanded", String(visible && combobox.options(popup).length > 0));
    if (!visible) {
      combobox.highlight(input, popup, null);
    }
  },
  // New results arrived: give them their roles and ids, nothing highlighted yet.
  upgrade(input, popup) {
    const list = popup.querySelector("[data-combobox-list]");
    const items = list ? Array.from(list.querySelectorAll("[data-combobox-option]")) : [];
    if (list && items.length) {
      list.id = `${popup.id}-listbox`;
      list.setAttribute("role", "listbox");
      const label = input.labels && input.labels[0];
      if (label) {
        list.setAttribute("aria-label", label.textContent.trim());
      }
      items.forEach((item, i) => {
        item.id = `${list.id}-${i}`;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        // The option is what the keyboard reaches, not the link or button inside it.
        const action = combobox.action(item);
        if (action) {
          action.tabIndex = -1;
        } else {
          item.setAttribute("aria-disabled", "true");
        }
      });
      input.setAttribute("aria-controls", list.id);
    } else {
      input.setAttribute("aria-controls", popup.id);
    }
    input.removeAttribute("aria-activedescendant");
    combobox.show(input, popup, document.activeElement === input);
    // One short live announcement ("3 found…") instead of reading out the whole list.
    const status = document.getElementById(input.dataset.comboboxStatus);
    if (status) {
      status.textContent = list ? list.dataset.comboboxSummary || list.textContent.trim() : "";
    }
  },
  move(input, popup, step) {
    const options = combobox.options(popup);
    if (!options.length) {
      return;
    }
    if (popup.hidden) {
      combobox.show(input, popup, true);
    }
    const current = options.indexOf(combobox.active(input));
    const next = current === -1 ? (step > 0 ? 0 : options.length - 1) : (current + step + options.length) % options.length;
    combobox.highlight(input, popup, options[next]);
  },
};

document.addEventListener("htmx:afterSwap", (event) => {
  const popup = event.detail.target;
  const input = popup && popup.id && document.querySelector(`[data-combobox="${popup.id}"]`);
  if (input) {
    combobox.upgrade(input, popup);
  }
});

document.addEventListener("keydown", (event) => {
  const input = event.target.closest && event.target.closest("[data-combobox]");
  // Keys typed while a Chinese input method is composing belong to the input method.
  if (!input || event.isComposing || event.keyCode === 229) {
    return;
  }
  const popup = combobox.popup(input);
  if (!popup) {
    return;
  }
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    combobox.move(input, popup, event.key === "ArrowDown" ? 1 : -1);
  } else if (event.key === "Enter") {
    const option = popup.hidden ? null : combobox.active(input);
    if (option) {
      event.preventDefault();
      combobox.action(option).click();
    }
  } else if (event.key === "Escape" && !popup.hidden && popup.childElementCount > 0) {
    event.preventDefault();
    combobox.show(input, popup, false);
  }
});

// A click in the box brings back the list that Escape or a click elsewhere closed.
document.addEventListener("click", (event) => {
  const input = event.target.closest && event.target.closest("[data-combobox]");
  if (input) {
    combobox.show(input, combobox.popup(input), true);
  }
});

function comboboxCloseOutside(target) {
  for (const root of document.querySelectorAll("[data-combobox-root]")) {
    const input = root.querySelector("[data-combobox]");
    const popup = input && combobox.popup(input);
    if (popup && !popup.hidden && !root.contains(target)) {
      combobox.show(input, popup, false);
    }
  }
}
document.addEventListener("pointerdown", (event) => comboboxCloseOutside(event.target));
document.addEventListener("focusout", (event) => {
  if (event.relatedTarget) {
    comboboxCloseOutside(event.relatedTarget);
  }
});

// A table that scrolls sideways (on a phone, see app.css) can be scrolled with the keyboard:
// it joins the tab order when, and only when, it is wider than its box (WCAG 2.1.1).
function tablesScrollable(root) {
  for (const table of root.querySelectorAll("table.table")) {
    if (table.scrollWidth > table.clientWidth + 1) {
      table.tabIndex = 0;
    } else {
      table.removeAttribute("tabindex");
    }
  }
}
document.addEventListener("DOMContentLoaded", () => tablesScrollable(document));
document.addEventListener("htmx:afterSettle", (event) => tablesScrollable(event.target));
window.addEventListener("resize", () => tablesScrollable(document));
