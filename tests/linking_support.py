"""Test support for linking contracts after registration (`regflow.linking`).

`customer(i, heating_site=...)`: person `i` of `tests.storage_support` with a district heating
contract too, linkable or not. `worker_link` is a process entry point for the PostgreSQL race;
it lives in an importable module because "forkserver" children import their target by name.
"""

from __future__ import annotations

from typing import Any

import attrs

from regflow import Contract, ContractKind, CustomerRecord
from tests.storage_support import make_service, person


def customer(
    i: int, *, heating_site: str | None = None, extra: tuple[Contract, ...] = ()
) -> CustomerRecord:
    """Person `i` with an electricity contract and a district heating contract whose heat
    delivery point is `heating_site` (None: not linkable)."""
    record = person(i)
    heating = Contract(ContractKind.district_heating, f"K-{i:07d}", heating_site)
    return attrs.evolve(record, contracts=(*record.contracts, heating, *extra))


def customers(n: int, *, heating_site: str | None = None) -> list[CustomerRecord]:
    """`customer(0)` to `customer(n - 1)`."""
    return [customer(i, heating_site=heating_site) for i in range(n)]


def worker_link(url: str, n: int, barrier: Any, results: Any) -> None:
    """Wait for the others, then run one linking pass with every heating site now known."""
    service = make_service(url, customers(n, heating_site="DH-1"))
    try:
        service.storage.accounts.find_by_email("warm-up@example.fi")  # connect before the race
        barrier.wait(timeout=60)
        report = service.link_pending_contracts(batch=7)
        results.put(("ok", report.linked, report.failed))
    except Exception as error:  # a bug: report it to the test rather than dying silently
        results.put(("crash", repr(error), 0))
    finally:
        service.storage.close()  # type: ignore[attr-defined]  # an SqlStore
