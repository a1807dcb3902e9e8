"""A customer data system on loopback for `regflow.adapters.http_customers`, and its fixture.

`CustomerApi` is a real HTTP server (the standard library's, in a thread) that answers lookups
for the records it holds, the way the JSON Schema says, and that can misbehave on demand:
`api.behave(...)` sets what the next answers do (a status, a delay, a dripping or huge body,
wrong types, another person's record). It records every request it got (`api.requests`), so
tests assert on what travelled: method, path, headers and body.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import pytest
from stdnum.fi import hetu

from regflow.model import CustomerRecord

TOKEN = "test-token-0123456789"


def record_json(record: CustomerRecord) -> dict[str, Any]:
    """A record as the customer data system sends it (the schema's field names)."""
    return {
        "customer_number": record.customer_number,
        "personal_id": record.personal_id,
        "details": attrs.asdict(record.details),
        "contracts": [
            {"kind": str(c.kind), "contract_number": c.contract_number, "site_id": c.site_id}
            for c in record.contracts
        ],
    }


@attrs.frozen
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


# What an answer does: given the lookup's JSON, return (status, headers, body chunks, delay
# between chunks). None: answer normally.
Behaviour = Callable[[Any], tuple[int, dict[str, str], Iterable[bytes], float]]


class _QuietServer(ThreadingHTTPServer):
    """A server that does not print a traceback when a client hangs up (tests do on purpose)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore: the client gave up, as the adapter should on a hostile answer."""


class CustomerApi:
    """The loopback customer data system."""

    def __init__(self, records: Iterable[CustomerRecord], *, token: str | None = TOKEN) -> None:
        self.records = {hetu.compact(r.personal_id): record_json(r) for r in records}
        self.token = token
        self.requests: list[Seen] = []
        self._behaviours: list[Behaviour] = []  # used first to last, the last one stays
        self._lock = threading.Lock()
        self.server = _QuietServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.scheme = "http"

    @property
    def url(self) -> str:
        """The lookup endpoint."""
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}/v1/customer-lookup"

    def behave(self, *behaviours: Behaviour) -> None:
        """Answer the next requests with `behaviours` in turn (the last for all after)."""
        with self._lock:
            self._behaviours = list(behaviours)

    def use_tls(self, context: ssl.SSLContext) -> None:
        """Serve https with `context` (set before `start`)."""
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https"

    def start(self) -> None:
        """Serve in a daemon thread."""
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()

    def _next(self) -> Behaviour | None:
        with self._lock:
            if not self._behaviours:
                return None
            return self._behaviours.pop(0) if len(self._behaviours) > 1 else self._behaviours[0]

    def answer(self, lookup: Any) -> tuple[int, dict[str, str], Iterable[bytes], float]:
        code = lookup.get("personal_id") if isinstance(lookup, dict) else None
        found = self.records.get(str(code))
        if found is None:
            return 404, {}, [b'{"error": "not found"}'], 0.0
        return 200, {}, [json.dumps(found).encode()], 0.0

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # the standard library's name
                """Record the request, then answer as told."""
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                api.requests.append(Seen("POST", self.path, dict(self.headers.items()), body))
                if api.token is not None and self.headers.get("Authorization") != (
                    f"Bearer {api.token}"
                ):
                    self._send(401, {}, [b'{"error": "unauthorised"}'], 0.0)
                    return
                try:
                    lookup = json.loads(body)
                except ValueError:
                    self._send(400, {}, [b'{"error": "bad request"}'], 0.0)
                    return
                behaviour = api._next()
                self._send(*(behaviour(lookup) if behaviour else api.answer(lookup)))

            def _send(
                self, status: int, headers: dict[str, str], chunks: Iterable[bytes], pause: float
            ) -> None:
                parts = list(chunks)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if "Transfer-Encoding" not in headers:
                    headers = {"Content-Length": str(sum(len(p) for p in parts)), **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    for part in parts:
                        self.wfile.write(part)
                        self.wfile.flush()
                        if pause:
                            time.sleep(pause)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should

            def log_message(self, format: str, *args: Any) -> None:  # its name
                """Quiet: the tests read `api.requests`."""

        return Handler


def status(code: int, body: bytes = b"") -> Behaviour:
    """Answer `code` with `body`."""
    return lambda _lookup: (code, {}, [body], 0.0)


def body(data: bytes) -> Behaviour:
    """Answer 200 with `data`."""
    return lambda _lookup: (200, {}, [data], 0.0)


def slow(seconds: float, then: Behaviour) -> Behaviour:
    """Wait `seconds`, then answer as `then` (for example `api.answer`)."""

    def behaviour(lookup: Any) -> tuple[int, dict[str, str], Iterable[bytes], float]:
        time.sleep(seconds)
        return then(lookup)

    return behaviour


def drip(chunks: int, pause: float) -> Behaviour:
    """Answer 200 one byte of whitespace at a time, `pause` seconds apart."""
    return lambda _lookup: (200, {}, [b" "] * chunks, pause)


@pytest.fixture
def customer_api() -> Iterator[CustomerApi]:
    """A loopback customer data system holding the demo customers."""
    from regflow.demo import DEMO_CUSTOMERS

    api = CustomerApi(DEMO_CUSTOMERS)
    api.start()
    yield api
    api.stop()
