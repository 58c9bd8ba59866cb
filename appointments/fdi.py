"""FDI tooth numbers (ISO 3950): quadrant digit then tooth digit. Permanent teeth 11–48
(quadrants 1–4, teeth 1–8), primary teeth 51–85 (quadrants 5–8, teeth 1–5)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def is_valid_tooth(value: int) -> bool:
    quadrant, tooth = divmod(int(value), 10)
    if 1 <= quadrant <= 4:
        return 1 <= tooth <= 8
    if 5 <= quadrant <= 8:
        return 1 <= tooth <= 5
    return False


def validate_tooth(value: int) -> None:
    if not is_valid_tooth(value):
        raise ValidationError(
            _("%(value)s is not an FDI tooth number (11–48 permanent, 51–85 primary).") % {"value": value},
            code="invalid_tooth",
        )


_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def parse_teeth(text: str) -> list[int]:
    """``"11, 12 21"`` → ``[11, 12, 21]``; raises ValidationError on anything else."""
    out: list[int] = []
    # A Chinese input method types full-width digits (１１): those are read as ASCII ones.
    text = (text or "").translate(_FULL_WIDTH_DIGITS)
    for part in text.replace("，", ",").replace(",", " ").split():
        if not (part.isascii() and part.isdigit()):
            raise ValidationError(_("Tooth numbers are two digits, e.g. 11 or 85."), code="invalid_tooth")
        value = int(part)
        validate_tooth(value)
        if value not in out:
            out.append(value)
    return out
