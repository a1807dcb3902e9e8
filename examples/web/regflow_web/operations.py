"""What an operator needs from the web app: health, readiness, Prometheus metrics, request logs.

- `/healthz`: the process answers (no I/O). `/readyz`: the database answers and has regflow's
  tables (the rate limits' counters too, when they are on); 503 with `{"ready": false,
  "reason": ...}` (`database_unavailable` and its reason, `schema_missing`, `adapter_error`)
  when not. A load balancer sends traffic on `/readyz`.
- `/metrics`: Prometheus text. With `PROMETHEUS_MULTIPROC_DIR` set (one empty folder shared
  by every worker of a server, emptied before it starts), each worker writes its values there
  and any worker answers for all of them (prometheus-client's multiprocess mode).
- Requests and latency per route *template* (`/static` is one route for every file, a path no
  route matches is `unmatched`), so that the labels stay few whatever the clients ask for.
- The registration funnel, read from the library's own transitions: after each event the
  service returns the flow, whose last audit entry is the transition the state table just took
  (from, to, outcome code). The app counts that; it re-derives no rule of its own.

Nothing here logs or labels personal data: routes are templates, never raw paths or queries
(the bank's callback carries its `code` and `state` in the query), and flows are counted by
state and reason code only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import TYPE_CHECKING, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from regflow import AdapterError, DatabaseUnavailable, FlowNotFound, RegistrationFlow, State, ui

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from regflow.ports import RateLimitStorage, Storage

log = logging.getLogger(__name__)

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
# A well-formed flow id no flow has: reading it touches the flows table and finds nothing.
_PROBE_FLOW: Final = "readiness-probe-" + "0" * 27
_PROBE_EMAIL: Final = "readiness-probe@invalid"
_PROBE_KEY: Final = "regflow/readiness-probe"  # no limit counts under this key
# Latency buckets for pages that take milliseconds, except the one that hashes a password.
_BUCKETS: Final = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


def readiness(
    storage: Storage, rate_limits: RateLimitStorage | None = None
) -> tuple[bool, dict[str, object]]:
    """Is the database reachable with regflow's tables? (ready, JSON body).

    Reads through the library's ports, so that the SQL adapter's typed errors say why not:
    an account lookup and a flow lookup, which find nothing and write nothing, and with
    `rate_limits` (the counters the service counts in) a counter that is not there.
    """
    try:
        storage.accounts.exists_for_email(_PROBE_EMAIL)
        with contextlib.suppress(FlowNotFound):
            storage.flows.load(_PROBE_FLOW)
        if rate_limits is not None:
            rate_limits.get(_PROBE_KEY)
    except DatabaseUnavailable as error:
        return False, {"ready": False, "reason": error.code, "detail": error.reason}
    except AdapterError as error:  # SchemaMissing, or another failure of the database
        return False, {"ready": False, "reason": error.code}
    return True, {"ready": True}


class Metrics:
    """The app's Prometheus metrics, in a registry of their own (one per app, so that tests can
    build many apps in one process; in multiprocess mode the values live in the shared folder)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "regflow_web_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "regflow_web_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.flows_started = Counter(
            "regflow_web_flows_started", "Registrations started.", registry=registry
        )
        self.reached = Counter(
            "regflow_web_flow_reached",
            "Transitions into a state (phase 0 for the terminal ones), by state.",
            ["state", "phase"],
            registry=registry,
        )
        self.outcomes = Counter(
            "regflow_web_flow_outcomes",
            "Registrations ended, by terminal state and the outcome's reason (none: completed).",
            ["outcome", "reason"],
            registry=registry,
        )
        self.bank_failures = Counter(
            "regflow_web_bank_failures",
            "Bank answers that sent the person back to choosing a bank, by the failure's code.",
            ["code"],
            registry=registry,
        )
        self.warnings = Counter(
            "regflow_web_flow_warnings",
            "Completed registrations with a warning (district_heating_not_linked, ...).",
            ["warning"],
            registry=registry,
        )

    # -- the funnel -----------------------------------------------------------------------------

    def started(self, flow: RegistrationFlow) -> None:
        """A flow was started (its first state counts as reached)."""
        self.flows_started.inc()
        self._reached(flow.state)

    def transition(self, flow: RegistrationFlow) -> None:
        """An event returned `flow`: count the transition its last audit entry records."""
        audit = flow.audit
        if not audit:
            return
        entry = audit[-1]  # the library logs it (`regflow.flow`), by the short log id
        if entry.event == "complete_identification" and entry.dest is State.choosing_bank:
            self.bank_failures.labels(code=entry.outcome).inc()  # the bank said no: its code
        self._reached(entry.dest)
        if entry.dest.terminal:
            outcome = flow.outcome
            reason = outcome.reason if outcome is not None and outcome.reason else "none"
            self.outcomes.labels(outcome=str(entry.dest), reason=reason).inc()
            for warning in outcome.warnings if outcome is not None else ():
                self.warnings.labels(warning=warning).inc()

    def expired(self) -> None:
        """An event found its flow past its expiry (the library moved it to `expired`)."""
        self._reached(State.expired)
        self.outcomes.labels(outcome=str(State.expired), reason=str(State.expired)).inc()

    def _reached(self, state: State) -> None:
        self.reached.labels(state=str(state), phase=str(ui.PHASE_OF.get(state, 0))).inc()

    # -- exposition -----------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format: every worker's in multiprocess mode."""
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
            return generate_latest(registry)
        return generate_latest(self.registry)

    content_type: Final = CONTENT_TYPE_LATEST


class RequestMetrics:
    """ASGI middleware: count and time each HTTP request by its route template; log it.

    The route is known once the router has matched (`scope["route"]`); a mounted app (the
    static files) is its prefix in `mounts`, as the mount's own scope does not come back here;
    a path nothing matches is `unmatched`. The log line names the method, route, status and time.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, mounts: tuple[str, ...] = ()) -> None:
        self.app = app
        self.metrics = metrics
        self.mounts = mounts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or self._mount(scope["path"])
            method = scope["method"]
            self.metrics.requests.labels(method=method, route=route, status=str(status)).inc()
            self.metrics.latency.labels(method=method, route=route).observe(elapsed)
            log.debug(
                "%s %s %d %.1f ms",
                method,
                route,
                status,
                elapsed * 1000,
                extra={"method": method, "route": route, "status": status, "ms": elapsed * 1000},
            )

    def _mount(self, path: str) -> str:
        return next((m for m in self.mounts if path.startswith(m + "/")), "unmatched")
