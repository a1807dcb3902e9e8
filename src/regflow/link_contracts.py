"""`regflow link-contracts`: link contracts that became linkable after registration.

    regflow link-contracts --once               # one pass, e.g. from cron
    regflow link-contracts --interval 600       # a pass every 10 minutes until SIGTERM
    regflow link-contracts --once --all         # every account: contracts added since

The storage and the customer directory come from the environment, as for `bootstrap`
(`REGFLOW_DATABASE_URL`, `REGFLOW_CUSTOMERS=http` with `REGFLOW_CUSTOMERS_URL` and the rest of
`regflow.adapters.http_customers`' variables, or `REGFLOW_DEMO=1`). Several may run at once:
linking is serialised per account (`regflow.linking`). The emails go to the outbox; `regflow
relay` sends them.

`link_loop` is the same loop for embedding (a thread in a worker, a test).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from typing import TYPE_CHECKING

from regflow.errors import AdapterError

if TYPE_CHECKING:
    from regflow.service import RegistrationService

log = logging.getLogger(__name__)


def link_loop(
    service: RegistrationService,
    *,
    stop: threading.Event,
    interval: float = 600.0,
    batch: int = 100,
    everyone: bool = False,
) -> int:
    """Run linking passes until `stop` is set, `interval` seconds apart; returns how many
    contracts were linked. An outage of the store (`AdapterError`) is logged and the pass is
    tried again after `interval`; any other exception is a bug and ends the loop."""
    total = 0
    while not stop.is_set():
        try:
            report = service.link_pending_contracts(batch=batch, everyone=everyone)
        except AdapterError:
            log.warning("link-contracts: pass failed; retrying in %.1f s", interval, exc_info=True)
        else:
            total += report.linked
            log.info(
                "link-contracts: %d accounts, %d contracts linked, %d failed",
                report.accounts,
                report.linked,
                report.failed,
            )
        stop.wait(interval)
    return total


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `regflow link-contracts` options."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get("REGFLOW_DATABASE_URL"),
        help="SQLAlchemy URL of the regflow database (env REGFLOW_DATABASE_URL)",
    )
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument(
        "--interval", type=float, default=600.0, help="seconds between passes (default 600)"
    )
    parser.add_argument("--batch", type=int, default=100, help="accounts per query (default 100)")
    parser.add_argument(
        "--all",
        dest="everyone",
        action="store_true",
        help="check every account, not only those with pending contracts",
    )


def run(args: argparse.Namespace) -> int:
    """Run as `args` say; 0 on success, 1 when a `--once` pass failed for some account or as
    a whole, 2 for a configuration error."""
    from regflow.bootstrap import Config, bootstrap

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        overrides = {"database_url": args.database_url} if args.database_url else {}
        app = bootstrap(Config.from_env(create_schema=False, **overrides))
    except ValueError as error:  # ConfigError is one: an operator's mistake, no traceback
        log.error("link-contracts: %s", error)
        return 2
    with app:
        if args.once:
            try:
                report = app.service.link_pending_contracts(
                    batch=args.batch, everyone=args.everyone
                )
            except AdapterError as error:
                log.error("link-contracts: pass failed: %s", error)
                return 1
            log.info(
                "link-contracts: %d accounts, %d contracts linked, %d failed",
                report.accounts,
                report.linked,
                report.failed,
            )
            return 1 if report.failed else 0
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        link_loop(
            app.service,
            stop=stop,
            interval=args.interval,
            batch=args.batch,
            everyone=args.everyone,
        )
    return 0
