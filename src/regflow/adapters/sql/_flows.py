"""`SqlFlowStore`: flow snapshots as JSON with a version number, saved optimistically."""

from __future__ import annotations

import datetime as dt

from regflow.adapters.sql._direct import first
from regflow.adapters.sql._errors import translate
from regflow.adapters.sql._schema import flows_table
from regflow.adapters.sql._statements import LOAD_FLOW
from regflow.adapters.sql._unit import Autocommit, Save, Scope
from regflow.errors import FlowNotFound
from regflow.ports import Snapshot, StoredFlow


class SqlFlowStore:
    """`FlowStore` on SQL: snapshots as JSON, with a version number per flow."""

    def __init__(self, scope: Scope) -> None:
        """Prefer `SqlStore(engine).flows` or a unit of work's `flows`."""
        self._scope = scope

    def load(self, flow_id: str) -> StoredFlow:
        """The stored snapshot and its version (in a unit of work, remembered for its save).

        No row lock, in a unit of work either: the save's `WHERE version =` (and, for a unit that
        also wrote accounts, its claims) is the whole check that nobody saved the flow since.
        """
        with translate("flows"), self._scope.reading() as connection:
            row = first(connection, LOAD_FLOW, {"b_id": flow_id})
        if row is None:
            raise FlowNotFound
        snapshot, version = row
        self._scope.claim(flow_id, version)
        return StoredFlow(snapshot, version)

    def save(
        self,
        flow_id: str,
        snapshot: Snapshot,
        *,
        expected_version: int | None,
        expires_at: dt.datetime,
    ) -> int:
        """Insert (expected_version None) or update where the version still matches.

        In a unit of work whose only write this is, the statement runs when the unit ends, and
        a `ConcurrentUpdate` is raised from there.
        """
        values = {
            "snapshot": snapshot,
            "state": str(snapshot.get("state", "")),
            "expires_at": expires_at,
        }
        with translate("flows"):
            return self._scope.save(Save(flow_id, expected_version, values))

    def purge_expired(self, now: dt.datetime) -> int:
        """Delete flows whose expiry is before `now`.

        On SQLite the deleted rows are overwritten (`secure_delete`), and outside a unit of work
        the write-ahead log, which still holds their earlier versions, is then emptied.
        """
        with translate("flows"):
            with self._scope.writing() as connection:
                statement = flows_table.delete().where(flows_table.c.expires_at < now)
                count = int(connection.execute(statement).rowcount)
            if count and isinstance(self._scope, Autocommit):
                self._scope.truncate_log()
            return count
