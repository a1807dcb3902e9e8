"""Attacks on the bank callback and the broker's answers (issue 15, items 6 to 8), against the OIDC
adapter and a real OpenID provider configured like an FTN broker.

- A forged callback (another attempt's state, or none) is ignored: `CallbackMismatch`, nothing
  saved, a security event; the user's real attempt stays open and then completes.
- One attempt completes once, even when two requests complete it at the same moment and the
  broker answers a reused code twice.
- The personal identity code comes back in stdnum's normal form; broker answers are capped in
  size before they are parsed; the log names the real reason a token is refused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import attrs
import httpx
import pytest

from regflow import RegistrationFlow, RegistrationService, State
from regflow.adapters.oidc import OidcBankIdentity
from regflow.errors import (
    AdapterError,
    CallbackMismatch,
    ConcurrentUpdate,
    IdentificationFailed,
    InvalidTransition,
    RegflowError,
)
from regflow.model import BankCallback, BankRedirect, VerifiedPerson
from regflow.ports import Ports, Storage

if TYPE_CHECKING:
    from tests.integration.conftest import OidcProviderProcess

ANNA = VerifiedPerson("131052-308T", "Anna-Liisa", "Virtanen")
OIDC_LOGGER = "regflow.adapters.oidc"


def refusal(
    bank: OidcBankIdentity,
    callback: BankCallback,
    redirect: BankRedirect,
    caplog: pytest.LogCaptureFixture,
) -> tuple[str, str]:
    """The code of the `IdentificationFailed` that `complete` raises, and the adapter's log."""
    caplog.clear()
    with (
        caplog.at_level(logging.INFO, logger=OIDC_LOGGER),
        pytest.raises(IdentificationFailed) as failed,
    ):
        bank.complete(callback, redirect)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == OIDC_LOGGER)
    return failed.value.code, logged


# -- 15.6: a forged callback does not end the user's bank login ---------------------------------


def test_forged_callbacks_leave_the_attempt_open_through_the_service(
    ports: Ports,
    storage: Storage,
    oidc_broker: OidcProviderProcess,
    oidc_bank: OidcBankIdentity,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three forged GETs of the callback (the attacker's own answer, a wrong state, none) leave
    the stored flow awaiting the bank with no failure counted; the real answer then completes."""
    service = RegistrationService(attrs.evolve(ports, bank=oidc_bank), storage)
    flow = service.select_bank(service.start(language="fi").id, "nordea")
    assert flow.redirect is not None
    real = oidc_broker.login(flow.redirect)
    attackers = oidc_broker.login(oidc_bank.begin("nordea", flow_id="other", language="fi"))
    forged = [
        attackers,  # the attacker identified as themselves and sends the victim their callback
        BankCallback({**real.params, "state": "guessed"}),
        BankCallback({k: v for k, v in real.params.items() if k != "state"}),
    ]
    before = service.view(flow.id).snapshot()
    caplog.set_level(logging.INFO)
    for callback in forged:
        with pytest.raises(CallbackMismatch):
            service.complete_identification(flow.id, callback)
        stored = service.view(flow.id)
        assert stored.snapshot() == before
        assert (stored.state, stored.bank_failures, stored.last_error) == (
            State.awaiting_bank,
            0,
            None,
        )
    assert service.ports.security.counts() == {"state_mismatch": len(forged)}
    events = [r for r in caplog.records if r.name == "regflow.security"]
    assert [r.levelno for r in events] == [logging.WARNING] * len(forged)
    assert not [s for s in ("131052", real.params["code"], flow.redirect.state) if s in caplog.text]
    flow = service.complete_identification(flow.id, real)
    assert (flow.state, flow.personal_id, flow.bank_failures) == (
        State.confirming_personal_id,
        ANNA.personal_id,
        0,
    )


def test_only_the_real_attempts_failures_count(
    ports: Ports, oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """Forged callbacks between real failures add nothing: the flow ends only at the third
    failure reported for the user's own attempts."""
    flow = RegistrationFlow.start(attrs.evolve(ports, bank=oidc_bank), language="fi")
    for attempt in range(ports.settings.max_bank_failures):
        redirect = flow.select_bank("nordea")
        cancelled = oidc_broker.login(redirect, cancel=True)
        for _ in range(2):
            with pytest.raises(CallbackMismatch):
                flow.complete_identification(BankCallback({**cancelled.params, "state": "forged"}))
        flow.complete_identification(cancelled)
        assert flow.bank_failures == attempt + 1
    assert flow.state is State.needs_customer_service


# -- 15.7: one completion per attempt, even when the broker misbehaves -----------------------------


def race(complete: Callable[[], object], threads: int = 2) -> list[object]:
    """Run `complete` in `threads` threads released at once; what each returned or raised."""
    barrier = threading.Barrier(threads)
    results: list[object] = [None] * threads

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = complete()
        except RegflowError as error:
            results[index] = error

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    return results


def test_a_broker_answering_reused_codes_still_gives_one_identity(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """Two threads completing one callback at once, at a broker that answers a reused code
    again: one gets the person, the other ConcurrentUpdate, and a late one code_rejected."""
    redirect = oidc_bank.begin("nordea", flow_id="flow-1", language="fi")
    callback = oidc_broker.login(redirect)
    oidc_broker.answer_reused_codes()
    oidc_broker.plan_next_token(delay_ms=300)  # the first redemption is slow: the window is open
    results = race(lambda: oidc_bank.complete(callback, redirect))
    assert results.count(ANNA) == 1, results
    (other,) = [r for r in results if r != ANNA]
    assert isinstance(other, ConcurrentUpdate)
    with pytest.raises(IdentificationFailed) as late:
        oidc_bank.complete(callback, redirect)
    assert late.value.code == "code_rejected"


def test_the_broker_really_answers_reused_codes(
    oidc_broker: OidcProviderProcess, oidc_keys: object
) -> None:
    """The hook works: two adapters (two processes, say) redeeming one code both get the
    person, which is why the adapter must not rely on the broker to refuse the second."""
    redirect = None
    with oidc_broker.adapter() as first, oidc_broker.adapter() as second:
        redirect = first.begin("nordea", flow_id="flow-1", language="fi")
        callback = oidc_broker.login(redirect)
        oidc_broker.answer_reused_codes()
        assert first.complete(callback, redirect) == ANNA
        assert second.complete(callback, redirect) == ANNA


def test_a_failed_redemption_releases_the_attempt_for_a_retry(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """A broker that cannot answer (HTTP 503) releases the reservation: the same callback is
    completed on the next try, once."""
    redirect = oidc_bank.begin("nordea", flow_id="flow-1", language="fi")
    callback = oidc_broker.login(redirect)
    oidc_broker.plan_next_token(status=503)
    with pytest.raises(AdapterError):
        oidc_bank.complete(callback, redirect)
    assert oidc_bank.complete(callback, redirect) == ANNA


def test_racing_requests_through_the_service_identify_once(
    ports: Ports,
    storage: Storage,
    oidc_broker: OidcProviderProcess,
    oidc_bank: OidcBankIdentity,
) -> None:
    """Two requests with the same callback: one moves the flow on, the other gets
    ConcurrentUpdate (or, where the storage serialises requests, InvalidTransition: it found the
    flow moved on); the flow is identified once."""
    service = RegistrationService(attrs.evolve(ports, bank=oidc_bank), storage)
    flow = service.select_bank(service.start(language="fi").id, "nordea")
    assert flow.redirect is not None
    callback = oidc_broker.login(flow.redirect)
    oidc_broker.answer_reused_codes()
    oidc_broker.plan_next_token(delay_ms=300)
    results = race(lambda: service.complete_identification(flow.id, callback))
    moved = [r for r in results if isinstance(r, RegistrationFlow)]
    assert len(moved) == 1, results
    others = [r for r in results if r not in moved]
    assert all(isinstance(r, ConcurrentUpdate | InvalidTransition) for r in others), results
    stored = service.view(flow.id)
    assert (stored.state, stored.personal_id) == (State.confirming_personal_id, ANNA.personal_id)
    assert [e.event for e in stored.audit].count("complete_identification") == 1


# -- 15.8: OIDC edge cases ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "hyphen", ["\u2010", "\u2212", "\uff0d"], ids=["U+2010", "U+2212", "U+FF0D"]
)
def test_personal_id_comes_back_in_stdnums_normal_form(
    ports: Ports, oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity, hyphen: str
) -> None:
    """A code written with a Unicode hyphen and in lower case is returned as stdnum writes it,
    and the flow accepts what the adapter accepted."""
    code = f"131052{hyphen}308t"
    oidc_broker.plan_next_token(set={"hetu": code})
    redirect = oidc_bank.begin("nordea", flow_id="flow-1", language="fi")
    assert oidc_bank.complete(oidc_broker.login(redirect), redirect) == ANNA
    flow = RegistrationFlow.start(attrs.evolve(ports, bank=oidc_bank), language="fi")
    oidc_broker.plan_next_token(set={"hetu": code})
    flow.complete_identification(oidc_broker.login(flow.select_bank("nordea")))
    assert (flow.state, flow.personal_id) == (State.confirming_personal_id, ANNA.personal_id)


class _CountingStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, counter: list[int]) -> None:
        self._inner, self._counter = inner, counter

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._counter[0] += len(chunk)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class _CountingTransport(httpx.HTTPTransport):
    """Counts the response body bytes the client actually read, and notes when the last
    response's headers arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.received = [0]
        self.answered_at = 0.0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.answered_at = time.perf_counter()
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _CountingStream(response.stream, self.received)
        return response


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_huge_token_answer_is_refused_without_reading_it(
    oidc_broker: OidcProviderProcess, caplog: pytest.LogCaptureFixture, chunked: bool
) -> None:
    """A 20 MB token endpoint answer is refused at the 64 KiB cap, having read at most the cap
    and one more chunk (nothing, when its Content-Length says it is too large) and within
    milliseconds of its headers, as AdapterError saying it is too large. The broker has spent
    the code by then: a retry is code_rejected.

    The time is taken from the answer's headers: before them, the test broker spends a
    machine-dependent while building 20 MB of JSON, which is not the adapter's cost."""
    transport = _CountingTransport()
    oidc_bank = OidcBankIdentity(
        oidc_broker.config(), http_client_factory=lambda: httpx.Client(transport=transport)
    )
    redirect = oidc_bank.begin("nordea", flow_id="flow-1", language="fi")
    callback = oidc_broker.login(redirect)
    oidc_broker.plan_next_token(pad_bytes=20_000_000, chunked=chunked)
    caplog.set_level(logging.INFO, logger=OIDC_LOGGER)
    transport.received[0] = 0
    with pytest.raises(AdapterError) as raised:
        oidc_bank.complete(callback, redirect)
    elapsed = time.perf_counter() - transport.answered_at
    assert transport.received[0] <= (2 * 65536 if chunked else 0)
    assert "too large" in raised.value.detail
    assert "65536" in raised.value.detail
    assert "too large" in caplog.text
    assert elapsed < 0.2, f"refusing took {elapsed:.3f} s after the headers"
    with pytest.raises(IdentificationFailed) as retried:
        oidc_bank.complete(callback, redirect)
    assert retried.value.code == "code_rejected"
    oidc_bank.close()


def test_an_answer_under_the_cap_is_read(oidc_broker: OidcProviderProcess) -> None:
    """The cap is configurable: a 100 kB answer passes with max_response_bytes of 1 MiB."""
    with oidc_broker.adapter(max_response_bytes=1 << 20) as bank:
        redirect = bank.begin("nordea", flow_id="flow-1", language="fi")
        callback = oidc_broker.login(redirect)
        oidc_broker.plan_next_token(pad_bytes=100_000)
        assert bank.complete(callback, redirect) == ANNA


def test_a_token_over_josercfs_size_limit_is_logged_as_too_large(
    oidc_broker: OidcProviderProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """An ID token whose ciphertext is over joserfc's limit (64 KiB) is token_invalid, and the
    log says it is too large, not that it cannot be decrypted."""
    with oidc_broker.adapter(max_response_bytes=1 << 20) as bank:
        redirect = bank.begin("nordea", flow_id="flow-1", language="fi")
        callback = oidc_broker.login(redirect)
        oidc_broker.plan_next_token(set={"padding": "x" * 70_000})
        code, logged = refusal(bank, callback, redirect, caplog)
    assert code == "token_invalid"
    assert "the encrypted ID token is too large" in logged
    assert "cannot be decrypted" not in logged


def test_an_unknown_critical_header_is_logged_as_such(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity, caplog: pytest.LogCaptureFixture
) -> None:
    """A validly signed ID token with a crit header the adapter cannot honour is token_invalid,
    and the log names the header, not a signature that does not verify."""
    redirect = oidc_bank.begin("nordea", flow_id="flow-1", language="fi")
    callback = oidc_broker.login(redirect)
    oidc_broker.plan_next_token(header={"crit": ["urn:regflow:test"], "urn:regflow:test": True})
    code, logged = refusal(oidc_bank, callback, redirect, caplog)
    assert code == "token_invalid"
    assert "the ID token has an unsupported critical header" in logged
    assert "signature does not verify" not in logged
