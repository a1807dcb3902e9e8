"""Where the stores' statements run: each call its own transaction (`Autocommit`), or one unit
of work (`Unit`) whose transaction begins at its first write and whose lone flow save is
deferred to its end."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import attrs
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from regflow.adapters.sql._direct import rowcount
from regflow.adapters.sql._engine import single_statement_options
from regflow.adapters.sql._errors import committing, translate
from regflow.adapters.sql._statements import FLOW_VERSION, INSERT_FLOW, UPDATE_FLOW
from regflow.errors import ConcurrentUpdate

# The package's logger, named as before the package was split into modules.
log = logging.getLogger("regflow.adapters.sql")


@attrs.frozen
class Save:
    """A flow save: an INSERT (no expected version) or an UPDATE checking the version."""

    flow_id: str
    expected_version: int | None
    values: dict[str, Any]

    @property
    def new_version(self) -> int:
        return 1 if self.expected_version is None else self.expected_version + 1

    def execute(self, connection: Connection) -> int:
        """Run it; `ConcurrentUpdate` when the stored version is not the expected one."""
        if self.expected_version is None:
            try:
                rowcount(
                    connection,
                    INSERT_FLOW,
                    {"flow_id": self.flow_id, "version": 1, **self.values},
                )
            except IntegrityError as error:
                raise ConcurrentUpdate from error
            return 1
        changed = rowcount(
            connection,
            UPDATE_FLOW,
            {
                "b_id": self.flow_id,
                "b_expected": self.expected_version,
                "version": self.new_version,
                **self.values,
            },
        )
        if changed != 1:
            raise ConcurrentUpdate
        return self.new_version


class Autocommit:
    """Each call its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.single = engine.execution_options(**single_statement_options(engine))

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.single.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            transaction = connection.begin()
            try:
                yield connection
            except BaseException:
                transaction.rollback()
                raise
            with committing("storage"):
                transaction.commit()

    def truncate_log(self) -> None:
        """SQLite: checkpoint the write-ahead log and cut it to nothing, so that the earlier
        versions of deleted rows it holds leave the disk's files (best effort: a reader still
        using the log keeps it). PostgreSQL: nothing; see the README (VACUUM)."""
        if self.engine.dialect.name == "sqlite":
            with self.single.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def claim(self, flow_id: str, version: int) -> None:
        """Nothing to claim outside a unit of work."""

    def claims_changed(self, connection: Connection) -> bool:
        """No claims outside a unit of work."""
        del connection
        return False

    def save(self, save: Save) -> int:
        """One statement, its own transaction."""
        with self.single.connect() as connection, committing("flows"):
            version = save.execute(connection)  # the statement is its own commit
            connection.commit()
            return version


class Unit:
    """One unit of work: a transaction begun at its first write; the flows it loaded.

    A unit whose only write is a flow save (most requests) does not open a transaction at all:
    the save waits for the unit's end and runs there as one statement, whose `WHERE version =`
    is the whole check. `ConcurrentUpdate` then comes from the end of the unit. Until a
    transaction begins, the unit's single statements (the load, existence checks, that save)
    share one pooled connection, which holds no transaction and so no lock; it goes back to the
    pool before the unit's transaction takes one, so a unit never holds two.
    """

    def __init__(self, base: Autocommit) -> None:
        self._base = base
        self._single: Connection | None = None
        self._connection: Connection | None = None
        self._claims: dict[str, int] = {}
        self._pending: Save | None = None
        self._closed = False

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        if self._closed:  # a flow kept after its unit ended: behave like the plain stores
            with self._base.reading() as connection:
                yield connection
        elif self._connection is not None or self._pending is not None:
            yield self._open()
        else:
            yield self._single_connection()

    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        if self._closed:
            with self._base.writing() as connection:
                yield connection
        else:
            yield self._open()

    def claim(self, flow_id: str, version: int) -> None:
        if not self._closed:
            self._claims[flow_id] = version

    def save(self, save: Save) -> int:
        if self._closed:
            return self._base.save(save)
        if self._connection is None and self._pending is None:
            self._pending = save
            return save.new_version
        return save.execute(self._open())

    def _single_connection(self) -> Connection:
        if self._single is None:
            self._single = self._base.single.connect()
        return self._single

    def _release_single(self) -> None:
        single, self._single = self._single, None
        if single is not None:
            try:
                single.close()
            except SQLAlchemyError:  # e.g. a connection the server dropped: the pool drops it
                log.warning("closing a connection failed", exc_info=True)

    def _open(self) -> Connection:
        """The unit's transaction, begun, with the deferred save done first."""
        if self._connection is None:
            self._release_single()
            self._connection = self._base.engine.connect()
            try:
                self._connection.begin()
            except BaseException:
                self._connection.close()
                self._connection = None
                raise
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.execute(self._connection)
        return self._connection

    def claims_changed(self, connection: Connection) -> bool:
        """Whether a flow loaded in this unit has been saved by someone else since."""
        return any(
            connection.execute(FLOW_VERSION, {"b_id": flow_id}).scalar() != version
            for flow_id, version in self._claims.items()
        )

    def finish(self, *, commit: bool) -> None:
        self._closed = True
        connection, self._connection = self._connection, None
        pending, self._pending = self._pending, None
        if connection is None:
            try:
                if commit and pending is not None:
                    with translate("flows"):
                        if self._single is None:
                            self._base.save(pending)
                        else:
                            with committing("flows"):  # the statement is its own commit
                                pending.execute(self._single)
                                self._single.commit()
            finally:
                self._release_single()
            return
        with contextlib.closing(connection):
            if commit:
                try:
                    with translate("storage"):
                        if pending is not None:
                            pending.execute(connection)
                        with committing("storage"):
                            connection.commit()
                except BaseException:
                    self._rollback(connection)
                    raise
            else:
                self._rollback(connection)

    @staticmethod
    def _rollback(connection: Connection) -> None:
        try:
            connection.rollback()
        except SQLAlchemyError:  # the exception that ended the unit goes on
            log.warning("rollback failed", exc_info=True)


Scope = Autocommit | Unit
