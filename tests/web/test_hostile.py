"""Never a 500: random and hostile requests to every route (issue 10, item 4).

Hypothesis sends form bodies with missing, unknown, huge, NUL-laden and invalid-UTF-8 fields
(lone surrogates encoded as bytes), wrong CSRF tokens, unknown or malformed flow cookies, odd
content types and wrong methods, to every route of the app, with a flow in each state behind
the cookie, and with the client's rate limits spent or not. Every answer must be below 500, and
a refused request (an answer of 400 or more,
a POST without the right CSRF token, any GET but the bank's callback) must leave the stored
flow exactly as it was: same snapshot, same version.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_from_bytes

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from regflow import ContactDetails, RateLimits
from regflow.adapters.memory import SimulatedBank
from regflow_web.app import CALLBACK_PATH
from tests.web.site import PASSWORD, Site

FIELDS = [
    "csrf_token",
    "bank_id",
    "review_token",
    "password",
    "given_names",
    "family_name",
    "email",
    "phone",
    "street_address",
    "postal_code",
    "post_office",
    "language",
    "marketing_consent",
    "customer_type",
    "state",
    "answer",
    "personal_id",
    "next",
]
STATES = [
    None,
    "choosing_bank",
    "awaiting_bank",
    "confirming_personal_id",
    "entering_details",
    "reviewing",
    "completed",
]
HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "a\x00b", "\ud800", "\udfff\ud800", "%00", "../../etc", "\u202e"]),
    st.sampled_from(["<huge>", "<emoji>", "<script>alert(1)</script>"]),  # see _bytes
    st.sampled_from(["nordea", "approve", "cancel", "error", "131052-308T", "consumer", "fi"]),
)


# Placeholders keep Hypothesis's reports short; the request carries the real thing.
BIG = {"<huge>": "x" * 100_000, "<emoji>": "\U0001f600" * 5_000}
QUERY_TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["", "\x00", "\ud800", "%00"]))


def _bytes(value: str) -> bytes:
    value = BIG.get(value, value)
    return value.encode("utf-8", "surrogatepass")  # lone surrogates become invalid UTF-8


def _urlencoded(fields: list[tuple[str, str]]) -> bytes:
    return b"&".join(
        quote_from_bytes(_bytes(k)).encode() + b"=" + quote_from_bytes(_bytes(v)).encode()
        for k, v in fields
    )


def _flow_in(site: Site, state: str) -> str:
    """A flow driven through the library to `state`; returns its id."""
    service = site.web.service
    flow = service.start(language="sv")
    if state == "choosing_bank":
        return str(flow.id)
    flow = service.select_bank(flow.id, "nordea")
    if state == "awaiting_bank":
        return str(flow.id)
    bank = site.web.regflow.ports.bank
    assert isinstance(bank, SimulatedBank)
    flow = service.complete_identification(
        flow.id, bank.approve(flow.redirect, personal_id="131052-308T")
    )
    if state == "confirming_personal_id":
        return str(flow.id)
    flow = service.confirm_personal_id(flow.id)
    if state == "entering_details":
        return str(flow.id)
    prefilled: ContactDetails = flow.prefilled
    flow = service.submit_details(flow.id, prefilled, PASSWORD)
    if state == "reviewing":
        return str(flow.id)
    flow = service.approve(flow.id, flow.review_token)
    return str(flow.id)


@st.composite
def requests(draw: st.DrawFn, paths: list[str]) -> dict[str, Any]:
    """One hostile request: method, path, body, content type, cookies and CSRF choice."""
    # Weighted towards requests that get past the first checks, where the bugs would hide.
    events = [p for p in paths if (p.startswith("/register/") and "_" in p) or p.endswith("cancel")]
    path = draw(
        st.one_of(
            st.sampled_from(events),
            st.sampled_from(events),
            st.sampled_from(paths),
            st.sampled_from(["/register/nope", "/x"]),
        )
    )
    method = draw(st.sampled_from(["POST"] * 6 + ["GET"] * 2 + ["PUT", "DELETE", "PATCH"]))
    keys = st.one_of(st.sampled_from(FIELDS), st.text(max_size=10))
    fields = draw(st.lists(st.tuples(keys, HOSTILE_TEXT), max_size=8))
    return {
        "path": path,
        "method": method,
        "fields": fields,
        "query": draw(st.lists(st.tuples(keys, QUERY_TEXT), max_size=4)),
        "content_type": draw(
            st.sampled_from(
                [
                    *["application/x-www-form-urlencoded"] * 6,
                    "multipart/form-data; boundary=xyz",
                    "multipart/form-data",
                    "application/json",
                    None,
                ]
            )
        ),
        "state": draw(st.sampled_from(STATES)),
        "cookie": draw(st.sampled_from(["flow"] * 5 + ["unknown", "garbage", "none"])),
        "csrf": draw(st.sampled_from(["flow"] * 3 + ["wrong"] * 2 + ["client", "missing"])),
        "limits_spent": draw(st.booleans()),
    }


# One request per action: `limits_spent` spends it before the hostile request.
SPENT = RateLimits(start="1/minute", password="1/minute", login="1/minute")


def _routes(site: Site) -> list[str]:
    return sorted({r.path for r in site.app.routes if isinstance(r, Route) and "{" not in r.path})


NASTY = [
    ("bank_id", "nordea"),
    ("review_token", "\x00"),
    ("password", "<huge>"),
    ("email", "\ud800@example.fi"),
    ("given_names", "a\x00b"),
    ("state", "\udfff"),
    ("answer", "approve"),
    ("personal_id", "131052-308T"),
    ("language", "fi"),
    ("next", "//evil.example"),
    ("customer_type", "consumer"),
]


def test_every_route_refuses_a_wrong_token_without_a_change() -> None:
    """Every route, every method, a flow in every state: a wrong or missing CSRF token with
    hostile fields answers < 500 and leaves every stored flow as it was."""
    site = Site()
    flows = {state: _flow_in(site, state) for state in STATES if state is not None}
    stored = {state: site.web.regflow.storage.flows.load(f) for state, f in flows.items()}
    client = site.client
    client.get("/")
    wrong = [None, site.web.signer.csrf_token(flow_id="Q" * 32)]  # missing; another flow's
    for path in [*_routes(site), "/register/nope"]:
        # the other methods are refused before a flow is read: one state is enough for them
        for method, states in [("POST", flows), ("PUT", ["reviewing"]), ("DELETE", ["reviewing"])]:
            for state in states:
                flow_id = flows[state]
                for token in wrong:
                    client.cookies.set("regflow_flow", flow_id)
                    fields = [*NASTY, ("csrf_token", token)] if token else NASTY
                    response = client.request(
                        method,
                        path,
                        content=_urlencoded(fields),
                        headers={"content-type": "application/x-www-form-urlencoded"},
                    )
                    assert response.status_code < 500, (method, path, state)
                    if path.startswith("/register/"):  # the flow's routes refuse it
                        assert response.status_code >= 400, (method, path, state)
    for state, flow_id in flows.items():
        after = site.web.regflow.storage.flows.load(flow_id)
        assert (after.snapshot, after.version) == (stored[state].snapshot, stored[state].version)


def test_no_request_gets_a_500_and_refused_ones_change_nothing() -> None:
    """Random and hostile requests to every route: < 500, and refusals leave the flow as it was."""
    paths = _routes(Site())
    assert "/register/approve" in paths
    assert CALLBACK_PATH in paths

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(requests(paths))
    def hostile(request: dict[str, Any]) -> None:
        # a fresh app each time (~25 ms): every demo person is unregistered
        site = Site(rate_limits=SPENT if request["limits_spent"] else None)
        if request["limits_spent"]:
            limiter = site.web.service.rate_limiter
            assert limiter is not None
            for action in ("start", "password", "login"):
                limiter.hit(action, "testclient")  # TestClient's address: its one request
        client = site.client
        client.cookies.clear()
        client.get("/")  # a client cookie, as a browser has after its first page
        flow_id = _flow_in(site, request["state"]) if request["state"] else None
        if request["cookie"] == "flow" and flow_id:
            client.cookies.set("regflow_flow", flow_id)
        elif request["cookie"] == "unknown":
            client.cookies.set("regflow_flow", "Z" * 32)
        elif request["cookie"] == "garbage":
            client.cookies.set("regflow_flow", "..%00;\\x")
        fields = list(request["fields"])
        if request["csrf"] == "flow" and flow_id:
            fields.append(("csrf_token", site.web.signer.csrf_token(flow_id=flow_id)))
        elif request["csrf"] == "client":
            client_id = client.cookies.get("regflow_client") or ""
            fields.append(("csrf_token", site.web.signer.csrf_token(client_id=client_id)))
        elif request["csrf"] == "wrong":
            fields.append(("csrf_token", "0" * 64))
        before = site.web.regflow.storage.flows.load(flow_id) if flow_id else None
        headers = {}
        if request["content_type"]:
            headers["content-type"] = request["content_type"]
        query = _urlencoded(request["query"]).decode()
        response = client.request(
            request["method"],
            request["path"] + (f"?{query}" if query else ""),
            content=_urlencoded(fields) if request["method"] != "GET" else None,
            headers=headers,
        )
        assert response.status_code < 500, (request, response.text[:500])
        if before is None or flow_id is None:
            return
        right_token = request["csrf"] == "flow" or (
            request["csrf"] == "client" and not request["path"].startswith("/register/")
        )
        refused = (
            response.status_code >= 400
            or (request["method"] == "POST" and not right_token)
            or (request["method"] == "GET" and request["path"] != CALLBACK_PATH)
            or request["cookie"] != "flow"
        )
        after = site.web.regflow.storage.flows.load(flow_id)
        if refused:
            assert (after.snapshot, after.version) == (before.snapshot, before.version), request

    hostile()
