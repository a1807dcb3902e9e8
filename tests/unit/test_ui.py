"""regflow.ui: each state's page model comes from the flow and the table, in every language."""

from __future__ import annotations

import pytest

from regflow import Argon2Hasher, DetailsRejected, RegistrationFlow, State, ui
from regflow.adapters.memory import SimulatedBank
from regflow.bootstrap import demo_ports
from regflow.machine import Event, allowed_events
from regflow.model import ContactDetails
from regflow.ports import Ports

ANNA, MATTI, ERIK = "131052-308T", "240467-541E", "071290-873K"
PASSWORD = "Kes\u00e4-Aamu-2024-Xq"


@pytest.fixture
def ports() -> Ports:
    """Demo ports with a cheap hasher."""
    return demo_ports(hasher=Argon2Hasher.insecure_fast())


def _identified(ports: Ports, person: str = ANNA) -> RegistrationFlow:
    flow = RegistrationFlow.start(ports, language="en")
    redirect = flow.select_bank("nordea")
    assert isinstance(ports.bank, SimulatedBank)
    flow.complete_identification(ports.bank.approve(redirect, personal_id=person))
    return flow


def _reviewing(ports: Ports, person: str = ANNA) -> RegistrationFlow:
    flow = _identified(ports, person)
    flow.confirm_personal_id()
    assert flow.prefilled is not None
    flow.submit_details(flow.prefilled, PASSWORD)
    return flow


def test_phases_and_actions_follow_the_table(ports: Ports) -> None:
    """Phase n of 4 per state; the buttons are the table's user events (no select_bank button)."""
    flow = RegistrationFlow.start(ports, language="en")
    page = ui.page(flow)
    assert (page.phase, page.phase_label) == (1, "Phase 1 of 4")
    assert [a.event for a in page.actions] == ["bank_not_listed", "cancel"]
    assert {b.id for b in page.banks} >= {"nordea", "mobiilivarmenne"}
    flow = _reviewing(ports)
    page = ui.page(flow)
    assert page.phase == 4
    expected = {str(e) for e in allowed_events(State.reviewing)} - {"complete_identification"}
    assert {a.event for a in page.actions} == expected
    assert page.actions[0].event == "approve"
    assert page.actions[0].kind == "primary"
    assert page.review_token == flow.review_token


def test_phase_three_fields_are_marked_and_errors_listed(ports: Ports) -> None:
    """Required marks from the settings, every error per field, entered values kept, no password."""
    flow = _identified(ports)
    flow.confirm_personal_id()
    entered = ContactDetails(given_names="", email="nope", postal_code="12")
    with pytest.raises(DetailsRejected) as caught:
        flow.submit_details(entered, "short")
    page = ui.page(flow, rejected=caught.value, entered=entered, language="sv")
    fields = {f.name: f for f in page.fields}
    assert fields["given_names"].required
    assert not fields["marketing_consent"].required
    assert fields["email"].value == "nope"
    assert fields["email"].input_type == "email"
    assert fields["email"].autocomplete == "email"
    assert fields["postal_code"].error_codes == ("invalid_postal_code",)
    assert fields["password"].value == ""
    assert "too_short" in fields["password"].error_codes
    assert len(page.field_errors) == sum(len(f.errors) for f in page.fields)
    assert page.requirements
    assert fields["email"].label == "E-postadress"


def test_language_can_differ_from_the_flows(ports: Ports) -> None:
    """A web app's language switch renders the same flow in another language."""
    flow = _identified(ports)
    assert ui.page(flow).title == "Check your personal identity code"
    assert ui.page(flow, language="fi").title == "Tarkista henkilötunnuksesi"
    assert ui.page(flow, language="sv").summary[0].value == ANNA
    assert ui.page(flow, language="de").language == "en"  # falls back, never fails


def test_completed_with_district_heating_not_linked(ports: Ports) -> None:
    """Matti's outcome: the warning and the advisory's number and hours; username from account."""
    flow = _reviewing(ports, MATTI)
    outcome = flow.approve(flow.review_token or "")
    account = ports.accounts.find_by_id(outcome.account_id or "")
    page = ui.page(flow, account=account)
    assert page.phase is None
    assert page.terminal
    assert "district_heating_not_linked" in {m.code for m in page.messages}
    advisory = next(c for c in page.contacts if c.kind == "district_heating_advisory")
    assert (advisory.phone, advisory.hours) == ("09 617 8013", "8.30\u201316.00")
    assert page.username == "matti.meikalainen@example.fi"
    assert ui.page(flow).username is None  # without the account, no personal data


def test_customer_service_pages_carry_the_number(ports: Ports) -> None:
    """Every customer-service outcome names its reason and customer service's number."""
    flow = _identified(ports, ERIK)
    page = ui.page(flow)
    assert page.state is State.needs_customer_service
    assert [m.code for m in page.messages] == ["customer_not_found"]
    assert [c.phone for c in page.contacts] == ["09 617 8080"]
    assert page.actions == ()


def test_ended_pages_render_without_a_flow() -> None:
    """`ended` renders expired (or another terminal state) for a flow that is gone."""
    page = ui.ended(State.expired, "fi")
    assert page.title == "Rekisteröityminen vanheni"
    with pytest.raises(ValueError, match="terminal"):
        ui.ended(State.reviewing, "fi")


@pytest.mark.parametrize("language", ["sv", "fi", "en"])
def test_every_text_exists_in_every_language(language: str) -> None:
    """Each text of the UI model renders in each language (Swedish and Finnish translated)."""
    for key in ui.TEXTS:
        rendered = ui.text(key, language, phase=1, phases=4, bank="OP", hours="x", fields="y")
        assert rendered
        if language != "en":
            assert rendered != ui.TEXTS[key].format(
                phase=1, phases=4, bank="OP", hours="x", fields="y"
            ) or key in {"contact.hours"}, key


def test_every_user_event_has_a_label() -> None:
    """The table's user events all have an action text."""
    for event in Event:
        if event not in {Event.expire, Event.complete_identification}:
            assert f"action.{event}" in ui.TEXTS
