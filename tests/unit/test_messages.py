"""Every error code has a message in sv, fi and en, and the compiled catalogues are current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from regflow import errors
from regflow._i18n import LANGUAGES, catalogue
from regflow.emails import BODY, DISTRICT_HEATING, GREETING, NOT_ME, SUBJECT
from regflow.errors import MESSAGES, FieldError, IdentificationFailed, RegflowError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("language", ["sv", "fi"])
def test_every_message_is_translated(language: str) -> None:
    """Each error code's message and each email text has a translation in sv and fi."""
    texts = [*MESSAGES.values(), SUBJECT, GREETING, BODY, DISTRICT_HEATING, NOT_ME]
    missing = [t for t in texts if catalogue("regflow", language).gettext(t) == t]
    assert missing == []


def _error_classes() -> list[type[RegflowError]]:
    found, todo = [], [RegflowError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_has_a_known_code() -> None:
    """Every concrete error class's code has a message; the base class's code is never used."""
    for cls in _error_classes():
        if cls in {RegflowError, errors.GuardFailed, IdentificationFailed}:
            continue  # these take their code per instance
        assert cls.code in MESSAGES, cls


@pytest.mark.parametrize("language", LANGUAGES)
def test_messages_format_in_every_language(language: str) -> None:
    """Messages with placeholders fill them in every language."""
    assert "09 617 8080" in errors.CustomerServiceNeeded("x", phone="09 617 8080").message(language)
    assert "{" not in errors.CustomerServiceNeeded("x", phone="1").message(language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_invalid_transition_shows_users_no_internal_names(language: str) -> None:
    """The message names no state or event; the attributes and str() (for logs) keep them."""
    error = errors.InvalidTransition(state="reviewing", event="select_bank", allowed=["edit"])
    text = error.message(language)
    for internal in ("reviewing", "select_bank", "edit", "{", "_"):
        assert internal not in text
    assert (error.state, error.event, error.allowed) == ("reviewing", "select_bank", ("edit",))
    assert str(error) == "select_bank is not allowed in state reviewing (allowed: edit)"


@pytest.mark.parametrize("language", LANGUAGES)
def test_business_customers_are_sent_to_customer_service(language: str) -> None:
    """The business-customer dead end names customer service's number, by default the guide's."""
    text = errors.UnsupportedCustomerType("business").message(language)
    assert "09 617 8080" in text
    assert {"sv": "kundtjänst", "fi": "asiakaspalvelu", "en": "customer service"}[language] in text
    assert "020 123" in errors.UnsupportedCustomerType("business", phone="020 123").message(
        language
    )


def test_field_errors_have_messages() -> None:
    """Field errors, including password rules, have a localised message."""
    assert (
        FieldError("email", "invalid_email").message("fi") == "Anna kelvollinen sähköpostiosoite."
    )
    assert FieldError("password", "too_short").message("sv")


def test_unknown_codes_are_programming_errors() -> None:
    """A code with no message is refused when the error is built, not when it is shown."""
    with pytest.raises(ValueError, match="unknown"):
        IdentificationFailed("no_such_code")


def test_compiled_catalogues_match_their_sources() -> None:
    """The committed .mo files are compiled from the current .po files."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "i18n.py"), "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
