"""The outbox relay on the in-memory stores: retries, backoff, leases, the loop."""

from __future__ import annotations

import argparse
import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from regflow import (
    Backoff,
    EmailMessage,
    OutboxMessage,
    Ports,
    SchemaMissing,
    State,
    deliver_pending_emails,
    relay,
)
from regflow.adapters.memory import (
    InMemoryAccountStore,
    InMemoryFlowStore,
    ManualClock,
    RecordingMailer,
)
from regflow.emails import confirmation_message_id
from regflow.login import LoginThrottle
from regflow.outbox import DEFAULT_LEASE, OutboxPorts
from regflow.ports import LoginAttempt
from regflow.relay import relay_loop
from tests.flows import clock, flow_in


def mailer(ports: Ports) -> RecordingMailer:
    """The recording mailer of demo ports."""
    assert isinstance(ports.mailer, RecordingMailer)
    return ports.mailer


def store(ports: Ports) -> InMemoryAccountStore:
    """The in-memory account store of demo ports."""
    assert isinstance(ports.accounts, InMemoryAccountStore)
    return ports.accounts


def test_refused_email_is_retried_with_backoff(ports: Ports) -> None:
    """A refused send is counted and retried after the backoff, then delivered once."""
    flow_in(State.completed, ports)
    mailer(ports).outage = True
    backoff = Backoff(first=dt.timedelta(seconds=30))
    assert deliver_pending_emails(ports, backoff=backoff) == 0
    (queued,) = store(ports).outbox.values()
    assert queued.attempts == 1
    assert queued.next_attempt_at == clock(ports).now() + dt.timedelta(seconds=30)
    assert queued.last_error.startswith("mailer")
    mailer(ports).outage = False
    clock(ports).advance(dt.timedelta(seconds=29))
    assert deliver_pending_emails(ports, backoff=backoff) == 0
    clock(ports).advance(dt.timedelta(seconds=1))
    assert deliver_pending_emails(ports, backoff=backoff) == 1
    assert deliver_pending_emails(ports, backoff=backoff) == 0
    assert len(mailer(ports).sent) == 1


def test_a_delivered_message_is_never_sent_again(ports: Ports) -> None:
    """The pass records each delivery: once the claim's lease is long over, nothing is resent."""
    flow_in(State.completed, ports)
    assert deliver_pending_emails(ports) == 1
    clock(ports).advance(dt.timedelta(days=1))
    assert deliver_pending_emails(ports) == 0
    assert len(mailer(ports).sent) == 1


def test_backoff_doubles_up_to_its_limit() -> None:
    """Each failure doubles the wait, never beyond the limit."""
    backoff = Backoff(first=dt.timedelta(seconds=30), limit=dt.timedelta(minutes=5))
    delays = [backoff.delay(n).total_seconds() for n in range(1, 7)]
    assert delays == [30, 60, 120, 240, 300, 300]


def test_message_claimed_by_a_dead_relay_is_resent_after_its_lease(ports: Ports) -> None:
    """A relay that claimed a message and died holds it for its lease; then another sends it."""
    flow = flow_in(State.completed, ports)
    lease = dt.timedelta(minutes=5)
    now = clock(ports).now()
    # what a relay does first; this one dies before sending or marking anything
    assert len(ports.outbox.claim_messages(now, 100, now + lease)) == 1
    assert deliver_pending_emails(ports) == 0
    clock(ports).advance(lease)
    assert deliver_pending_emails(ports) == 1
    assert deliver_pending_emails(ports) == 0
    (sent,) = mailer(ports).sent
    assert sent.message_id == confirmation_message_id(flow.id)


class StopAfter(threading.Event):
    """A stop event for running `relay_loop` on the test's own thread: each pause of the loop
    is recorded instead of waited, `on_pause` sees how many have been taken, and the event is
    set when `pauses` pauses have been asked for."""

    def __init__(self, pauses: int, on_pause: Callable[[int], None] = lambda _: None) -> None:
        super().__init__()
        self.pauses: list[float | None] = []
        self._limit = pauses
        self._on_pause = on_pause

    def wait(self, timeout: float | None = None) -> bool:
        self.pauses.append(timeout)
        self._on_pause(len(self.pauses))
        if len(self.pauses) >= self._limit:
            self.set()
        return self.is_set()


def test_relay_loop_delivers_until_stopped(ports: Ports) -> None:
    """The loop survives a store outage (pausing `interval` after each failed pass), delivers
    what is queued once the store is back, and stops when told."""
    flow_in(State.completed, ports)
    store(ports).outage = True

    def recover(pauses: int) -> None:
        if pauses == 2:  # two failed passes
            assert mailer(ports).sent == []
            store(ports).outage = False

    stop = StopAfter(3, recover)
    assert relay_loop(ports, stop=stop, interval=0.25) == 1
    assert stop.pauses == [0.25, 0.25, 0.25]  # two outages, then a batch that was not full
    assert len(mailer(ports).sent) == 1


def test_relay_loop_returns_at_once_when_already_stopped(ports: Ports) -> None:
    """A stop that is set before the loop starts means no pass at all."""
    flow_in(State.completed, ports)
    stop = StopAfter(1)
    stop.set()
    assert relay_loop(ports, stop=stop) == 0
    assert mailer(ports).sent == []
    assert stop.pauses == []


def test_relay_loop_drains_full_batches_at_once_and_counts_them_all(
    ports: Ports, caplog: pytest.LogCaptureFixture
) -> None:
    """A full batch means more may be waiting: the loop goes on without its pause, logs each
    pass that sent something, and returns the sum of every pass."""
    for n in range(3):
        message = EmailMessage(f"m{n}", f"p{n}@example.fi", "Subject", "Text", "<p>Text</p>", "fi")
        store(ports).outbox[message.message_id] = OutboxMessage(message)
    assert len(ports.outbox.pending_messages(clock(ports).now(), 10)) == 3
    stop = StopAfter(1)
    with caplog.at_level("INFO", logger="regflow.relay"):
        assert relay_loop(ports, stop=stop, interval=3600, limit=1) == 3
    # three full batches of one without a pause, then an empty pass and its pause
    assert stop.pauses == [3600]
    assert len(mailer(ports).sent) == 3
    assert [r.getMessage() for r in caplog.records if r.name == "regflow.relay"] == [
        "relay: sent 1"
    ] * 3


def test_relay_loop_pauses_after_a_batch_short_of_the_limit(ports: Ports) -> None:
    """A pass that sent fewer than `limit` messages is followed by the pause."""
    flow_in(State.completed, ports)
    stop = StopAfter(1)
    assert relay_loop(ports, stop=stop, interval=7, limit=2) == 1
    assert stop.pauses == [7]


class RecordingOutbox(InMemoryAccountStore):
    """An in-memory outbox that records the lease of every claim (one claim per message)."""

    def __init__(self) -> None:
        super().__init__()
        self.leases: list[dt.timedelta] = []

    def claim_messages(
        self, now: dt.datetime, limit: int, lease_until: dt.datetime
    ) -> list[OutboxMessage]:
        self.leases.append(lease_until - now)
        return super().claim_messages(now, limit, lease_until)


def test_relay_loop_passes_its_batch_lease_and_backoff_on() -> None:
    """A pass claims at most `limit` messages, each for `lease`, and reschedules a refused send
    after `backoff`; by default 100 messages, the outbox's default lease, a 5-second pause."""
    outbox = RecordingOutbox()
    for n in range(101):
        message = EmailMessage(f"m{n}", "p@example.fi", "Subject", "Text", "<p>Text</p>", "fi")
        outbox.outbox[message.message_id] = OutboxMessage(message)
    mailer = RecordingMailer()
    mailer.outage = True
    clock = ManualClock()
    ports = OutboxPorts(outbox=outbox, mailer=mailer, clock=clock)
    stop = StopAfter(1)
    assert relay_loop(ports, stop=stop) == 0
    assert (outbox.leases, stop.pauses) == ([DEFAULT_LEASE] * 100, [5.0])
    assert outbox.outbox["m0"].next_attempt_at == clock.now() + Backoff().delay(1)
    outbox.leases.clear()
    clock.advance(dt.timedelta(days=1))
    backoff = Backoff(first=dt.timedelta(seconds=7), limit=dt.timedelta(seconds=7))
    lease = dt.timedelta(seconds=42)
    assert relay_loop(ports, stop=StopAfter(1), limit=3, lease=lease, backoff=backoff) == 0
    assert outbox.leases == [lease] * 3
    assert outbox.outbox["m0"].next_attempt_at == clock.now() + dt.timedelta(seconds=7)


def test_relay_loop_purges_expired_flows_each_pass(
    ports: Ports, caplog: pytest.LogCaptureFixture
) -> None:
    """With `purge_flows`, each pass deletes the flows past their expiry and logs how many."""
    now = clock(ports).now()
    flows = InMemoryFlowStore()
    flows.save("gone", {}, expected_version=None, expires_at=now - dt.timedelta(seconds=1))
    flows.save("kept", {}, expected_version=None, expires_at=now + dt.timedelta(seconds=1))
    with caplog.at_level("INFO", logger="regflow.relay"):
        assert relay_loop(ports, stop=StopAfter(1), purge_flows=flows) == 0
    assert len(flows) == 1
    assert flows.load("kept").version == 1
    assert [r.getMessage() for r in caplog.records if r.name == "regflow.relay"] == [
        "relay: purged 1 expired flows"
    ]
    caplog.clear()
    with caplog.at_level("INFO", logger="regflow.relay"):
        relay_loop(ports, stop=StopAfter(1), purge_flows=flows)
    assert [r for r in caplog.records if r.name == "regflow.relay"] == []  # nothing to say


def test_relay_loop_purges_ended_rate_limit_windows_each_pass(
    ports: Ports, caplog: pytest.LogCaptureFixture
) -> None:
    """With `purge_rate_limits`, each pass calls it and logs how many windows it deleted, when
    it deleted any."""
    left = [2, 0]

    def purge() -> int:
        return left.pop(0)

    for expected in (["relay: purged 2 ended rate-limit windows"], []):
        caplog.clear()
        with caplog.at_level("INFO", logger="regflow.relay"):
            assert relay_loop(ports, stop=StopAfter(1), purge_rate_limits=purge) == 0
        assert [r.getMessage() for r in caplog.records if r.name == "regflow.relay"] == expected
    assert left == []


def test_relay_loop_purges_old_login_attempts_each_pass(
    ports: Ports, caplog: pytest.LogCaptureFixture
) -> None:
    """With `purge_logins`, each pass deletes the failures older than the default throttle's
    window (a day) and the successes older than its `remember` (30 days), no younger ones."""
    now = clock(ports).now()
    throttle = LoginThrottle()
    attempts = InMemoryAccountStore()
    log = attempts.login_attempt_log
    second = dt.timedelta(seconds=1)
    log[1] = LoginAttempt("k", "a", now - throttle.window - second)  # old failure: purged
    log[2] = LoginAttempt("k", "a", now - throttle.window + second)  # young failure
    log[3] = LoginAttempt("k", "a", now - throttle.remember - second, succeeded=True)  # purged
    log[4] = LoginAttempt("k", "a", now - throttle.remember + second, succeeded=True)
    log[5] = LoginAttempt("k", "a", now - throttle.window - second, succeeded=True)  # known
    with caplog.at_level("INFO", logger="regflow.relay"):
        assert relay_loop(ports, stop=StopAfter(1), purge_logins=attempts) == 0
    assert sorted(log) == [2, 4, 5]
    assert [r.getMessage() for r in caplog.records if r.name == "regflow.relay"] == [
        "relay: purged 2 old failed logins"
    ]
    caplog.clear()
    with caplog.at_level("INFO", logger="regflow.relay"):
        relay_loop(ports, stop=StopAfter(1), purge_logins=attempts)
    assert sorted(log) == [2, 4, 5]
    assert [r for r in caplog.records if r.name == "regflow.relay"] == []


def test_relay_loop_lets_bugs_through(ports: Ports) -> None:
    """An error that is not an outage ends the loop instead of being swallowed."""

    class Broken(RecordingMailer):
        def send(self, message: EmailMessage) -> None:
            raise ZeroDivisionError

    flow_in(State.completed, ports)
    broken = OutboxPorts(outbox=ports.outbox, mailer=Broken(), clock=ports.clock)
    with pytest.raises(ZeroDivisionError):
        relay_loop(broken, stop=threading.Event(), interval=0.01)


def test_relay_needs_only_a_store_a_mailer_and_a_clock() -> None:
    """A relay pass runs on OutboxPorts: no bank, directory or policy needed."""
    ports = OutboxPorts(
        outbox=InMemoryAccountStore(), mailer=RecordingMailer(), clock=ManualClock()
    )
    assert deliver_pending_emails(ports) == 0


def test_relay_command_needs_a_sender(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`regflow relay` without a sender address stops with exit code 2 and sends nothing."""
    monkeypatch.delenv("REGFLOW_MAIL_FROM", raising=False)
    parser = argparse.ArgumentParser()
    relay.add_arguments(parser)
    args = parser.parse_args(["--once", "--database-url", f"sqlite:///{tmp_path / 'r.sqlite3'}"])
    assert relay.run(args) == 2


def test_the_pass_drains_the_outbox_port_not_the_account_store(ports: Ports) -> None:
    """With an outbox of its own, a pass sends what that outbox holds and leaves accounts be."""
    flow_in(State.completed, ports)  # queues one email in the demo account store
    separate = InMemoryAccountStore()
    assert deliver_pending_emails(attrs.evolve(ports, outbox=separate)) == 0
    assert mailer(ports).sent == []
    assert deliver_pending_emails(ports) == 1


def test_outbox_ports_still_take_accounts() -> None:
    """OutboxPorts(accounts=...) is the outbox, as before; passing both or neither is refused."""
    outbox = InMemoryAccountStore()
    assert OutboxPorts(accounts=outbox, mailer=RecordingMailer(), clock=ManualClock()).outbox is (
        outbox
    )
    with pytest.raises(TypeError, match="not both"):
        OutboxPorts(outbox=outbox, accounts=outbox, mailer=RecordingMailer(), clock=ManualClock())
    with pytest.raises(TypeError, match="outbox="):
        OutboxPorts(mailer=RecordingMailer(), clock=ManualClock())


def test_relay_loop_logs_which_database_failure_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A pass on a database without the tables logs `no such table` and `regflow init-db`,
    with no traceback, and the loop tries again."""

    class NoTables(InMemoryAccountStore):
        def claim_messages(
            self, now: dt.datetime, limit: int, lease_until: dt.datetime
        ) -> list[OutboxMessage]:
            raise SchemaMissing("accounts", "regflow_outbox")

    ports = OutboxPorts(outbox=NoTables(), mailer=RecordingMailer(), clock=ManualClock())
    stop = StopAfter(2)
    with caplog.at_level("WARNING", logger="regflow.relay"):
        assert relay_loop(ports, stop=stop, interval=0.5) == 0
    assert stop.pauses == [0.5, 0.5]
    failures = [r for r in caplog.records if r.name == "regflow.relay"]
    assert len(failures) == 2
    assert all(record.exc_info is None for record in failures)
    assert "no such table" in failures[0].getMessage()
    assert "regflow init-db" in failures[0].getMessage()
