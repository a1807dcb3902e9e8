"""The web app's logs on stderr: plain text, or one JSON object per line for a log collector.

- `REGFLOW_WEB_LOG_FORMAT`: `text` (the default) or `json` (python-json-logger: `time`,
  `level`, `name`, `process`, `message`, then the record's `extra` fields, such as a request
  record's `method`, `route`, `status` and `ms`).
- `REGFLOW_WEB_LOG_LEVEL`: `DEBUG` (one record per request), `INFO` (the default: one per
  transition of a flow), `WARNING` or `ERROR`.

`configure_logging` puts one handler on the root logger (calling it again replaces it) and sets
the level on regflow's and the app's loggers only: the root stays at WARNING, so that other
libraries' debug and info records, which nobody here has checked for personal data, stay out
(`transitions` alone writes several per event). For JSON it sends uvicorn's own records
(`uvicorn`, `uvicorn.error`) through the same handler, so that every line is JSON. Keep
uvicorn's access log off (`--no-access-log`): it writes each request's raw path and query, the
bank callback's code included; the app's request records name the route's template instead.
What regflow and the app log holds no personal data (examples/web/README.md, "Logs").
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Final

from pythonjsonlogger.json import JsonFormatter

from regflow.bootstrap import ConfigError

LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS: Final = ("text", "json")
OWN_LOGGERS: Final = ("regflow", "regflow_web")
_HANDLER_NAME: Final = "regflow_web"


def configure_logging(env: Mapping[str, str]) -> None:
    """Log to stderr as `env` says (see the module's docstring); `ConfigError` for a bad value."""
    chosen = env.get("REGFLOW_WEB_LOG_FORMAT", "text").strip().lower() or "text"
    level = env.get("REGFLOW_WEB_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if chosen not in FORMATS:
        msg = f"REGFLOW_WEB_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {chosen!r}"
        raise ConfigError(msg)
    if level not in LEVELS:
        msg = f"REGFLOW_WEB_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {level!r}"
        raise ConfigError(msg)
    handler = logging.StreamHandler(sys.stderr)
    handler.name = _HANDLER_NAME
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{process}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level"},
        )
        if chosen == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s")
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.name == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
    if chosen == "json":
        for name in ("uvicorn", "uvicorn.error"):
            server = logging.getLogger(name)
            server.handlers.clear()
            server.propagate = True
