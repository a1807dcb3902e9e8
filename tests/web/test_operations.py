"""What operators need from the web app: /healthz, /readyz, /metrics and the registration funnel."""

from __future__ import annotations

import shutil
import sqlite3
from typing import TYPE_CHECKING

from regflow import Argon2Hasher
from regflow.adapters.memory import ManualClock
from regflow.bootstrap import Config
from regflow_web import WebConfig
from regflow_web.config import SIM_BANK_PATH
from tests.web.site import Site

if TYPE_CHECKING:
    from pathlib import Path

ANNA, MATTI, MIKKO, ERIK, JOHAN = (
    "131052-308T",
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
