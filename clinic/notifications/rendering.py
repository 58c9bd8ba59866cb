"""Templates name their variables in braces (``{name}``). Rendering is a plain substitution,
never ``str.format`` (which would let a template reach attributes of its arguments), and a
missing variable is an error: a message with a hole in it is never sent."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import gettext as _

from .errors import TemplateRenderError
from .models import MessageTemplate

VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def variables(text: str) -> list[str]:
    """The variable names in ``text``, in order of first appearance."""
    seen: dict[str, None] = {}
    for name in VARIABLE.findall(text or ""):
        seen.setdefault(name, None)
    return list(seen)


def _display(value: Any) -> str:
    if isinstance(value, str):
        return value
    return str(formats.localize(value))


def render_text(text: str, params: Mapping[str, Any]) -> str:
    missing = [name for name in variables(text) if params.get(name) in (None, "")]
    if missing:
        raise TemplateRenderError(
            _("Missing template variables: %(names)s") % {"names": ", ".join(missing)}, code="missing"
        )
    return VARIABLE.sub(lambda m: _display(params[m.group(1)]), text)


@dataclass(frozen=True)
class Rendered:
    template: MessageTemplate
    subject: str
    body: str
    language: str


def find_template(key: str, channel: str, language: str) -> MessageTemplate:
    """The active template in ``language``, else in the clinic's default language."""
    candidates = {
        t.language: t
        for t in MessageTemplate.objects.filter(
            key=key, channel=channel, is_active=True, language__in={language, settings.LANGUAGE_CODE}
        )
    }
    template = candidates.get(language) or candidates.get(settings.LANGUAGE_CODE)
    if template is None:
        raise TemplateRenderError(
            _("There is no active %(channel)s template with the key %(key)s.")
            % {"channel": channel, "key": key},
            code="no_template",
        )
    return template


def render_template(template: MessageTemplate, params: Mapping[str, Any]) -> Rendered:
    """Render subject and body in the template's language (numbers and dates in params are
    formatted the way that language writes them)."""
    with translation.override(template.language):
        body = render_text(template.body, params)
        subject = render_text(template.subject, params) if template.subject else ""
    return Rendered(template=template, subject=subject, body=body, language=template.language)


def render_message(key: str, channel: str, language: str, params: Mapping[str, Any]) -> Rendered:
    return render_template(find_template(key, channel, language), params)
