"""Contract records (`ContractLink`), the page's view of them and the "contracts linked" email."""

from __future__ import annotations

import datetime as dt

import pytest

from regflow import Contact, Contract, ContractKind, ContractLink, LinkStatus, Settings
from regflow.emails import contracts_linked_email, contracts_linked_message_id
from regflow.linking import account_contracts

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
HEATING = Contract(ContractKind.district_heating, "K-1", "DH-1")
CS = Contact("customer_service", "09 000 0000")
_DH, _E, _GAS = ContractKind.district_heating, ContractKind.electricity, ContractKind.gas
_EN_SUBJECT = "A contract was linked to your e-services account"


def test_a_linkable_contract_becomes_a_linked_record() -> None:
    """ContractLink.of: contract number and site make it linked, with no reason."""
    link = ContractLink.of(HEATING, since=NOW)
    assert (link.status, link.reason, link.missing) == (LinkStatus.linked, None, ())
    assert link.key == "linked:K-1"


@pytest.mark.parametrize(
    ("contract", "reason", "missing"),
    [
        (
            Contract(ContractKind.district_heating, "K-1", None),
            "district_heating_not_linked",
            ("site_id",),
        ),
        (
            Contract(ContractKind.electricity, None, "643"),
            "contract_not_linked",
            ("contract_number",),
        ),
        (Contract(ContractKind.gas), "contract_not_linked", ("contract_number", "site_id")),
    ],
)
def test_an_incomplete_contract_is_pending_with_its_reason(
    contract: Contract, reason: str, missing: tuple[str, ...]
) -> None:
    """Missing data makes it pending; district heating has its own reason."""
    link = ContractLink.of(contract, since=NOW)
    assert (link.status, link.reason, link.missing) == (LinkStatus.pending, reason, missing)


def test_records_check_themselves() -> None:
    """A pending record needs a known reason, a linked one its data and no reason; UTC only."""
    with pytest.raises(ValueError, match="reason"):
        ContractLink(ContractKind.gas, "G", "S", LinkStatus.pending, NOW)
    with pytest.raises(ValueError, match="reason"):
        ContractLink(ContractKind.gas, "G", "S", LinkStatus.linked, NOW, "contract_not_linked")
    with pytest.raises(ValueError, match="number and site"):
        ContractLink(ContractKind.gas, "G", None, LinkStatus.linked, NOW)
    with pytest.raises(ValueError, match="must be in"):
        ContractLink(ContractKind.gas, None, None, LinkStatus.pending, NOW, "because")
    with pytest.raises(ValueError, match="UTC"):
        ContractLink.of(HEATING, since=dt.datetime(2026, 3, 1))  # the point


def test_the_view_names_the_configured_contacts() -> None:
    """Pending district heating names the advisory, anything else customer service, as set."""
    advisory = Contact("district_heating_advisory", "09 111 1111", "9-15")
    settings = Settings(customer_service=CS, district_heating_advisory=advisory)
    links = [
        ContractLink.of(Contract(ContractKind.electricity, "E-1", "643"), since=NOW),
        ContractLink.of(Contract(ContractKind.district_heating, "K-1", None), since=NOW),
        ContractLink.of(Contract(ContractKind.gas, None, "G"), since=NOW),
    ]
    view = account_contracts(links, "acc-1", settings)
    assert [link.contract_number for link in view.linked] == ["E-1"]
    assert [(p.contract.kind, p.contact) for p in view.pending] == [
        (ContractKind.district_heating, advisory),
        (ContractKind.gas, CS),
    ]


@pytest.mark.parametrize(
    ("language", "subject", "line"),
    [
        ("fi", "Sopimus liitettiin sähköisen asioinnin tiliisi", "Kaukolämpö, sopimus K-1"),
        ("sv", "Ett avtal har kopplats till ditt konto för e-tjänsterna", "Fjärrvärme, avtal K-1"),
        (
            "en",
            "A contract was linked to your e-services account",
            "District heating, contract K-1",
        ),
        (
            "de",
            "A contract was linked to your e-services account",
            "District heating, contract K-1",
        ),
    ],
)
def test_the_email_speaks_the_users_language(language: str, subject: str, line: str) -> None:
    """Subject and contract lines in sv, fi or en; any other language gives English."""
    email = contracts_linked_email(
        account_id="acc-1",
        to="a@example.fi",
        name="Aino",
        language=language,
        contracts=[ContractLink.of(HEATING, since=NOW)],
        customer_service=CS,
    )
    assert email.subject == subject
    assert f"- {line}" in email.text
    assert f"<li>{line}</li>" in email.html
    assert "09 000 0000" in email.text
    assert email.language == (language if language != "de" else "en")


def test_the_email_escapes_what_it_shows() -> None:
    """Names and contract numbers from outside are escaped in the HTML part."""
    email = contracts_linked_email(
        account_id="acc-1",
        to="a@example.fi",
        name="<b>Aino</b>",
        language="en",
        contracts=[ContractLink.of(Contract(ContractKind.gas, "<G&1>", "S"), since=NOW)],
        customer_service=CS,
    )
    assert "<b>" not in email.html
    assert "&lt;G&amp;1&gt;" in email.html


def test_the_message_id_is_one_per_account_and_contracts() -> None:
    """The same account and numbers give the same id, in any order; no account id inside."""
    one = contracts_linked_message_id("acc-1", ["K-1", "G-1"])
    assert one == contracts_linked_message_id("acc-1", ["G-1", "K-1"])
    assert one != contracts_linked_message_id("acc-2", ["G-1", "K-1"])
    assert one != contracts_linked_message_id("acc-1", ["K-1"])
    assert "acc-1" not in one
