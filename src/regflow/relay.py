"""The outbox relay: `regflow relay` sends queued emails through SMTP, once or in a loop.

    regflow relay --database-url postgresql://regflow@db/regflow --smtp-host smtp.example.fi \\
        --smtp-starttls --mail-from no-reply@example.fi            # loop until SIGTERM
    regflow relay --once                                          # one pass, e.g. from cron

Options fall back to environment variables (`REGFLOW_DATABASE_URL`, `REGFLOW_SMTP_HOST`,
`REGFLOW_SMTP_PORT`, `REGFLOW_SMTP_STARTTLS`, `REGFLOW_SMTP_IMPLICIT_TLS`,
`REGFLOW_SMTP_USERNAME`, `REGFLOW_SMTP_CAFILE`, `REGFLOW_MAIL_FROM`); the SMTP password is read
from `REGFLOW_SMTP_PASSWORD` only, never from the command line, where `ps` would show it.
Several relays may run at once: each claims a message for a lease (`--lease`) just before it
sends it, so two relays never send one message while both hold a live lease. The one case left
at least once: the SMTP server accepted a message and the relay died (or lost the database)
before marking it sent; the next relay sends it again, with the same Message-ID.

`relay_loop` is the same loop for embedding (a thread in a web worker, a test). SQLAlchemy is
imported only when `run` needs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from regflow.errors import AdapterError
from regflow.outbox import DEFAULT_LEASE, Backoff, OutboxPorts, deliver_pending_emails

if TYPE_CHECKING:
    from regflow.ports import FlowStore, LoginAttempts, Ports

log = logging.getLogger(__name__)

_DEFAULT_BACKOFF = Backoff()


def relay_loop(
    ports: Ports | OutboxPorts,
    *,
    stop: threading.Event,
    interval: float = 5.0,
    limit: int = 100,
    backoff: Backoff = _DEFAULT_BACKOFF,
    lease: dt.timedelta = DEFAULT_LEASE,
    purge_flows: FlowStore | None = None,
    purge_logins: LoginAttempts | None = None,
    purge_rate_limits: Callable[[], int] | None = None,
) -> int:
    """Deliver pending emails until `stop` is set; returns how many were sent.

    A full batch is followed at once by the next pass; otherwise the loop waits `interval`
    seconds. An outage of the store or the mailer (`AdapterError`) is logged and retried after
    `interval`; any other exception is a bug and ends the loop. With `purge_flows`, each pass
    also deletes the flows past their expiry; with `purge_logins`, the failed logins older than
    the default throttle's window (`regflow.login.LoginThrottle`); with `purge_rate_limits`
    (e.g. `SqlRateLimitStorage.purge_expired`), the rate limits' ended windows.
    """
    total = 0
    while not stop.is_set():
        try:
            sent = deliver_pending_emails(ports, limit=limit, backoff=backoff, lease=lease)
            if purge_flows is not None:
                purged = purge_flows.purge_expired(ports.clock.now())
                if purged:
                    log.info("relay: purged %d expired flows", purged)
            if purge_logins is not None:
                _purge_logins(purge_logins, ports.clock.now())
            if purge_rate_limits is not None:
                _purge_rate_limits(purge_rate_limits)
        except AdapterError as error:
            # says which failure it is (the database refused us, has no tables, the mail
            # server refused...); no traceback, which could carry the driver's text
            log.warning("relay: pass failed: %s; retrying in %.1f s", error, interval)
            stop.wait(interval)
            continue
        total += sent
        if sent:
            log.info("relay: sent %d", sent)
        if sent < limit:
            stop.wait(interval)
    return total


# the command line: only subprocess tests run it, which mutmut does not
def add_arguments(parser: argparse.ArgumentParser) -> None:  # pragma: no mutate block
    """The `regflow relay` options."""
    env = os.environ.get
    parser.add_argument(
        "--database-url",
        default=env("REGFLOW_DATABASE_URL"),
        help="SQLAlchemy URL of the regflow database (env REGFLOW_DATABASE_URL; "
        "default sqlite:///regflow.sqlite3, the demo's and `regflow init-db`'s)",
    )
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument(
        "--interval", type=float, default=5.0, help="seconds between passes (default 5)"
    )
    parser.add_argument("--batch", type=int, default=100, help="messages per pass (default 100)")
    parser.add_argument(
        "--lease",
        type=float,
        default=DEFAULT_LEASE.total_seconds(),
        help="seconds a message is reserved for this relay's send of it; more than the SMTP "
        "timeout (default 300)",
    )
    parser.add_argument(
        "--backoff", type=float, default=30.0, help="first retry delay in seconds (default 30)"
    )
    parser.add_argument(
        "--backoff-limit", type=float, default=3600.0, help="longest retry delay (default 3600)"
    )
    parser.add_argument(
        "--purge-expired",
        action="store_true",
        help="also delete flows past their expiry, failed logins older than a day and the "
        "rate limits' ended windows",
    )
    smtp = parser.add_argument_group("SMTP")
    smtp.add_argument("--smtp-host", default=env("REGFLOW_SMTP_HOST"), help="default localhost")
    smtp.add_argument(
        "--smtp-port",
        type=int,
        default=int(env("REGFLOW_SMTP_PORT", "0")) or None,
        help="default 25, 587 with --smtp-starttls, 465 with --smtp-implicit-tls",
    )
    smtp.add_argument(
        "--smtp-starttls",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="upgrade the connection with STARTTLS (env REGFLOW_SMTP_STARTTLS=1)",
    )
    smtp.add_argument(
        "--smtp-implicit-tls",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="TLS from the start, SMTPS (env REGFLOW_SMTP_IMPLICIT_TLS=1)",
    )
    smtp.add_argument(
        "--smtp-username",
        default=env("REGFLOW_SMTP_USERNAME"),
        help="log in as this user; the password comes from REGFLOW_SMTP_PASSWORD",
    )
    smtp.add_argument("--smtp-cafile", default=env("REGFLOW_SMTP_CAFILE"), help="private CA")
    smtp.add_argument("--smtp-timeout", type=float, default=30.0, help="seconds (default 30)")
    smtp.add_argument(
        "--mail-from",
        default=env("REGFLOW_MAIL_FROM"),
        help="sender address (env REGFLOW_MAIL_FROM)",
    )


# the command line: only subprocess tests run it, which mutmut does not
def _smtp_environ(args: argparse.Namespace) -> dict[str, str]:  # pragma: no mutate block
    """The options as `SmtpConfig.from_env` reads them: the command line over the environment."""
    environ = dict(os.environ)
    overrides: dict[str, Any] = {
        "REGFLOW_SMTP_HOST": args.smtp_host,
        "REGFLOW_SMTP_PORT": args.smtp_port,
        "REGFLOW_SMTP_USERNAME": args.smtp_username,
        "REGFLOW_SMTP_CAFILE": args.smtp_cafile,
        "REGFLOW_SMTP_TIMEOUT": args.smtp_timeout,
        "REGFLOW_MAIL_FROM": args.mail_from,
    }
    if args.smtp_starttls is not None:
        overrides["REGFLOW_SMTP_STARTTLS"] = "1" if args.smtp_starttls else "0"
    if args.smtp_implicit_tls is not None:
        overrides["REGFLOW_SMTP_IMPLICIT_TLS"] = "1" if args.smtp_implicit_tls else "0"
    environ.update({k: str(v) for k, v in overrides.items() if v is not None})
    return environ


# the command line: only subprocess tests run it, which mutmut does not
def run(args: argparse.Namespace) -> int:  # pragma: no mutate block
    """Run the relay as configured by `args`; 0 on success, 1 when a `--once` pass failed,
    2 for a configuration error."""
    from regflow.adapters.smtp import SmtpConfig
    from regflow.bootstrap import (
        DEFAULT_DATABASE_URL,
        Config,
        ConfigError,
        bootstrap_outbox,
        describe_database_url,
    )

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    database_url = args.database_url or DEFAULT_DATABASE_URL
    where = describe_database_url(database_url)  # the password masked
    try:
        config = Config(
            database_url=database_url,
            mailer="smtp",
            smtp=SmtpConfig.from_env(_smtp_environ(args)),
            create_schema=False,  # the relay sends; creating tables is the service's business
        )
    except ValueError as error:  # ConfigError is one too
        log.error("relay: %s", error)  # a configuration error: no traceback
        return 2
    backoff = Backoff(
        first=dt.timedelta(seconds=args.backoff), limit=dt.timedelta(seconds=args.backoff_limit)
    )
    lease = dt.timedelta(seconds=args.lease)
    try:
        app = bootstrap_outbox(config)
    except ConfigError as error:  # UnsupportedDatabaseUrl is one too
        log.error("relay: %s", error)
        return 2
    log.info("relay: database %s", where)
    with app:
        ports, store = app.ports, app.storage
        purge = store.flows if args.purge_expired else None
        purge_logins = store.login_attempts if args.purge_expired else None
        counters = getattr(store, "rate_limits", None)
        purge_rate_limits = (
            counters(ports.clock).purge_expired
            if args.purge_expired and callable(counters)
            else None
        )
        if args.once:
            try:
                sent = deliver_pending_emails(ports, limit=args.batch, backoff=backoff, lease=lease)
                if purge is not None:
                    purge.purge_expired(ports.clock.now())
                if purge_logins is not None:
                    _purge_logins(purge_logins, ports.clock.now())
                if purge_rate_limits is not None:
                    _purge_rate_limits(purge_rate_limits)
            except AdapterError as error:
                # which failure (connection refused, no such table...), never the driver's text
                log.error("relay: pass failed on the database %s: %s", where, error)
                return 1
            log.info("relay: sent %d", sent)
            return 0
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        relay_loop(
            ports,
            stop=stop,
            interval=args.interval,
            limit=args.batch,
            backoff=backoff,
            lease=lease,
            purge_flows=purge,
            purge_logins=purge_logins,
            purge_rate_limits=purge_rate_limits,
        )
    return 0


def _purge_logins(attempts: LoginAttempts, now: dt.datetime) -> None:
    """Delete failed logins older than the default throttle's window, so that spraying cannot
    grow the table without bound."""
    from regflow.login import LoginThrottle

    throttle = LoginThrottle()
    purged = attempts.purge_login_attempts(
        now - throttle.window, known_before=now - throttle.remember
    )
    if purged:
        log.info("relay: purged %d old failed logins", purged)


def _purge_rate_limits(purge: Callable[[], int]) -> None:
    """Delete the rate limits' ended windows: every client address leaves a row behind."""
    purged = purge()
    if purged:
        log.info("relay: purged %d ended rate-limit windows", purged)
