"""The web app's logs carry no personal data: every record of whole registrations is scanned."""

from __future__ import annotations

import json
import logging
import logging.config
import os
from typing import TYPE_CHECKING

import pytest
import uvicorn.config

from regflow import Argon2Hasher
from regflow.adapters.memory import ManualClock
from regflow.bootstrap import Config, ConfigError
from regflow.demo import DEMO_CUSTOMERS, DEMO_PEOPLE
from regflow_web import WebConfig
from regflow_web.config import SIM_BANK_PATH
from regflow_web.logs import OWN_LOGGERS, configure_logging
from tests.web.site import PASSWORD, Site

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# The attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", (), None))) | {
    "message",
    "asctime",
}


def personal_terms() -> dict[str, str]:
    """Each demo person's identity code, names, email and phone, and the test password."""
    terms = {PASSWORD: "password"}
    for personal_id, (given, family) in DEMO_PEOPLE.items():
        terms[personal_id] = "identity code"
        terms[given] = "given names"
        terms[family] = "family name"
    for record in DEMO_CUSTOMERS:
        terms[record.details.email] = "email"
        terms[record.details.phone] = "phone"
        terms[record.details.street_address] = "street address"
    return terms


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write of `record`: message, args, extra, traceback."""
    extra = {k: v for k, v in vars(record).items() if k not in _STANDARD}
    formatted = logging.Formatter().format(record)  # the message and any traceback
    return " | ".join([formatted, repr(record.msg), repr(record.args), repr(extra)])


@pytest.mark.parametrize("database", ["memory", "sqlite"])
def test_registrations_log_no_personal_data(
    database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every demo person's walk, a refused form and a failed login: no record names anyone."""
    clock = ManualClock()
    url = "memory:" if database == "memory" else f"sqlite:///{tmp_path / 'logs.sqlite3'}"
    config = WebConfig(
        regflow=Config(database_url=url, demo=True, simulated_bank_url=SIM_BANK_PATH),
        hasher=Argon2Hasher.insecure_fast(),
        clock=clock,
        secret_key=b"k" * 32,
    )
    caplog.set_level(logging.DEBUG)
    site = Site(config, clock=clock)
    for record in DEMO_CUSTOMERS[:3]:  # Anna-Liisa, Oskari, Matti: completed
        site.client.cookies.clear()
        site.to_details(record.personal_id)
        site.submit(password="short")  # refused: every field error logged, if anything is
        site.submit()
        site.event("approve")
        assert 'data-testid="page-completed"' in site.page
        site.get("/login")
        site.post("/login", {"email": record.details.email, "password": "Wrong-Password-1"})
        site.post("/login", {"email": record.details.email, "password": PASSWORD})
    for personal_id in DEMO_PEOPLE:  # again: already registered, customer service, ...
        site.client.cookies.clear()
        site.identify(personal_id)
    assert caplog.records, "nothing was logged: the scan would prove nothing"
    terms = personal_terms()
    found = [
        (what, record.name, record.getMessage())
        for record in caplog.records
        for term, what in terms.items()
        if term.lower() in record_text(record).lower()
    ]
    assert found == []


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """Restore the root logger and regflow's after a test that configures them."""
    loggers = [logging.getLogger(name) for name in ("", *OWN_LOGGERS, "uvicorn", "uvicorn.error")]
    saved = [(lg, lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    yield
    for lg, level, handlers, propagate in saved:
        lg.setLevel(level)
        lg.handlers[:] = handlers
        lg.propagate = propagate


@pytest.mark.usefixtures("clean_logging")
def test_json_logging_writes_one_object_per_record_with_its_extra_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)  # as uvicorn does, in a worker
    configure_logging({"REGFLOW_WEB_LOG_FORMAT": "json", "REGFLOW_WEB_LOG_LEVEL": "debug"})
    configure_logging({"REGFLOW_WEB_LOG_FORMAT": "json", "REGFLOW_WEB_LOG_LEVEL": "debug"})
    logging.getLogger("regflow_web.operations").debug("GET / 200", extra={"route": "/"})
    logging.getLogger("uvicorn.error").warning("server says")
    logging.getLogger("transitions.core").info("not ours")  # below the root's WARNING
    lines = capsys.readouterr().err.splitlines()
    entries = [json.loads(line) for line in lines]  # configured twice: still one handler
    assert [(e["level"], e["name"], e["message"]) for e in entries] == [
        ("DEBUG", "regflow_web.operations", "GET / 200"),
        ("WARNING", "uvicorn.error", "server says"),
    ]
    assert entries[0]["route"] == "/"
    assert {"time", "process"} <= set(entries[0])


@pytest.mark.usefixtures("clean_logging")
def test_text_logging_is_the_default_at_info(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging({})
    logging.getLogger("regflow.flow").debug("hidden")
    logging.getLogger("regflow.flow").info("flow abc started")
    err = capsys.readouterr().err
    assert "hidden" not in err
    assert err.rstrip().endswith(f"INFO regflow.flow [{os.getpid()}] flow abc started")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"REGFLOW_WEB_LOG_FORMAT": "xml"}, "REGFLOW_WEB_LOG_FORMAT"),
        ({"REGFLOW_WEB_LOG_LEVEL": "loud"}, "REGFLOW_WEB_LOG_LEVEL"),
    ],
)
def test_a_bad_logging_variable_is_a_config_error_naming_it(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        configure_logging(env)
