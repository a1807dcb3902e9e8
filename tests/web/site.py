"""A small driver for the web example over HTTP: starlette's TestClient, redirects by hand.

`Site` walks the registration the way a browser with JavaScript off would: it reads each page's
forms (their CSRF tokens and hidden values) from the HTML and posts them. Tests assert on
status codes, headers, stable `data-testid`s and the stored flows and accounts.
"""

from __future__ import annotations

import html
import re
from typing import Any, Final

import httpx
from starlette.testclient import TestClient

from regflow import Argon2Hasher, RateLimits
from regflow.adapters.memory import ManualClock
from regflow.bootstrap import Config
from regflow_web import WebConfig, create_app
from regflow_web.app import Web
from regflow_web.config import SIM_BANK_PATH
from regflow_web.security import FLOW_COOKIE

PASSWORD: Final = "Kes\u00e4-Aamu-2024-Xq"  # meets the guide's rules, shares no name with anyone
_INPUT: Final = re.compile(r"<input\b([^>]*)>")
_ATTR: Final = re.compile(r'([\w-]+)="([^"]*)"')


def attributes(tag: str) -> dict[str, str]:
    """The attributes of one HTML tag, unescaped."""
    return {k: html.unescape(v) for k, v in _ATTR.findall(tag)}


def form_values(page: str, action: str) -> dict[str, str]:
    """The hidden and text values of the first form posting to `action`."""
    match = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.DOTALL)
    assert match is not None, f"no form posting to {action}"
    values = {}
    for tag in _INPUT.findall(match.group(1)):
        attrs = attributes(tag)
        kind = attrs.get("type", "text")
        if "name" not in attrs or kind in {"radio", "submit", "password"}:
            continue
        if kind == "checkbox":
            if "checked" in tag:
                values[attrs["name"]] = attrs.get("value", "on")
            continue
        values[attrs["name"]] = attrs.get("value", "")
    for name, body in re.findall(
        r'<select[^>]*name="(\w+)"[^>]*>(.*?)</select>', match.group(1), re.DOTALL
    ):
        selected = re.search(r'<option value="([^"]*)" selected', body)
        values[name] = selected.group(1) if selected else ""
    return values


def text_of(page: str, name: str) -> str | None:
    """The text inside the element with `data-testid=name`, or None when there is none."""
    match = re.search(rf'data-testid="{re.escape(name)}"[^>]*>(.*?)<', page, re.DOTALL)
    return html.unescape(match.group(1)).strip() if match else None


class Site:
    """One browser on one app."""

    def __init__(
        self,
        config: WebConfig | None = None,
        *,
        clock: ManualClock | None = None,
        rate_limits: RateLimits | None = None,
    ):
        self.clock = clock or ManualClock()
        self.config = config or WebConfig(
            regflow=Config(
                demo=True,
                simulated_bank_url=SIM_BANK_PATH,
                rate_limits=rate_limits or RateLimits(),
            ),
            hasher=Argon2Hasher.insecure_fast(),
            clock=self.clock,
            secret_key=b"k" * 32,
        )
        self.app = create_app(self.config)
        self.web: Web = self.app.state.web
        self.client = TestClient(self.app, follow_redirects=False)
        self.page = ""  # the last page's HTML
        self.path = ""

    # -- HTTP -------------------------------------------------------------------------------

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET `path`, and remember the page."""
        response = self.client.get(path, **kwargs)
        self.page, self.path = response.text, path
        return response

    def follow(self, response: httpx.Response, limit: int = 6) -> httpx.Response:
        """Follow 303s (and 307s) like a browser, to the page they end at."""
        while response.status_code in {302, 303, 307} and limit:
            response = self.get(response.headers["location"])
            limit -= 1
        return response

    def post(self, action: str, data: dict[str, str], *, follow: bool = True) -> httpx.Response:
        """Post the current page's form for `action`, with `data` added."""
        values = {**form_values(self.page, action), **data}
        response = self.client.post(action, data=values)
        if response.status_code != 303 or not follow:
            self.page = response.text
            return response
        return self.follow(response)

    def event(self, name: str, **data: str) -> httpx.Response:
        """Post the event `name` from the current page."""
        return self.post(f"/register/{name}", data)

    # -- the registration -----------------------------------------------------------------------

    @property
    def flow_id(self) -> str:
        """The flow id from the cookie."""
        value = self.client.cookies.get(FLOW_COOKIE)
        assert value, "no flow cookie"
        return value

    def snapshot(self) -> tuple[dict[str, Any], int]:
        """The stored snapshot of the current flow, and its version."""
        stored = self.web.regflow.storage.flows.load(self.flow_id)
        return stored.snapshot, stored.version

    def start(self) -> httpx.Response:
        """From the start page to phase 1."""
        self.get("/")
        return self.post("/register/start", {"customer_type": "consumer"})

    def at_bank(self, bank: str = "nordea") -> httpx.Response:
        """Choose `bank` in phase 1 and arrive at the simulated bank's page."""
        return self.event("select_bank", bank_id=bank)

    def answer_bank(self, answer: str = "approve", personal_id: str = "131052-308T") -> Any:
        """Answer on the simulated bank's page, then follow the callback."""
        return self.post(SIM_BANK_PATH, {"answer": answer, "personal_id": personal_id})

    def identify(self, personal_id: str = "131052-308T") -> httpx.Response:
        """Start and identify as `personal_id`: lands where that person's flow goes."""
        self.start()
        self.at_bank()
        return self.answer_bank("approve", personal_id)

    def to_details(self, personal_id: str = "131052-308T") -> httpx.Response:
        """Through phases 1 and 2 to phase 3."""
        self.identify(personal_id)
        return self.event("confirm_personal_id")

    def submit(self, password: str = PASSWORD, **changes: str) -> httpx.Response:
        """Submit phase 3's form as shown, with `changes`."""
        return self.event("submit_details", password=password, **changes)

    def register(self, personal_id: str = "131052-308T", **changes: str) -> httpx.Response:
        """The whole registration to the completed page."""
        self.to_details(personal_id)
        self.submit(**changes)
        return self.event("approve")
