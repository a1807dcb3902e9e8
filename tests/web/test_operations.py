"""What operators need from the web app: /healthz, /readyz, /metrics and the registration funnel."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from regflow import Argon2Hasher, DatabaseUnavailable
from regflow.adapters.memory import ManualClock
from regflow.bootstrap import Config
from regflow_web import WebConfig
from regflow_web.config import SIM_BANK_PATH
from tests.web.site import Site

if TYPE_CHECKING:
    from pathlib import Path

ANNA, EMMA, MATTI, MIKKO, ERIK, JOHAN = (
    "131052-308T",
    "010594Y239M",
    "240467-541E",
    "280699-255N",
    "071290-873K",
    "150380-123P",
)


def sqlite_site(path: Path) -> Site:
    """The demo app on a SQLite file at `path`."""
    clock = ManualClock()
    config = WebConfig(
        regflow=Config(
            database_url=f"sqlite:///{path}", demo=True, simulated_bank_url=SIM_BANK_PATH
        ),
        hasher=Argon2Hasher.insecure_fast(),
        clock=clock,
        secret_key=b"k" * 32,
    )
    return Site(config, clock=clock)


def sample(site: Site, name: str, **labels: str) -> float:
    """The value of one sample in the app's registry (0 when it was never counted)."""
    value = site.web.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


# -- health and readiness --------------------------------------------------------------------


def test_healthz_answers_without_the_database(site: Site) -> None:
    """/healthz says the process is up, uncached."""
    response = site.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert response.headers["cache-control"] == "no-store"


def test_readyz_is_ready_in_memory_and_on_sqlite(site: Site, tmp_path: Path) -> None:
    """/readyz answers 200 when the storage answers and has its tables."""
    assert site.client.get("/readyz").json() == {"ready": True}
    on_file = sqlite_site(tmp_path / "ready.sqlite3")
    response = on_file.client.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"ready": True})


def test_readyz_is_503_schema_missing_without_the_tables(tmp_path: Path) -> None:
    """A database that lost regflow's tables answers 503 with the reason schema_missing."""
    path = tmp_path / "lost.sqlite3"
    site = sqlite_site(path)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE regflow_flows")
    response = site.client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"ready": False, "reason": "schema_missing"}
    assert site.client.get("/healthz").status_code == 200  # the process is still up


def test_readyz_is_503_schema_missing_without_the_rate_limits_table(tmp_path: Path) -> None:
    """The rate limits' counters are part of the schema: without their table, 503."""
    path = tmp_path / "old.sqlite3"
    site = sqlite_site(path)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE regflow_rate_limits")
    response = site.client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"ready": False, "reason": "schema_missing"}
    site.get("/")
    assert site.post("/register/start", {"customer_type": "consumer"}).status_code == 503


def test_readyz_is_503_database_unavailable_when_the_file_is_gone(tmp_path: Path) -> None:
    """A database that cannot be opened answers 503 database_unavailable, with its reason."""
    folder = tmp_path / "data"
    folder.mkdir()
    site = sqlite_site(folder / "gone.sqlite3")
    site.web.regflow.storage.engine.dispose()  # type: ignore[attr-defined]  # SqlStore's pool
    shutil.rmtree(folder)  # the file, its journal and the folder: SQLite cannot open it again
    response = site.client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "ready": False,
        "reason": "database_unavailable",
        "detail": "file_unopenable",
    }


# -- the funnel and the request metrics -----------------------------------------------------


def test_the_funnel_counts_every_outcome_by_reason(site: Site) -> None:
    """Walks to each end: started, reached per state, outcomes by reason, the warning."""
    site.register(ANNA)
    site.client.cookies.clear()
    site.register(MATTI)  # completed, district heating not linked
    for person in (MIKKO, ERIK, JOHAN):
        site.client.cookies.clear()
        site.identify(person)
    site.client.cookies.clear()
    site.start()
    site.event("bank_not_listed")
    site.client.cookies.clear()
    site.to_details(EMMA)
    site.event("cancel")
    site.client.cookies.clear()
    site.to_details(EMMA)
    site.clock.advance(dt.timedelta(hours=1))
    assert site.follow(site.get("/register/details")).status_code == 410
    assert site.follow(site.get("/register/expired")).status_code == 410  # seen again

    assert sample(site, "regflow_web_flows_started_total") == 8
    outcomes = {
        ("completed", "none"): 2,
        ("needs_customer_service", "incomplete_contract_data"): 1,
        ("needs_customer_service", "customer_not_found"): 1,
        ("needs_customer_service", "bank_not_listed"): 1,
        ("already_registered", "already_registered"): 1,
        ("cancelled", "cancelled"): 1,
        ("expired", "expired"): 1,
    }
    for (outcome, reason), count in outcomes.items():
        assert sample(site, "regflow_web_flow_outcomes_total", outcome=outcome, reason=reason) == (
            count
        ), (outcome, reason)
    total = sample(site, "regflow_web_flow_warnings_total", warning="district_heating_not_linked")
    assert total == 1
    reached = {
        ("choosing_bank", "1"): 8,
        ("awaiting_bank", "1"): 7,
        ("confirming_personal_id", "2"): 4,  # Anna, Matti, and Emma twice
        ("entering_details", "3"): 4,
        ("reviewing", "4"): 2,
        ("completed", "0"): 2,
        ("needs_customer_service", "0"): 3,
        ("expired", "0"): 1,
    }
    for (state, phase), count in reached.items():
        assert sample(site, "regflow_web_flow_reached_total", state=state, phase=phase) == count, (
            state
        )


def test_a_bank_failure_goes_back_to_choosing_and_counts_it(site: Site) -> None:
    """A cancel at the bank is the table's way back to phase 1: reached again, no outcome."""
    site.start()
    site.at_bank()
    site.answer_bank("cancel")
    assert 'data-testid="page-choosing_bank"' in site.page
    assert sample(site, "regflow_web_flow_reached_total", state="choosing_bank", phase="1") == 2
    assert sample(site, "regflow_web_flow_reached_total", state="awaiting_bank", phase="1") == 1
    code = site.web.service.view(site.flow_id).last_error
    assert code is not None
    assert sample(site, "regflow_web_bank_failures_total", code=code) == 1


def test_requests_are_counted_by_route_template(site: Site) -> None:
    """Requests and latency are labelled by the route, never the raw path or its query."""
    site.register(ANNA)
    site.client.get("/static/app.js")
    site.client.get("/no/such/page?personal_id=131052-308T")
    requests = "regflow_web_requests_total"
    assert sample(site, requests, method="GET", route="/register/callback", status="303") == 1
    assert sample(site, requests, method="POST", route="/register/approve", status="303") == 1
    assert sample(site, requests, method="GET", route="/register/complete", status="200") == 1
    assert sample(site, requests, method="GET", route="/static", status="200") == 1
    assert sample(site, requests, method="GET", route="unmatched", status="404") == 1
    count = sample(
        site,
        "regflow_web_request_duration_seconds_count",
        method="POST",
        route="/register/submit_details",
    )
    assert count == 1
    text = site.client.get("/metrics")
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain")
    assert 'regflow_web_flow_outcomes_total{outcome="completed",reason="none"} 1.0' in text.text
    assert "131052-308T" not in text.text
    assert "callback?" not in text.text


_WORKER = """
import sys
from starlette.testclient import TestClient
from regflow_web import create_app
client = TestClient(create_app())
for _ in range(int(sys.argv[1])):
    assert client.get("/healthz").status_code == 200
print(client.get("/metrics").text if sys.argv[1] == "0" else "")
"""


def test_multiprocess_mode_adds_up_every_workers_requests(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, /metrics of any process counts every process's requests."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }

    def worker(requests: int) -> str:
        done = subprocess.run(  # this interpreter, a fixed script
            [sys.executable, "-c", _WORKER, str(requests)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return done.stdout

    worker(3)
    worker(2)
    text = worker(0)
    assert 'regflow_web_requests_total{method="GET",route="/healthz",status="200"} 5.0' in text


# -- several workers -----------------------------------------------------------------------------


def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset the variables `main` reads or sets, restored after the test (setenv first, so that
    monkeypatch also undoes what `main` sets with `os.environ.setdefault`)."""
    for name in (
        "REGFLOW_WEB_SECRET",
        "REGFLOW_BANK",
        "REGFLOW_WEB_RELAY",
        "REGFLOW_DEMO",
        "REGFLOW_DATABASE_URL",
    ):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("env", "refusal"),
    [
        ({}, "REGFLOW_WEB_SECRET"),
        ({"REGFLOW_WEB_SECRET": "s" * 40}, "REGFLOW_BANK=oidc"),
    ],
)
def test_workers_refuse_what_cannot_be_shared(
    env: dict[str, str], refusal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m regflow_web --workers 2` refuses a per-process secret or simulated bank."""
    from regflow_web import __main__ as entry

    clean_env(monkeypatch)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["regflow_web", "--workers", "2"])
    served: list[object] = []
    monkeypatch.setattr(entry.uvicorn, "run", lambda *a, **k: served.append((a, k)))
    with pytest.raises(SystemExit, match=refusal):
        entry.main()
    assert served == []


def test_workers_run_the_factory_without_the_in_app_relay(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a shared secret and the OIDC bank, uvicorn gets the factory and the relay is off."""
    from regflow_web import __main__ as entry
    from regflow_web.app import app_from_env

    clean_env(monkeypatch)
    monkeypatch.setenv("REGFLOW_WEB_SECRET", "s" * 40)
    monkeypatch.setenv("REGFLOW_BANK", "oidc")
    monkeypatch.setattr(sys, "argv", ["regflow_web", "--workers", "3"])
    served: list[tuple[tuple[object, ...], dict[str, object]]] = []
    monkeypatch.setattr(entry.uvicorn, "run", lambda *a, **k: served.append((a, k)))
    entry.main()
    [(args, options)] = served
    assert args == ("regflow_web.app:app_from_env",)
    assert options["factory"] is True
    assert options["workers"] == 3
    assert os.environ["REGFLOW_WEB_RELAY"] == "0"
    assert callable(app_from_env)


_STARTUP = """
import gc
from starlette.testclient import TestClient
from regflow_web import create_app
app = create_app()
templates = app.state.web.templates
cached = lambda: min(len(env.cache or {}) for env in templates.values())
before = (gc.get_freeze_count(), cached())
with TestClient(app):  # runs the lifespan, as a server does
    print(before, gc.get_freeze_count() > 50_000, cached() == len(templates["sv"].list_templates()))
"""


def test_each_process_warms_up_and_freezes_its_startup_objects_before_serving() -> None:
    """The lifespan compiles every template of every language and gc.freeze()s what it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", _STARTUP],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["(0,", "0)", "True", "True"]


def test_a_database_outage_mid_registration_answers_503_and_the_flow_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event or the bank callback whose unit of work fails answers the "unavailable" page,
    even when the database is back a moment later; never a 500 nor a misleading step. Then the
    same form goes through."""
    site = sqlite_site(tmp_path / "outage.sqlite3")
    site.to_details(ANNA)
    details = site.page
    storage = site.web.regflow.storage
    working = storage.unit_of_work

    def down_once() -> object:
        monkeypatch.setattr(storage, "unit_of_work", working)  # back for the next call
        raise DatabaseUnavailable("storage", "connection_refused")

    for request in (
        site.submit,
        lambda: site.client.get("/register/callback", params={"state": "s", "code": "c"}),
    ):
        monkeypatch.setattr(storage, "unit_of_work", down_once)
        answer = request()
        assert answer.status_code == 503
        assert 'data-testid="page-unavailable"' in answer.text
    site.page = details
    site.submit()
    assert 'data-testid="page-reviewing"' in site.page
