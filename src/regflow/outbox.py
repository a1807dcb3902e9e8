"""Delivering queued emails: the account store's outbox, drained through the `Mailer` port.

`approve` queues the confirmation email in the same unit of work as the account, so a crash
between the commit and the send loses nothing: the next pass sends it, with the same message id.
A failed send is retried with exponential backoff; a message is marked sent only after the mailer
accepted it, so delivery is at least once, and the message id lets receivers drop duplicates.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Final

import attrs

from regflow.errors import AdapterError

if TYPE_CHECKING:
    from regflow.ports import AccountStore, Clock, Mailer, Ports

log = logging.getLogger(__name__)


@attrs.frozen
class Backoff:
    """Exponential backoff: `first` after the first failure, doubling, at most `limit`."""

    first: dt.timedelta = dt.timedelta(seconds=30)
    limit: dt.timedelta = dt.timedelta(hours=1)

    def delay(self, attempts: int) -> dt.timedelta:
        """The wait after `attempts` failed attempts (1 or more)."""
        if self.first >= self.limit:
            return self.limit
        # cap the exponent where first * 2**n passes the limit, so no overflow is possible
        cap = (self.limit // self.first).bit_length()
        exponent = min(max(attempts - 1, 0), cap)
        return min(self.first * (1 << exponent), self.limit)


@attrs.frozen
class OutboxPorts:
    """What the relay needs, when a whole `Ports` is more than it has: store, mailer, clock."""

    accounts: AccountStore
    mailer: Mailer
    clock: Clock


DEFAULT_LEASE: Final = dt.timedelta(minutes=5)


def deliver_pending_emails(
    ports: Ports | OutboxPorts,
    *,
    limit: int = 100,
    backoff: Backoff = Backoff(),
    lease: dt.timedelta = DEFAULT_LEASE,
) -> int:
    """One pass over the outbox: send what is due; returns how many were sent.

    The pass claims the due messages for `lease` first (`AccountStore.claim_messages`), so
    relays running side by side never send one message at the same time; if this relay dies
    mid-send, the message is due again when the lease ends and is resent with the same id.
    `lease` must exceed the mailer's timeout. A message the mailer refuses (`AdapterError`)
    is rescheduled with `backoff`; the pass goes on with the others. An outage of the account
    store itself propagates as `AdapterError`.
    """
    now = ports.clock.now()
    sent = 0
    for queued in ports.accounts.claim_messages(now, limit, now + lease):
        message = queued.message
        try:
            ports.mailer.send(message)
        except AdapterError as error:
            attempts = queued.attempts + 1
            retry_at = ports.clock.now() + backoff.delay(attempts)
            ports.accounts.mark_failed(message.message_id, str(error)[:200], retry_at)
            log.warning(
                "outbox: sending %s failed (attempt %d), retry at %s",
                message.message_id,
                attempts,
                retry_at.isoformat(),
            )
            continue
        ports.accounts.mark_sent(message.message_id, ports.clock.now())
        sent += 1
    return sent
