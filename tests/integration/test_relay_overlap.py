"""Two relays at once, each with a lease shorter than its batch: every email is delivered once.

The relays are threads over one storage of each kind (in memory, SQLite, PostgreSQL), on the
real clock, with a mailer slow enough that a whole batch outlasts the lease many times over.
Claiming each message just before its send keeps a message with one relay while its lease lives.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time

import pytest

from regflow import ContactDetails, EmailMessage, NewAccount
from regflow.adapters.memory import RecordingMailer
from regflow.clock import SystemClock
from regflow.outbox import OutboxPorts, deliver_pending_emails
from regflow.ports import Storage

pytestmark = pytest.mark.slow

EMAILS = 40
LEASE = dt.timedelta(seconds=0.4)  # far longer than one send, even on a busy machine
SEND_SECONDS = 0.03  # 40 sends take 1.2 s: three leases


class SlowMailer(RecordingMailer):
    """Accepts every message after a pause, like a slow SMTP server; shared by both relays."""

    def send(self, message: EmailMessage) -> None:
        time.sleep(SEND_SECONDS)
        super().send(message)


def queue_emails(storage: Storage, n: int) -> None:
    """`n` accounts, each with its confirmation email queued, as `approve` leaves them."""
    created = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    for i in range(n):
        email = f"person{i}@example.fi"
        account = NewAccount(
            account_id=f"acc-{i}",
            email=email,
            personal_id=f"pid-{i}",
            customer_number=f"c{i}",
            password_hash="$argon2id$not-a-real-hash",
            profile=ContactDetails(given_names="Aino", family_name="Testinen", email=email),
            linked_contracts=(),
            created_at=created + i * dt.timedelta(milliseconds=1),
        )
        message = EmailMessage(
            message_id=f"registration-confirmation.flow{i}",
            to=email,
            subject="Tilisi on valmis",
            text="Hei Aino,\n",
            html="<p>Hei Aino,</p>",
        )
        with storage.unit_of_work() as uow:
            uow.accounts.create(account, message)


def run_two_relays(storage: Storage, mailer: RecordingMailer) -> None:
    """Two relays start together and pass over the outbox until nothing is left unsent."""
    clock = SystemClock()
    ports = OutboxPorts(outbox=storage.outbox, mailer=mailer, clock=clock)
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def relay() -> None:
        try:
            start.wait(10)
            deadline = time.monotonic() + 60
            # pending at a far time: also what the other relay holds under its lease
            while storage.outbox.pending_messages(clock.now() + dt.timedelta(days=1), 1):
                assert time.monotonic() < deadline, "the relays did not drain the outbox"
                deliver_pending_emails(ports, limit=100, lease=LEASE)
                time.sleep(0.005)
        except BaseException as error:  # reported by the test, not lost in the thread
            failures.append(error)

    threads = [threading.Thread(target=relay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []


def test_two_relays_with_short_leases_deliver_each_email_once(storage: Storage) -> None:
    """40 emails, two overlapping relays, a lease a third of a batch: 40 deliveries."""
    queue_emails(storage, EMAILS)
    mailer = SlowMailer()
    run_two_relays(storage, mailer)
    deliveries = collections.Counter(message.message_id for message in mailer.sent)
    duplicates = {message_id: n for message_id, n in deliveries.items() if n > 1}
    assert duplicates == {}
    assert len(deliveries) == EMAILS
    assert len(mailer.sent) == EMAILS
