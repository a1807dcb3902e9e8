"""Phase 1 of the registration, through `RegistrationFlow`, with the OIDC adapter and a real
OpenID provider configured like an FTN broker.

A negative or unverifiable answer takes the table's row back to `choosing_bank` with its own code
in `flow.last_error` and counts towards the failure limit; a broker that cannot answer raises
`AdapterError` and leaves the flow exactly as it was. Callbacks that are not the pending
attempt's (forged ones) are in test_oidc_attacks.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs
import pytest

from regflow import RegistrationFlow, State
from regflow.adapters.oidc import OidcBankIdentity
from regflow.errors import AdapterError
from regflow.model import BankCallback, BankRedirect
from regflow.ports import Ports

if TYPE_CHECKING:
    from tests.integration.conftest import OidcProviderProcess

ANNA_PERSONAL_ID = "131052-308T"  # Anna-Liisa Virtanen, a demo customer with a linkable contract


def start(ports: Ports, bank: OidcBankIdentity) -> RegistrationFlow:
    """A new flow whose bank port is `bank`."""
    return RegistrationFlow.start(attrs.evolve(ports, bank=bank), language="fi")


def at_the_bank(flow: RegistrationFlow) -> BankRedirect:
    """Choose Nordea; the flow keeps the redirect it returns as the expected answer."""
    redirect = flow.select_bank("nordea")
    assert flow.state is State.awaiting_bank
    assert flow.redirect == redirect
    return redirect


def test_identification_moves_the_flow_to_confirming_personal_id(
    ports: Ports, oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """The full phase 1: choose a bank, identify there, and the flow holds the verified code."""
    flow = start(ports, oidc_bank)
    redirect = at_the_bank(flow)
    flow.complete_identification(oidc_broker.login(redirect))
    states = [flow.state]
    assert flow.personal_id == ANNA_PERSONAL_ID
    assert flow.last_error is None
    flow.confirm_personal_id()
    states.append(flow.state)
    assert states == [State.confirming_personal_id, State.entering_details]


def test_another_worker_finishes_from_the_snapshot(
    ports: Ports, oidc_broker: OidcProviderProcess
) -> None:
    """The PKCE verifier travels in the JSON snapshot: another worker completes the attempt."""
    with oidc_broker.adapter() as first, oidc_broker.adapter() as second:
        flow = start(ports, first)
        redirect = at_the_bank(flow)
        stored = json.loads(json.dumps(flow.snapshot()))
        restored = RegistrationFlow.restore(stored, attrs.evolve(ports, bank=second))
        restored.complete_identification(oidc_broker.login(redirect))
        assert restored.state is State.confirming_personal_id


Scenario = Callable[["OidcProviderProcess", OidcBankIdentity, Ports, BankRedirect], BankCallback]


def replayed_code(
    broker: OidcProviderProcess, bank: OidcBankIdentity, ports: Ports, redirect: BankRedirect
) -> BankCallback:
    """A code already redeemed by another flow is injected into this one."""
    other = start(ports, bank)
    used = broker.login(at_the_bank(other))
    other.complete_identification(used)
    assert other.state is State.confirming_personal_id
    broker.login(redirect)  # this flow's own answer never arrives
    return BankCallback({**used.params, "state": redirect.state})


def planned(**plan: object) -> Scenario:
    """The broker issues the next ID token altered as `plan` says."""

    def scenario(
        broker: OidcProviderProcess, _bank: OidcBankIdentity, _ports: Ports, redirect: BankRedirect
    ) -> BankCallback:
        callback = broker.login(redirect)
        broker.plan_next_token(**plan)
        return callback

    return scenario


def as_account(account: str, *, cancel: bool = False) -> Scenario:
    """The user identifies at the bank as `account` (or cancels)."""

    def scenario(
        broker: OidcProviderProcess, _bank: OidcBankIdentity, _ports: Ports, redirect: BankRedirect
    ) -> BankCallback:
        return broker.login(redirect, account=account, cancel=cancel)

    return scenario


FAILURES: dict[str, tuple[Scenario, str]] = {
    "replayed-code": (replayed_code, "code_rejected"),
    "wrong-nonce": (planned(set={"nonce": "another-attempts-nonce"}), "nonce_mismatch"),
    "expired-token": (planned(shift={"exp": -4000, "iat": -4200}), "token_expired"),
    "foreign-key": (planned(sign_with="foreign"), "signature_invalid"),
    "wrong-audience": (planned(set={"aud": "another-service"}), "audience_mismatch"),
    "personal-id-missing": (as_account("no-personal-id"), "personal_id_missing"),
    "invalid-personal-id": (as_account("bad-personal-id"), "invalid_personal_id"),
    "cancelled-at-bank": (as_account("anna", cancel=True), "identification_cancelled"),
}


@pytest.mark.parametrize(("scenario", "code"), FAILURES.values(), ids=FAILURES.keys())
def test_failed_identification_returns_to_choosing_bank(
    ports: Ports,
    oidc_broker: OidcProviderProcess,
    oidc_bank: OidcBankIdentity,
    scenario: Scenario,
    code: str,
) -> None:
    """Each failure returns the flow to choosing_bank with its own code, counted once."""
    flow = start(ports, oidc_bank)
    redirect = at_the_bank(flow)
    flow.complete_identification(scenario(oidc_broker, oidc_bank, ports, redirect))
    assert flow.state is State.choosing_bank
    assert flow.last_error == code
    assert flow.bank_failures == 1
    assert flow.redirect is None
    assert flow.personal_id is None


def test_third_failure_ends_in_customer_service(
    ports: Ports, oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """Failures of different kinds add up: the third ends the flow in customer service."""
    flow = start(ports, oidc_bank)
    for scenario, code in (FAILURES["cancelled-at-bank"], FAILURES["wrong-nonce"]):
        flow.complete_identification(scenario(oidc_broker, oidc_bank, ports, at_the_bank(flow)))
        assert (flow.state, flow.last_error) == (State.choosing_bank, code)
    scenario, _ = FAILURES["expired-token"]
    flow.complete_identification(scenario(oidc_broker, oidc_bank, ports, at_the_bank(flow)))
    assert flow.state is State.needs_customer_service
    assert flow.outcome is not None
    assert flow.outcome.reason == "identification_failed"


def test_user_can_retry_after_a_failure(
    ports: Ports, oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """After cancelling at the bank the user chooses again and identifies; the count stays."""
    flow = start(ports, oidc_bank)
    flow.complete_identification(oidc_broker.login(at_the_bank(flow), cancel=True))
    flow.complete_identification(oidc_broker.login(at_the_bank(flow)))
    assert flow.state is State.confirming_personal_id
    assert flow.bank_failures == 1


def test_slow_broker_raises_and_leaves_the_flow_unchanged(
    ports: Ports, oidc_broker: OidcProviderProcess
) -> None:
    """A timeout at the broker raises AdapterError and leaves the flow as it was, awaiting_bank."""
    with oidc_broker.adapter(timeout=0.3) as bank:
        flow = start(ports, bank)
        callback = oidc_broker.login(at_the_bank(flow))
        before = flow.snapshot()
        oidc_broker.plan_next_token(delay_ms=1500)
        with pytest.raises(AdapterError):
            flow.complete_identification(callback)
        assert flow.snapshot() == before
        assert flow.state is State.awaiting_bank
        assert flow.bank_failures == 0


def test_broker_gone_raises_and_leaves_the_flow_unchanged(
    ports: Ports, oidc_spare_provider: OidcProviderProcess
) -> None:
    """A broker gone before the code is redeemed raises AdapterError; the flow is unchanged."""
    with oidc_spare_provider.adapter() as bank:
        flow = start(ports, bank)
        callback = oidc_spare_provider.login(at_the_bank(flow))
        before = flow.snapshot()
        oidc_spare_provider.stop()
        with pytest.raises(AdapterError):
            flow.complete_identification(callback)
        assert flow.snapshot() == before
        flow.choose_other_bank()
        assert flow.state is State.choosing_bank


def test_unreachable_broker_keeps_the_flow_choosing_a_bank(
    ports: Ports, oidc_broker: OidcProviderProcess, oidc_dead_issuer: str
) -> None:
    """With the broker unreachable, choosing a bank raises AdapterError and changes nothing."""
    with oidc_broker.adapter(issuer=oidc_dead_issuer) as bank:
        flow = start(ports, bank)
        before = flow.snapshot()
        with pytest.raises(AdapterError):
            flow.select_bank("nordea")
        assert flow.snapshot() == before
        assert flow.state is State.choosing_bank
