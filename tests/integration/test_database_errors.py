"""A database that refuses us, lacks the tables or has a URL regflow cannot use says which.

`regflow init-db` and `regflow relay --once` run as commands (new processes): the exit code, a
message naming the failure, no traceback, and never the URL's password.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError, ProgrammingError

from regflow import DatabaseUnavailable, SchemaMissing, UnsupportedDatabaseUrl
from regflow.__main__ import main
from regflow.adapters.sql._diagnosis import diagnose
from regflow.bootstrap import ConfigError, describe_database_url, init_database

PASSWORD = "s3cretPW"
REFUSED = f"postgresql://regflow:{PASSWORD}@127.0.0.1:1/regflow"  # nothing listens on port 1
RELAY_OPTIONS = ["--once", "--mail-from", "no-reply@example.fi", "--smtp-host", "127.0.0.1"]


def regflow(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the `regflow` command in a new process; it never prints a traceback."""
    result = subprocess.run(  # our own command line
        [sys.executable, "-m", "regflow", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    return result


def tables(path: Path) -> set[str]:
    """The tables of a SQLite file."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def test_init_db_creates_the_schema_the_relay_then_uses(tmp_path: Path) -> None:
    """Without the schema the relay says so and names `regflow init-db`; after it, the relay
    runs. Both default to the same file, `regflow.sqlite3` in the current folder."""
    relay = regflow("relay", *RELAY_OPTIONS, cwd=tmp_path)
    assert relay.returncode == 1
    assert "no such table" in relay.stderr
    assert "regflow init-db" in relay.stderr
    created = regflow("init-db", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert "sqlite:///regflow.sqlite3" in created.stdout
    assert {"regflow_accounts", "regflow_outbox", "regflow_flows"} <= tables(
        tmp_path / "regflow.sqlite3"
    )
    assert regflow("init-db", cwd=tmp_path).returncode == 0  # again: nothing changes
    relay = regflow("relay", *RELAY_OPTIONS, cwd=tmp_path)
    assert relay.returncode == 0, relay.stderr
    assert "sent 0" in relay.stderr


def test_a_refused_connection_says_so_without_the_password(tmp_path: Path) -> None:
    """A database server that is not listening: `connection refused`, exit 1, password masked."""
    for command in (["init-db"], ["relay", *RELAY_OPTIONS]):
        result = regflow(*command, "--database-url", REFUSED, cwd=tmp_path)
        assert result.returncode == 1
        assert "connection refused" in result.stderr
        assert "postgresql://regflow:***@127.0.0.1:1/regflow" in result.stderr


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"mysql://regflow:{PASSWORD}@db/regflow", "Unsupported database URL scheme 'mysql'"),
        ("regflow.sqlite3", "Unsupported database URL scheme (none)"),
        (f"postgresql://regflow:{PASSWORD}@db:port/regflow", "cannot be read"),
        (f"postgresql+nodriver://regflow:{PASSWORD}@db/regflow", "cannot be read"),
    ],
)
def test_a_url_regflow_cannot_use_exits_2(tmp_path: Path, url: str, says: str) -> None:
    """An unknown scheme or an unreadable URL: exit 2, the message says so, no password."""
    for command in (["init-db"], ["relay", *RELAY_OPTIONS]):
        result = regflow(*command, "--database-url", url, cwd=tmp_path)
        assert result.returncode == 2
        assert says in result.stderr


def test_a_sqlite_file_that_cannot_be_opened_says_so(tmp_path: Path) -> None:
    """A SQLite file in a folder that does not exist: the message says it cannot be opened."""
    url = f"sqlite:///{tmp_path / 'missing-folder' / 'regflow.sqlite3'}"
    assert main(["init-db", "--database-url", url]) == 1
    with pytest.raises(DatabaseUnavailable) as caught:
        init_database(url)
    assert caught.value.reason == "file_unopenable"


def test_the_errors_are_typed_and_localised() -> None:
    """Each failure has its class, code and a message in sv, fi and en."""
    with pytest.raises(UnsupportedDatabaseUrl) as caught:
        init_database(f"mysql://regflow:{PASSWORD}@db/regflow")
    assert isinstance(caught.value, ConfigError)  # what bootstrap's callers already catch
    assert caught.value.code == "unsupported_database_url"
    assert PASSWORD not in str(caught.value)
    refused = DatabaseUnavailable("storage", "connection_refused", "OperationalError")
    missing = SchemaMissing("accounts", "regflow_outbox")
    assert (refused.code, missing.code) == ("database_unavailable", "schema_missing")
    for language, refused_text, missing_text in [
        ("en", "connection refused", "regflow init-db"),
        ("sv", "vägrade anslutningen", "regflow init-db"),
        ("fi", "torjui yhteyden", "regflow init-db"),
    ]:
        assert refused_text in refused.message(language)
        assert missing_text in missing.message(language)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            'connection to server at "db.example" (10.0.0.5), port 5432 failed: Connection refused',
            "connection_refused",
        ),
        (
            'could not translate host name "db.example" to address: Name or service not known',
            "host_not_found",
        ),
        (
            'connection failed: FATAL:  password authentication failed for user "regflow"',
            "login_refused",
        ),
        ("connection to server at 10.0.0.5 failed: timeout expired", "timed_out"),
        ('connection failed: FATAL:  database "regflow" does not exist', "no_such_database"),
        ("connection failed: server closed the connection unexpectedly", "unknown"),
    ],
)
def test_connection_failures_are_told_apart(text: str, reason: str) -> None:
    """libpq's texts map to a reason; the text itself (host, user, address) is not kept."""
    error = OperationalError("SELECT 1", {}, Exception(text))
    diagnosed = diagnose("storage", error, "OperationalError")
    assert isinstance(diagnosed, DatabaseUnavailable)
    assert diagnosed.reason == reason
    for private in ("db.example", "10.0.0.5", '"regflow"'):
        assert private not in str(diagnosed)
        assert private not in diagnosed.message("sv")


def test_other_database_errors_stay_general() -> None:
    """A failure that is neither a connection nor a missing table is not diagnosed."""
    error = ProgrammingError("SELECT 1", {}, Exception("syntax error at or near"))
    assert diagnose("storage", error, "ProgrammingError") is None


def test_urls_are_shown_with_the_password_masked() -> None:
    """`describe_database_url` masks the password and shows nothing of an unreadable URL."""
    assert describe_database_url(REFUSED) == "postgresql://regflow:***@127.0.0.1:1/regflow"
    assert PASSWORD not in describe_database_url(f"postgresql://u:{PASSWORD}@h:port/x")


@pytest.mark.postgres
def test_postgresql_without_the_schema_or_the_database(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL: an empty schema is `no such table`; a database that is not there says so."""
    relay = regflow("relay", *RELAY_OPTIONS, "--database-url", postgres_url, cwd=tmp_path)
    assert relay.returncode == 1
    assert "no such table" in relay.stderr
    assert "regflow init-db" in relay.stderr
    assert regflow("init-db", "--database-url", postgres_url, cwd=tmp_path).returncode == 0
    relay = regflow("relay", *RELAY_OPTIONS, "--database-url", postgres_url, cwd=tmp_path)
    assert relay.returncode == 0, relay.stderr
    absent = sa.make_url(postgres_url).set(database="regflow_no_such_database")
    result = regflow(
        "init-db", "--database-url", absent.render_as_string(hide_password=False), cwd=tmp_path
    )
    assert result.returncode == 1
    assert "does not exist" in result.stderr
