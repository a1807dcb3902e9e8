"""`python -m regflow_web [--host H] [--port P]`: the web demo (or the app, by configuration).

Defaults for the demo: SQLite in `regflow-web-demo.sqlite3`, the demo customers, the simulated
bank and the relay delivering to /demo/mailbox; every `REGFLOW_*` variable overrides them.
"""

from __future__ import annotations

import argparse
import os

import uvicorn

from regflow_web.app import create_app
from regflow_web.config import WebConfig


def main() -> None:
    """Parse the arguments, print the URL and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m regflow_web", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    os.environ.setdefault("REGFLOW_DEMO", "1")
    os.environ.setdefault("REGFLOW_DATABASE_URL", "sqlite:///regflow-web-demo.sqlite3")
    app = create_app(WebConfig.from_env())
    print(f"regflow web demo: http://{args.host}:{args.port}/  (Ctrl-C stops it)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
