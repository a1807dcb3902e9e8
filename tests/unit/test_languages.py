"""Languages: every entry point maps tags the same way; rendering falls back, `start` refuses.

The rule (README, "Errors"): `normalize_language` maps a tag to sv, fi or en or to None; every
function that renders text uses it and falls back to English; `RegistrationFlow.start`, which
stores the language in the flow, raises `UnsupportedLanguage` for a value it cannot map.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import regflow
from regflow import (
    DetailsRejected,
    FieldError,
    RegistrationFlow,
    UnsupportedCustomerType,
    UnsupportedLanguage,
    deliver_pending_emails,
    message_for,
    normalize_language,
)
from regflow.adapters.memory import FINNISH_BANKS, InMemoryStorage, RecordingMailer
from regflow.emails import confirmation_email
from regflow.errors import FlowExpired, InvalidTransition
from regflow.model import Bank, Contact
from regflow.policy import PasswordPolicy, PersonalContext, violation_message
from regflow.ports import Ports
from regflow.service import RegistrationService
from regflow.settings import Settings
from tests.flows import bank

# Hostile or odd language values a web handler could pass on from a cookie or a header, and the
# language each names (None: none regflow speaks).
HOSTILE: list[tuple[object, str | None]] = [
    (None, None),
    ("", None),
    ("de", None),
    ("FI", "fi"),
    ("fi-FI", "fi"),
    ("sv_FI", "sv"),
    ("sv-SE", "sv"),
    (42, None),
    ("x" * 10000, None),
    ("\x00", None),
    ("fi\x00", None),
    (b"fi", None),
    (["fi"], None),
    ("fil", None),  # Filipino is not Finnish
    ("en-GB", "en"),
    ("fi_FI.UTF-8", "fi"),
    ("sv_FI@euro", "sv"),
    (" sv ", "sv"),
    ("de-DE,de;q=0.9,sv;q=0.8,en;q=0.7", "sv"),
    ("en;q=0.5, fi", "fi"),
    ("fi;q=0, en;q=0.1", "en"),
    ("fi;q=0", None),
    ("*", None),
    ("fi;q=2", None),
    ("\u00a0fi", None),  # only ASCII whitespace around a tag
    ("de," * 400 + "fi", None),  # over 1024 characters: not read at all
    ("de," * 300 + "fi", "fi"),
]
IDS = [repr(value)[:20] for value, _ in HOSTILE]
NOBODY = PersonalContext()


def rendered_in(render: Callable[[object], object], value: object, expected: str | None) -> None:
    """`render(value)` equals the rendering in the expected language, English when None."""
    assert render(value) == render(expected or "en")


@pytest.mark.parametrize(("value", "expected"), HOSTILE, ids=IDS)
def test_normalize_language_maps_tags_and_refuses_the_rest(
    value: object, expected: str | None
) -> None:
    """Tags map to their language; anything else gives None, never an exception."""
    assert normalize_language(value) == expected


def test_normalize_language_is_public() -> None:
    """The helper is exported from the package, for web applications' cookies and headers."""
    assert "normalize_language" in regflow.__all__


@given(st.one_of(st.text(), st.none(), st.integers(), st.binary(), st.floats()))
def test_normalize_language_never_raises(value: object) -> None:
    """Any value at all gives one of the three languages or None."""
    assert normalize_language(value) in {"sv", "fi", "en", None}


@given(
    st.sampled_from(["sv", "fi", "en", "SV", "Fi", "eN"]),
    st.lists(st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True), max_size=3),
    st.sampled_from(["-", "_"]),
)
def test_any_region_or_script_keeps_the_language(
    language: str, subtags: list[str], separator: str
) -> None:
    """`xx` followed by any well-formed subtags maps to `xx`."""
    tag = separator.join([language, *subtags])
    assert normalize_language(tag) == language.lower()


# -- rendering entry points: fall back, never raise --------------------------------------------


@pytest.mark.parametrize(("value", "expected"), HOSTILE, ids=IDS)
def test_error_messages_fall_back(value: object, expected: str | None) -> None:
    """RegflowError.message, FieldError.message and message_for render every value."""
    error = DetailsRejected([FieldError("email", "invalid_email")])
    rendered_in(error.message, value, expected)
    rendered_in(FlowExpired().message, value, expected)
    field = FieldError("password", "too_short")  # the policy's own catalogue
    rendered_in(field.message, value, expected)
    rendered_in(lambda v: message_for("customer_not_found", v), value, expected)
    rendered_in(lambda v: violation_message("missing_digit", v), value, expected)
    transition = InvalidTransition(state="reviewing", event="select_bank", allowed=())
    rendered_in(transition.message, value, expected)


def test_fallback_is_english_and_mapped_tags_are_translated() -> None:
    """The fallback is the English text; a mapped tag gives the translation, not English."""
    english = message_for("flow_expired", "en")
    assert message_for("flow_expired", "de") == english
    assert message_for("flow_expired", None) == english
    assert message_for("flow_expired", "FI") == message_for("flow_expired", "fi") != english
    assert message_for("flow_expired", "sv_FI") == message_for("flow_expired", "sv") != english


@pytest.mark.parametrize(("value", "expected"), HOSTILE, ids=IDS)
def test_policy_falls_back(value: object, expected: str | None) -> None:
    """The policy's check, requirements and message render every value."""
    policy = PasswordPolicy.helen()
    rendered_in(lambda v: policy.check("qwerty", NOBODY, v), value, expected)
    rendered_in(policy.requirements, value, expected)
    rendered_in(lambda v: policy.message("too_short", v), value, expected)


@pytest.mark.parametrize(("value", "expected"), HOSTILE, ids=IDS)
def test_confirmation_email_and_bank_labels_fall_back(value: object, expected: str | None) -> None:
    """The confirmation email and the banks' labels render every value."""

    def email(language: object) -> object:
        return confirmation_email(
            flow_id="f",
            to="anna@example.fi",
            name="Anna",
            language=language,
            customer_service=Contact("customer_service", "09 617 8080"),
            district_heating=None,
        )

    rendered_in(email, value, expected)
    sparbanken = next(b for b in FINNISH_BANKS if b.id == "saastopankki")
    rendered_in(sparbanken.label, value, expected)


# -- the entry point that stores a language: refuse --------------------------------------------


@pytest.mark.parametrize(("value", "expected"), HOSTILE, ids=IDS)
def test_start_maps_or_refuses(ports: Ports, value: object, expected: str | None) -> None:
    """start keeps the mapped language, or raises UnsupportedLanguage (also via the service)."""
    service = RegistrationService(ports, InMemoryStorage.of(ports))
    if expected is None:
        with pytest.raises(UnsupportedLanguage) as info:
            RegistrationFlow.start(ports, language=value)
        assert len(info.value.language) <= 40
        assert info.value.message("sv") == "Välj svenska, finska eller engelska."
        with pytest.raises(UnsupportedLanguage):
            service.start(language=value)
    else:
        assert RegistrationFlow.start(ports, language=value).language == expected
        assert service.start(language=value).language == expected


def test_business_customers_hear_the_configured_number(ports: Ports) -> None:
    """start for a business customer names the operator's customer service number."""
    settings = Settings(customer_service=Contact("customer_service", "020 690 000"))
    with pytest.raises(UnsupportedCustomerType) as info:
        RegistrationFlow.start(attrs.evolve(ports, settings=settings), customer_type="business")
    assert "020 690 000" in info.value.message("fi")
    assert "asiakaspalvelu" in info.value.message("fi")


# -- the confirmation email's language ---------------------------------------------------------


def sent_after_registration(ports: Ports, flow_language: str, chosen: str) -> str:
    """Register Oskari Korhonen in a `flow_language` flow choosing `chosen` in phase 3."""
    flow = RegistrationFlow.start(ports, language=flow_language)
    redirect = flow.select_bank("nordea")
    flow.complete_identification(bank(ports).approve(redirect, personal_id="010594Y239M"))
    flow.confirm_personal_id()
    assert flow.prefilled is not None
    flow.submit_details(attrs.evolve(flow.prefilled, language=chosen), "Tulppaani84Xz")
    flow.approve(flow.review_token or "")
    assert deliver_pending_emails(ports) == 1
    assert isinstance(ports.mailer, RecordingMailer)
    (message,) = ports.mailer.sent
    assert message.html.startswith(f'<!doctype html><html lang="{message.language}">')
    return message.language


@pytest.mark.parametrize(
    ("flow_language", "chosen", "expected"),
    [("sv", "en", "en"), ("fi", "sv", "sv"), ("en", "fi", "fi"), ("sv", "", "sv")],
)
def test_confirmation_email_goes_out_in_the_chosen_language(
    ports: Ports, flow_language: str, chosen: str, expected: str
) -> None:
    """The language chosen in phase 3 wins; without a choice the flow's language is used."""
    assert sent_after_registration(ports, flow_language, chosen) == expected


# -- bank names --------------------------------------------------------------------------------


def test_swedish_bank_list_has_swedish_names() -> None:
    """The Swedish list says Mobilcertifikat, Sparbanken, S-Banken and POP Bank."""
    swedish = [b.label("sv") for b in FINNISH_BANKS]
    for name in ("Mobilcertifikat", "Sparbanken", "S-Banken", "POP Bank"):
        assert name in swedish
    finnish = [b.label("fi") for b in FINNISH_BANKS]
    assert finnish == [b.name for b in FINNISH_BANKS]
    assert "Mobiilivarmenne" not in swedish
    assert "S-Pankki" not in [b.label("en") for b in FINNISH_BANKS]


def test_bank_without_names_keeps_working() -> None:
    """Bank(id, name) still works and labels itself with its name in every language."""
    op = Bank("op", "OP")
    assert [op.label(language) for language in ("sv", "fi", "en", "de")] == ["OP"] * 4
    assert hash(op) == hash(Bank("op", "OP"))
    with pytest.raises(ValueError, match="unsupported languages"):
        Bank("op", "OP", names={"de": "OP"})
