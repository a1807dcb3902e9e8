"""Benchmark the flow core: restore + one event + snapshot, one event, and memory per live flow.

    .venv/bin/python benchmarks/machine.py [--rounds N]

Prints medians (and p99) in microseconds beside a hand-written, dict-based state machine doing
the same steps in the same run, and the ratio between them. Targets (issue 2): restore + event +
snapshot <= 50 us median and <= 40x the baseline; <= 4 KiB per live flow. A benchmark, not a
test: figures vary with the machine and its load, so nothing here asserts.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from regflow import Argon2Hasher, RegistrationFlow, State
from regflow.adapters.memory import SimulatedBank, demo_ports

# -- the baseline: the same flow steps as a plain dict table, no library --------------------------

BASELINE_TABLE = {
    ("choosing_bank", "select_bank"): "awaiting_bank",
    ("awaiting_bank", "complete_identification"): "confirming_personal_id",
    ("confirming_personal_id", "confirm_personal_id"): "entering_details",
    ("entering_details", "submit_details"): "reviewing",
    ("reviewing", "edit"): "entering_details",
    ("reviewing", "approve"): "completed",
}


class BaselineFlow:
    """A hand-written state machine: a dict of transitions, a dict of data, a guard check."""

    __slots__ = ("audit", "data", "state")

    def __init__(self, state: str, data: dict[str, Any], audit: list[list[str]]) -> None:
        self.state, self.data, self.audit = state, data, audit

    @classmethod
    def restore(cls, snapshot: dict[str, Any]) -> BaselineFlow:
        return cls(snapshot["state"], copy.copy(snapshot["data"]), list(snapshot["audit"]))

    def fire(self, event: str, now: str) -> None:
        dest = BASELINE_TABLE.get((self.state, event))
        if dest is None:
            raise ValueError(event)
        if event == "confirm_personal_id" and not self.data.get("person"):
            raise ValueError("not identified")
        data = dict(self.data)
        data["personal_id_confirmed"] = True
        self.audit.append([now, event, self.state, dest, "ok"])
        self.state, self.data = dest, data

    def snapshot(self) -> dict[str, Any]:
        return {"state": self.state, "data": dict(self.data), "audit": list(self.audit)}


# -- measurement ---------------------------------------------------------------------------------


def timed(fn: Callable[[], object], rounds: int, batch: int = 50) -> tuple[float, float]:
    """Median and p99 of one call, in microseconds, over `rounds` batches."""
    for _ in range(batch * 5):  # warm up
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter_ns() - start) / batch / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def flow_in_confirming(ports: Any) -> RegistrationFlow:
    """A flow identified as Anna-Liisa Virtanen, in confirming_personal_id."""
    flow = RegistrationFlow.start(ports, language="fi")
    redirect = flow.select_bank("nordea")
    bank = ports.bank
    assert isinstance(bank, SimulatedBank)
    flow.complete_identification(bank.approve(redirect, personal_id="131052-308T"))
    assert flow.state is State.confirming_personal_id
    return flow


def memory_per_flow(snapshot: dict[str, Any], ports: Any, count: int = 2000) -> float:
    """Bytes per live flow restored from `snapshot` (each with its own data), by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    flows = [
        RegistrationFlow.restore(json.loads(json.dumps(snapshot)), ports) for _ in range(count)
    ]
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    size = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert len(flows) == count
    return size / count


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    args = parser.parse_args()

    ports = demo_ports(hasher=Argon2Hasher.insecure_fast())
    snapshot = json.loads(json.dumps(flow_in_confirming(ports).snapshot()))
    baseline_snapshot = {
        "state": "confirming_personal_id",
        "data": {"person": {"personal_id": "131052-308T"}, "personal_id_confirmed": False},
        "audit": [["2026-01-15T09:00:00+00:00", "start", "choosing_bank", "choosing_bank", "ok"]],
    }

    def regflow_round_trip() -> None:
        flow = RegistrationFlow.restore(snapshot, ports)
        flow.confirm_personal_id()
        flow.snapshot()

    def baseline_round_trip() -> None:
        flow = BaselineFlow.restore(baseline_snapshot)
        flow.fire("confirm_personal_id", "2026-01-15T09:00:00+00:00")
        flow.snapshot()

    # The round trip first: the pools below hold tens of thousands of live objects, which would
    # make every garbage collection during it slower and charge that to the flow.
    round_trip = (timed(regflow_round_trip, args.rounds), timed(baseline_round_trip, args.rounds))
    restored = [RegistrationFlow.restore(snapshot, ports) for _ in range(args.rounds * 60)]
    pool = iter(restored)
    baselines = [BaselineFlow.restore(baseline_snapshot) for _ in range(args.rounds * 60)]
    bpool = iter(baselines)

    rows = [
        ("restore + event + snapshot", *round_trip),
        (
            "one event",
            timed(lambda: next(pool).confirm_personal_id(), args.rounds),
            timed(lambda: next(bpool).fire("confirm_personal_id", "t"), args.rounds),
        ),
        (
            "restore",
            timed(lambda: RegistrationFlow.restore(snapshot, ports), args.rounds),
            timed(lambda: BaselineFlow.restore(baseline_snapshot), args.rounds),
        ),
        (
            "snapshot",
            timed(restored[0].snapshot, args.rounds),
            timed(baselines[0].snapshot, args.rounds),
        ),
    ]
    print(f"{'step':<28} {'regflow median':>15} {'p99':>9} {'baseline median':>16} {'ratio':>7}")
    for name, (median, p99), (base_median, _) in rows:
        print(
            f"{name:<28} {median:>12.1f} us {p99:>6.1f} us {base_median:>13.2f} us "
            f"{median / base_median:>6.1f}x"
        )
    per_flow = memory_per_flow(snapshot, ports)
    print(f"memory per live flow (confirming_personal_id, own data): {per_flow / 1024:.2f} KiB")
    print("targets: restore + event + snapshot <= 50 us median and <= 40x baseline; <= 4 KiB/flow")


if __name__ == "__main__":
    main()
