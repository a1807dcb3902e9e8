"""The `Outbox` port's half of `SqlAccountStore`: the queued emails, their leases and deliveries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from regflow.adapters.sql._errors import translate
from regflow.adapters.sql._schema import outbox_table
from regflow.adapters.sql._unit import Scope
from regflow.model import EmailMessage, OutboxMessage


class OutboxMethods:
    """`pending_messages`, `claim_messages`, `mark_sent` and `mark_failed` on SQL."""

    _scope: Scope

    def pending_messages(self, now: dt.datetime, limit: int) -> Sequence[OutboxMessage]:
        """Unsent messages due at `now`, oldest first."""
        with translate("accounts"), self._scope.reading() as connection:
            rows = connection.execute(_due_messages(now, limit)).all()
        return [_outbox_message(row) for row in rows]

    def claim_messages(
        self, now: dt.datetime, limit: int, lease_until: dt.datetime
    ) -> Sequence[OutboxMessage]:
        """Lease up to `limit` due messages; PostgreSQL skips rows another relay is claiming."""
        with translate("accounts"), self._scope.writing() as connection:
            rows = connection.execute(
                _due_messages(now, limit).with_for_update(skip_locked=True)
            ).all()
            if rows:
                connection.execute(
                    outbox_table.update()
                    .where(outbox_table.c.message_id.in_([row.message_id for row in rows]))
                    .values(next_attempt_at=lease_until)
                )
        return [_outbox_message(row) for row in rows]

    def mark_sent(self, message_id: str, now: dt.datetime) -> None:
        """Record the delivery; a message already marked sent keeps its first record."""
        with translate("accounts"), self._scope.writing() as connection:
            connection.execute(
                outbox_table.update()
                .where(outbox_table.c.message_id == message_id, outbox_table.c.sent_at.is_(None))
                .values(sent_at=now, attempts=outbox_table.c.attempts + 1, next_attempt_at=None)
            )

    def mark_failed(self, message_id: str, error: str, retry_at: dt.datetime) -> None:
        """Record a failed attempt and the time of the next one."""
        with translate("accounts"), self._scope.writing() as connection:
            connection.execute(
                outbox_table.update()
                .where(outbox_table.c.message_id == message_id, outbox_table.c.sent_at.is_(None))
                .values(
                    attempts=outbox_table.c.attempts + 1,
                    next_attempt_at=retry_at,
                    last_error=error[:500],
                )
            )


def _due_messages(now: dt.datetime, limit: int) -> sa.Select[Any]:
    """Up to `limit` unsent messages due at `now`, oldest first (ties by message id)."""
    due = sa.and_(
        outbox_table.c.sent_at.is_(None),
        sa.or_(outbox_table.c.next_attempt_at.is_(None), outbox_table.c.next_attempt_at <= now),
    )
    return (
        sa.select(outbox_table)
        .where(due)
        .order_by(outbox_table.c.queued_at, outbox_table.c.message_id)
        .limit(limit)
    )


def _outbox_message(row: sa.Row[Any]) -> OutboxMessage:
    return OutboxMessage(
        message=EmailMessage(
            message_id=row.message_id,
            to=row.recipient,
            subject=row.subject,
            text=row.text_body,
            html=row.html_body,
            language=row.language,
        ),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        last_error=row.last_error,
    )
