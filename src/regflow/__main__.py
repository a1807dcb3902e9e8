"""The `regflow` console script: tools for operators and support.

    regflow check-password [--language sv] [--name ...] [--email ...]   # policy verdict
    regflow relay [--once] ...                                           # outbox relay
    regflow link-contracts [--once] [--all] ...                          # link contracts later
    regflow init-db [--database-url URL]                                 # create the tables

Each subcommand lives in its own module and is imported only when used.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand -> (module with `add_arguments(parser)` and `run(args) -> int`, help text)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "check-password": ("regflow.check_password", "check a password against the policy"),
    "relay": ("regflow.relay", "deliver queued emails through the configured mailer"),
    "link-contracts": (
        "regflow.link_contracts",
        "link contracts that became linkable after registration",
    ),
    "init-db": ("regflow.init_db", "create regflow's tables in the database where missing"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one subcommand."""
    parser = argparse.ArgumentParser(prog="regflow", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text)
        sub_parser.set_defaults(module=module_name)
        # each module adds its own options; importing it here keeps --help complete
        importlib.import_module(module_name).add_arguments(sub_parser)
    args = parser.parse_args(argv)
    result: int = importlib.import_module(args.module).run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
