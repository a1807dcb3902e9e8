"""Checks and normalises phase 3's contact details and the personal identity code.

Every problem is collected and reported at once (`DetailsRejected`), never the first only.
Libraries do the hard parts: email-validator (syntax, normalisation), phonenumbers (stored
E.164), python-stdnum (the personal identity code, including the 2023 century signs).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any, Final

import attrs
import email_validator
import phonenumbers
from stdnum import exceptions as stdnum_errors
from stdnum.fi import hetu

from regflow._i18n import LANGUAGES
from regflow.errors import DetailsRejected, FieldError
from regflow.model import CONTACT_FIELDS, ContactDetails
from regflow.settings import Settings

MAX_LENGTHS: Final[dict[str, int]] = {
    "given_names": 100,
    "family_name": 100,
    "email": 254,  # RFC 5321's path limit
    "phone": 32,
    "street_address": 200,
    "postal_code": 5,
    "post_office": 100,
    "language": 2,
}
_TEXT_FIELDS: Final = tuple(f for f in CONTACT_FIELDS if f != "marketing_consent")


def _has_control_characters(value: str) -> bool:
    # Cc (C0/C1 controls, incl. NUL, newline, tab), Cf (format: bidi overrides, zero-width),
    # Cs (lone surrogates), Co/Cn (private use, unassigned): none belongs in a contact field.
    return any(unicodedata.category(ch)[0] == "C" for ch in value)


def _check_email(value: str) -> str:
    result = email_validator.validate_email(value, check_deliverability=False)
    return result.normalized


def _check_phone(value: str, region: str) -> str:
    number = phonenumbers.parse(value, region)
    if not phonenumbers.is_valid_number(number):
        raise phonenumbers.NumberParseException(
            phonenumbers.NumberParseException.NOT_A_NUMBER, "not a valid number"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_details(details: ContactDetails, settings: Settings) -> ContactDetails:
    """Return `details` normalised, or raise `DetailsRejected` listing every field error.

    Normalisation: surrounding white space stripped, inner runs of white space folded in names
    and addresses, email normalised by email-validator, phone in E.164, language lower-case.
    """
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        raw: str = getattr(details, name)
        if len(raw) > 4 * MAX_LENGTHS[name]:  # refuse megabytes before scanning them
            errors.append(FieldError(name, "too_long_field"))
            continue
        value = " ".join(raw.split()) if name not in {"email", "phone"} else raw.strip()
        value = unicodedata.normalize("NFC", value)
        if _has_control_characters(raw.strip()):
            errors.append(FieldError(name, "control_characters"))
            continue
        if not value:
            if name in settings.required_fields:
                errors.append(FieldError(name, "required"))
            clean[name] = ""
            continue
        if len(value) > MAX_LENGTHS[name]:
            errors.append(FieldError(name, "too_long_field"))
            continue
        clean[name] = value
    errors.extend(_check_formats(clean, settings))
    if errors:
        raise DetailsRejected(errors)
    return attrs.evolve(details, **clean)


def _check_formats(clean: dict[str, Any], settings: Settings) -> list[FieldError]:
    """Check and normalise, in place, the fields that have a format of their own."""
    errors = []
    if clean.get("email"):
        try:
            clean["email"] = _check_email(clean["email"])
        except email_validator.EmailNotValidError:
            errors.append(FieldError("email", "invalid_email"))
    if clean.get("phone"):
        try:
            clean["phone"] = _check_phone(clean["phone"], settings.phone_region)
        except phonenumbers.NumberParseException:
            errors.append(FieldError("phone", "invalid_phone"))
    postal = clean.get("postal_code", "")
    if postal and not (len(postal) == 5 and postal.isascii() and postal.isdigit()):
        errors.append(FieldError("postal_code", "invalid_postal_code"))
    language = clean.get("language", "").lower()
    if language:
        if language in LANGUAGES:
            clean["language"] = language
        else:
            errors.append(FieldError("language", "invalid_language"))
    return errors


def comparable(name: str, value: str, settings: Settings) -> str:
    """A contact field's value in the form used to tell whether two values differ."""
    text = unicodedata.normalize("NFC", " ".join(value.split()))
    if name == "email":
        return email_key(text)
    if name == "phone" and text:
        try:
            return _check_phone(text, settings.phone_region)
        except phonenumbers.NumberParseException:
            return text
    return text.lower() if name == "language" else text


def email_key(email: str) -> str:
    """The form in which emails are compared for uniqueness: normalised, then casefolded."""
    try:
        normalized = _check_email(email)
    except email_validator.EmailNotValidError:
        normalized = email.strip()
    return normalized.casefold()


def check_personal_id(code: str, *, allow_temporary: bool) -> str | None:
    """The failure code for a personal identity code, or None when it is acceptable.

    `invalid_personal_id`: not a valid code (checksum, date, format); `temporary_personal_id`:
    a temporary code (individual number 900-999) while those are not allowed.
    """
    if not isinstance(code, str) or not code.isascii():
        return "invalid_personal_id"
    try:
        hetu.validate(code, allow_temporary=True)
    except stdnum_errors.ValidationError:
        return "invalid_personal_id"
    if not allow_temporary and int(hetu.compact(code)[7:10]) >= 900:
        return "temporary_personal_id"
    return None


# The century sign's meaning (the 2023 reform added Y X W V U for 1900 and B-F for 2000).
_CENTURIES: Final[dict[str, int]] = {
    "+": 1800,
    **dict.fromkeys("-YXWVU", 1900),
    **dict.fromkeys("ABCDEF", 2000),
}


def birth_date(personal_id: str) -> dt.date | None:
    """The birth date encoded in a valid personal identity code (None for an invalid one)."""
    code = hetu.compact(personal_id)
    if check_personal_id(code, allow_temporary=True) is not None:
        return None
    century = _CENTURIES[code[6]]
    return dt.date(century + int(code[4:6]), int(code[2:4]), int(code[0:2]))
