"""`python -m regflow_web [--host H] [--port P] [--workers N]`: the web demo, or the app.

Defaults for the demo: SQLite in `regflow-web-demo.sqlite3`, the demo customers, the simulated
bank and the relay delivering to /demo/mailbox; every `REGFLOW_*` variable overrides them.

With `--workers N` (N > 1) uvicorn runs N processes, each calling `app_from_env()`; the relay
is then off unless `REGFLOW_WEB_RELAY=1` says otherwise (run `regflow relay` beside them), and
`REGFLOW_WEB_SECRET` must be set so that every worker accepts the others' forms, and the bank
must be the OIDC one (the simulated bank keeps its requests in one process's memory).
"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from regflow_web.app import create_app
from regflow_web.config import WebConfig
from regflow_web.logs import configure_logging


def main() -> None:
    """Parse the arguments, print the URL and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m regflow_web", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    args = parser.parse_args()
    os.environ.setdefault("REGFLOW_DEMO", "1")
    os.environ.setdefault("REGFLOW_DATABASE_URL", "sqlite:///regflow-web-demo.sqlite3")
    url = f"http://{args.host}:{args.port}/"
    if args.workers > 1:
        if not os.environ.get("REGFLOW_WEB_SECRET"):
            sys.exit("--workers needs REGFLOW_WEB_SECRET (the same for every worker)")
        if os.environ.get("REGFLOW_BANK", "simulated").strip().lower() in {"", "simulated"}:
            # its open requests and codes live in one process: the next worker knows none
            sys.exit("--workers needs REGFLOW_BANK=oidc: the simulated bank is one process's")
        os.environ.setdefault("REGFLOW_WEB_RELAY", "0")  # one relay, its own process
        print(f"regflow web: {url} with {args.workers} workers (Ctrl-C stops them)")
        uvicorn.run(
            "regflow_web.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
        )
        return
    configure_logging(os.environ)
    app = create_app(WebConfig.from_env())
    print(f"regflow web demo: {url}  (Ctrl-C stops it)")
    # log_config=None: uvicorn's records go through the handler configure_logging installed
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", log_config=None)


if __name__ == "__main__":
    main()
