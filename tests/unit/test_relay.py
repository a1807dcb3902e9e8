"""The outbox relay on the in-memory stores: retries, backoff, leases, the loop."""

from __future__ import annotations

import argparse
import datetime as dt
import threading
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
from regflow.adapters.memory import InMemoryAccountStore, ManualClock, RecordingMailer
from regflow.emails import confirmation_message_id
from regflow.outbox import OutboxPorts
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


def test_relay_loop_delivers_until_stopped(ports: Ports) -> None:
    """The loop delivers what is queued, survives a store outage, and stops when told."""
    flow_in(State.completed, ports)
    store(ports).outage = True
    stop = threading.Event()
    total: list[int] = []
    thread = threading.Thread(
        target=lambda: total.append(relay_loop(ports, stop=stop, interval=0.01))
    )
    thread.start()
    threading.Event().wait(0.05)  # a few failing passes
    assert mailer(ports).sent == []
    store(ports).outage = False
    for _ in range(200):
        if mailer(ports).sent:
            break
        threading.Event().wait(0.01)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert total == [1]
    assert len(mailer(ports).sent) == 1


def test_relay_loop_drains_full_batches_at_once_and_counts_them_all(ports: Ports) -> None:
    """A full batch means more may be waiting: the loop goes on without its pause, and returns
    the sum of every pass."""
    for n in range(3):
        message = EmailMessage(f"m{n}", f"p{n}@example.fi", "Subject", "Text", "<p>Text</p>", "fi")
        store(ports).outbox[message.message_id] = OutboxMessage(message)
    assert len(ports.outbox.pending_messages(clock(ports).now(), 10)) == 3
    stop = threading.Event()
    total: list[int] = []
    # an hour's pause: only passes that found a full batch can follow each other in time
    thread = threading.Thread(
        target=lambda: total.append(relay_loop(ports, stop=stop, interval=3600, limit=1))
    )
    thread.start()
    for _ in range(300):
        if len(mailer(ports).sent) == 3:
            break
        threading.Event().wait(0.01)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert total == [3]
    assert len(mailer(ports).sent) == 3


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
    stop = threading.Event()
    thread = threading.Thread(target=lambda: relay_loop(ports, stop=stop, interval=0.01))
    with caplog.at_level("WARNING", logger="regflow.relay"):
        thread.start()
        threading.Event().wait(0.05)  # a few failing passes
        stop.set()
        thread.join(5)
    failures = [r for r in caplog.records if r.name == "regflow.relay"]
    assert len(failures) >= 2
    assert all(record.exc_info is None for record in failures)
    assert "no such table" in failures[0].getMessage()
    assert "regflow init-db" in failures[0].getMessage()
