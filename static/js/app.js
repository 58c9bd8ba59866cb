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
