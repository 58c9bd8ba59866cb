"""Phone numbers: parse and normalise to E.164 (region CN by default), mask for display."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "CN"


class PhoneError(ValueError):
    pass


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return the E.164 form (``+8613812345678``) or raise PhoneError.

    Accepts the ways people type Chinese numbers: spaces, dashes, ``+86``/``0086``/``86``
    prefixes, and landlines with an area code (``021-6888 1234``).
    """
    text = (raw or "").strip()
    if not text:
        raise PhoneError("empty phone number")
    cleaned = "".join(ch for ch in text if ch.isdigit() or ch == "+")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if region == "CN" and len(cleaned) == 13 and cleaned.startswith("86") and cleaned[2] == "1":
        cleaned = "+" + cleaned
    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


def is_mobile(e164: str) -> bool:
    """Whether a text message can reach the number: a mobile, not a landline (``021-…``).

    Never raises: a value that does not parse is not a mobile."""
    try:
        number = phonenumbers.parse(e164, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) in _MOBILE_TYPES


def national_digits(e164: str) -> str:
    """The number as dialled inside its country: ``13812345678`` for ``+8613812345678``."""
    number = phonenumbers.parse(e164, None)
    prefix = "0" if number.country_code == 86 and not str(number.national_number).startswith("1") else ""
    return prefix + str(number.national_number)


def format_phone(value: str | None) -> str:
    """A stored E.164 number as people write it at home: ``021 6288 1234``,
    ``138 1234 5678``; a foreign number keeps its international form. Never raises (used
    while rendering); a value that does not parse is shown as stored."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return value
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(number) == DEFAULT_REGION
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def mask_email(value: str | None) -> str:
    """``z***@example.com``: the first character of the local part and the domain. An
    e-mail address is contact data like a phone number, shown masked the same way."""
    if not value:
        return ""
    local, at, domain = value.partition("@")
    if not at:
        return "*" * len(value)
    return f"{local[:1]}***@{domain}"


def mask_phone(value: str | None) -> str:
    """``138****5678``: keep the first three and last four digits of the national number.

    Anything too short to mask safely is masked entirely. Never raises: masking is used while
    rendering pages, and a bad stored value must not break the page.
    """
    if not value:
        return ""
    try:
        digits = national_digits(value) if value.startswith("+") else "".join(c for c in value if c.isdigit())
    except phonenumbers.NumberParseException:
        digits = "".join(c for c in value if c.isdigit())
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
