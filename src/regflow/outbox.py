"""Delivering queued emails: the `Outbox` port, drained through the `Mailer` port.

`approve` queues the confirmation email in the same unit of work as the account, so a crash
between the commit and the send loses nothing: the next pass sends it, with the same message id.
A failed send is retried with exponential backoff; a message is marked sent only after the mailer
accepted it, so delivery is at least once, and the message id lets receivers drop duplicates.
Each message is claimed (leased) by one relay right before its send, so overlapping relays do
not both send it; only a crash between the server's acceptance and the mark resends one.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Final

import attrs

from regflow.errors import AdapterError

if TYPE_CHECKING:
    from regflow.ports import Clock, Mailer, Outbox, Ports

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


@attrs.frozen(init=False)
class OutboxPorts:
    """What the relay needs, when a whole `Ports` is more than it has: outbox, mailer, clock.

    `accounts=` is still accepted for `outbox=` (the name before the outbox was a port of its
    own); pass one of the two.
    """

    outbox: Outbox
    mailer: Mailer
    clock: Clock

    def __init__(
        self,
        *,
        mailer: Mailer,
        clock: Clock,
        outbox: Outbox | None = None,
        accounts: Outbox | None = None,
    ) -> None:
        chosen = outbox if outbox is not None else accounts
        if chosen is None or (outbox is not None and accounts is not None):
            msg = "OutboxPorts needs outbox=... (or, as before, accounts=...), not both"
            raise TypeError(msg)
        self.__attrs_init__(outbox=chosen, mailer=mailer, clock=clock)


DEFAULT_LEASE: Final = dt.timedelta(minutes=5)


def deliver_pending_emails(
    ports: Ports | OutboxPorts,
    *,
    limit: int = 100,
    backoff: Backoff = Backoff(),
    lease: dt.timedelta = DEFAULT_LEASE,
) -> int:
    """One pass over the outbox: send what is due, up to `limit`; returns how many were sent.

    Each message is claimed for `lease` just before its own send (`Outbox.claim_messages` with
    a limit of 1), never a whole batch up front: relays running side by side never send one
    message twice while each holds a live lease, however long the batch takes. `lease` must
    exceed one send (the mailer's timeout). If this relay dies mid-send, the message is due
    again when the lease ends and is resent with the same id. A message the mailer refuses
    (`AdapterError`) is rescheduled with `backoff`; the pass goes on with the others. An outage
    of the outbox itself propagates as `AdapterError`.

    The one case left at least once: the mail server accepted a message and the relay died (or
    lost the database) before `mark_sent` recorded it; the next relay sends it again, with the
    same message id, so that receivers can drop the duplicate.
    """
    sent = 0
    for _ in range(limit):
        now = ports.clock.now()
        claimed = ports.outbox.claim_messages(now, 1, now + lease)
        if not claimed:
            break
        (queued,) = claimed
        message = queued.message
        try:
            ports.mailer.send(message)
        except AdapterError as error:
            attempts = queued.attempts + 1
            retry_at = ports.clock.now() + backoff.delay(attempts)
            ports.outbox.mark_failed(message.message_id, str(error)[:200], retry_at)
            log.warning(
                "outbox: sending %s failed (attempt %d), retry at %s",
                message.message_id,
                attempts,
                retry_at.isoformat(),
            )
            continue
        ports.outbox.mark_sent(message.message_id, ports.clock.now())
        sent += 1
    return sent
