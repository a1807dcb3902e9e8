"""A process killed with SIGKILL between the account's commit and the send loses no email.

The killed process and the relays are separate processes; the relays are the real command,
`regflow relay --once`, sending to an SMTP server on loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from tests.smtp_fixtures import (
    SmtpServer,
    smtp_server,  # noqa: F401  # fixture
)
from tests.storage_support import (
    mp_context,
    person,
    register_until_review,
    sql_service,
    worker_claim_then_hang,
    worker_register_then_hang,
)

from regflow.adapters.sql import SqlStore
from regflow.emails import confirmation_message_id

pytestmark = pytest.mark.slow

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty regflow database of each kind, with its tables."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    with SqlStore.from_url(url) as store:
        store.create_schema()
    return url


def relay_once(url: str, smtp: SmtpServer) -> None:
    """Run `regflow relay --once` in a new process against `url` and the SMTP server."""
    command = [sys.executable, "-m", "regflow", "relay", "--once", "--database-url", url]
    command += ["--smtp-host", smtp.host, "--smtp-port", str(smtp.port)]
    command += ["--mail-from", "no-reply@example.fi"]
    result = subprocess.run(  # our own command line
        command, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def kill(process: Any) -> None:
    """SIGKILL: no cleanup, no finally blocks, no atexit."""
    os.kill(process.pid, signal.SIGKILL)
    process.join(10)
    assert process.exitcode == -signal.SIGKILL


def test_kill_after_commit_before_send(
    database_url: str,
    smtp_server: SmtpServer,  # noqa: F811  # the fixture imported above
) -> None:
    """Killed right after the account committed: a new relay delivers the email exactly once."""
    context = mp_context()
    ready = context.Queue()
    process = context.Process(target=worker_register_then_hang, args=(database_url, ready))
    process.start()
    flow_id = ready.get(timeout=60)
    kill(process)
    expected = f"<{confirmation_message_id(flow_id)}@example.fi>"
    relay_once(database_url, smtp_server)
    assert len(smtp_server.inbox.with_id(expected)) == 1
    relay_once(database_url, smtp_server)
    assert len(smtp_server.inbox.messages) == 1


def test_kill_relay_mid_send(
    database_url: str,
    smtp_server: SmtpServer,  # noqa: F811  # the fixture imported above
) -> None:
    """A relay killed after claiming the email: once its lease ends, another sends it once."""
    with sql_service(database_url, [person(0)]) as service:
        flow = register_until_review(service, person(0))
        assert flow.review_token is not None
        service.approve(flow.id, flow.review_token)
    lease = 3.0
    context = mp_context()
    ready = context.Queue()
    process = context.Process(target=worker_claim_then_hang, args=(database_url, lease, ready))
    process.start()
    ready.get(timeout=60)  # the message is claimed and being "sent"
    claimed_at = time.monotonic()
    kill(process)
    relay_once(database_url, smtp_server)
    if time.monotonic() - claimed_at < lease:  # the lease held: nothing was sent twice
        assert smtp_server.inbox.messages == []
    time.sleep(max(0.0, claimed_at + lease + 0.2 - time.monotonic()))
    relay_once(database_url, smtp_server)
    relay_once(database_url, smtp_server)
    expected = f"<{confirmation_message_id(flow.id)}@example.fi>"
    assert len(smtp_server.inbox.with_id(expected)) == 1
    assert len(smtp_server.inbox.messages) == 1


def test_relay_loop_delivers_and_stops_on_sigterm(
    sqlite_url: str,
    smtp_server: SmtpServer,  # noqa: F811  # the fixture imported above
) -> None:
    """`regflow relay` as a loop sends what is queued and exits cleanly on SIGTERM."""
    with SqlStore.from_url(sqlite_url) as store:
        store.create_schema()
    with sql_service(sqlite_url, [person(0)]) as service:
        flow = register_until_review(service, person(0))
        assert flow.review_token is not None
        service.approve(flow.id, flow.review_token)
    command = [sys.executable, "-m", "regflow", "relay", "--database-url", sqlite_url]
    command += ["--smtp-host", smtp_server.host, "--smtp-port", str(smtp_server.port)]
    command += ["--mail-from", "no-reply@example.fi", "--interval", "0.2", "--purge-expired"]
    relay = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not smtp_server.inbox.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        relay.send_signal(signal.SIGTERM)
        assert relay.wait(timeout=30) == 0
    finally:
        if relay.poll() is None:
            relay.kill()
            relay.wait()
        assert relay.stderr is not None
        relay.stderr.close()
    assert len(smtp_server.inbox.with_id(f"<{confirmation_message_id(flow.id)}@example.fi>")) == 1
