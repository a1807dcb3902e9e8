"""The benchmark scripts run on every adapter and print a full row for each.

Tiny sizes: the figures themselves vary with the machine and are not checked, only that each
script measures what its table says (a positive rate, CPU and latency for every adapter).
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SERVICE_ADAPTERS = ["memory", "sqlite", "sqlite*", "postgresql", "postgresql*"]


def run(script: str, *args: str) -> list[list[str]]:
    """Run a benchmark script; the words of each line it printed."""
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [line.split() for line in result.stdout.splitlines() if line.strip()]


def is_local(url: str) -> bool:
    """Whether `url` names a server on this machine; decided here rather than by the script's
    own check, so that a script that never measures the server fails this test."""
    host = sa.make_url(url).host or "localhost"
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ratio_of_rounded(ratio: float, numerator: float, denominator: float) -> bool:
    """Whether `ratio` (printed to 0.01) can be the quotient of two rates printed to 0.1."""
    low = (numerator - 0.05) / (denominator + 0.05)
    high = (numerator + 0.05) / max(denominator - 0.05, 1e-9)
    return low - 0.005 <= ratio <= high + 0.005


def test_service_benchmark_prints_both_tables_for_every_adapter(postgres_server_url: str) -> None:
    lines = run(
        "service.py",
        "--registrations=2",
        "--hash-rounds=1",
        "--workers=1",
        f"--postgres-url={postgres_server_url}",
    )
    rows = [words for words in lines if words[0] in SERVICE_ADAPTERS]
    assert [words[0] for words in rows] == SERVICE_ADAPTERS * 2  # one process, then workers
    for position, words in enumerate(rows):
        name, numbers, server = words[0], words[1:], words[-1]
        rate, run_rate, ratio, alone_rate, alone_ratio = (float(value) for value in numbers[:5])
        assert min(rate, run_rate, alone_rate) > 0
        # printed with one decimal (rates) and two (ratios): allow for the rounding
        assert ratio_of_rounded(ratio, rate, run_rate)
        assert ratio_of_rounded(alone_ratio, rate, alone_rate)
        assert float(numbers[5]) >= 0  # step p50
        assert float(numbers[6]) >= float(numbers[5])  # step p99
        assert float(words[-2]) > 0  # CPU per registration outside hashing
        measured_server = position < 5 and name.startswith("postgresql")
        if measured_server and is_local(postgres_server_url) and Path("/proc/self/stat").exists():
            assert float(server) >= 0  # 10 ms ticks: two registrations may not reach one
        elif not measured_server:
            assert server == "-"


def test_storage_benchmark_prints_both_adapters(postgres_server_url: str) -> None:
    lines = run("storage.py", "--rounds=3", f"--postgres-url={postgres_server_url}")
    rows = {words[0]: words[1:] for words in lines if words[0] in {"sqlite", "postgresql"}}
    assert set(rows) == {"sqlite", "postgresql"}
    for numbers in rows.values():
        ours_wall, ours_cpu, driver_wall, driver_cpu, added_wall, added_cpu = map(float, numbers)
        assert min(ours_wall, ours_cpu, driver_wall, driver_cpu) > 0
        assert added_wall == pytest.approx(ours_wall - driver_wall, abs=1)
        assert added_cpu == pytest.approx(ours_cpu - driver_cpu, abs=1)


def test_web_benchmark_prints_every_page_with_its_template() -> None:
    """benchmarks/web.py prints, per backend, each page's median and p99 beside its template."""
    rows = run("web.py", "--rounds", "2")
    pages = [r for r in rows if r[:2] == ["GET", "/register/details"]]
    assert pages, rows
    for row in pages:
        assert float(row[2]) > 0
        assert "details.html" in row


def test_http_load_benchmark_completes_every_registration(postgres_server_url: str) -> None:
    """benchmarks/load_http.py: every registration completes on both backends, each page timed."""
    rows = run(
        "load_http.py",
        "--registrations=4",
        "--users=2",
        "--hash-rounds=4",
        f"--postgres-url={postgres_server_url}",
    )
    totals = {r[0]: r for r in rows if r[0] in {"SQLite:", "PostgreSQL:"}}
    assert set(totals) == {"SQLite:", "PostgreSQL:"}, rows
    for words in totals.values():
        assert words[1] == "4", words  # "SQLite: 4 registrations in ..."
    assert not [r for r in rows if r[0] == "error"], rows
    details = [r for r in rows if r[:2] == ["POST", "/register/submit_details"]]
    assert len(details) == 2
    assert all(r[-1] == "(hashes)" for r in details)


def test_rate_limit_benchmark_prints_every_storage(postgres_server_url: str) -> None:
    """benchmarks/rate_limits.py prints a hit's p50 and p99 for memory, SQLite and PostgreSQL,
    the SQL ones beside a plain write."""
    lines = run("rate_limits.py", "--rounds=20", f"--postgres-url={postgres_server_url}")
    rows = {
        words[0]: words[1:] for words in lines if words[0] in {"memory", "sqlite", "postgresql"}
    }
    assert set(rows) == {"memory", "sqlite", "postgresql"}
    assert float(rows["memory"][0]) > 0
    for name in ("sqlite", "postgresql"):
        assert min(map(float, rows[name])) > 0
