"""`regflow init-db`: create regflow's tables in a database, where they are missing.

    regflow init-db                                                  # sqlite:///regflow.sqlite3
    regflow init-db --database-url postgresql://regflow@db/regflow   # or REGFLOW_DATABASE_URL

Safe to run again: existing tables and rows are left as they are. Exit code 0 when the tables
are in place, 1 when the database cannot be reached (the message says why: connection refused,
host not found, login refused...), 2 for a URL regflow cannot use. No traceback, and the URL is
shown with its password masked.
"""

from __future__ import annotations

import argparse
import os
import sys

from regflow.errors import AdapterError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `regflow init-db` options."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get("REGFLOW_DATABASE_URL"),
        help="SQLAlchemy URL of the regflow database (env REGFLOW_DATABASE_URL; "
        "default sqlite:///regflow.sqlite3, as for `regflow relay` and the demo)",
    )


def run(args: argparse.Namespace) -> int:
    """Create the schema at `args.database_url`; 0, 1 (database unreachable) or 2 (bad URL)."""
    from regflow.bootstrap import (
        DEFAULT_DATABASE_URL,
        ConfigError,
        describe_database_url,
        init_database,
    )

    url = args.database_url or DEFAULT_DATABASE_URL
    where = describe_database_url(url)
    try:
        init_database(url)
    except ConfigError as error:  # UnsupportedDatabaseUrl
        print(f"regflow init-db: {error}", file=sys.stderr)
        return 2
    except AdapterError as error:  # DatabaseUnavailable says which failure it is
        print(f"regflow init-db: cannot use the database {where}: {error}", file=sys.stderr)
        return 1
    print(f"regflow init-db: regflow's tables are in place in {where}")
    return 0
