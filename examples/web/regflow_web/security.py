"""Cookies, CSRF tokens, the login session and the security headers of every response.

- The flow id travels only in the `regflow_flow` cookie: HttpOnly, SameSite=Lax, path `/`.
- Every form carries a CSRF token: for a flow's forms an HMAC of the flow id (one token per
  flow, nothing to store), for the others (start, login, language, the simulated bank) an HMAC
  of the `regflow_client` cookie, a random value each browser gets on its first page.
- The login session is the account id, signed with the time it was issued.
- Headers: a Content-Security-Policy without inline script or style, `frame-ancestors
  'none'`, `Referrer-Policy: no-referrer`, `X-Content-Type-Options: nosniff`, and
  `Cache-Control: no-store` on every page (the pages show personal data; static files are
  cacheable).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FLOW_COOKIE: Final = "regflow_flow"
CLIENT_COOKIE: Final = "regflow_client"
SESSION_COOKIE: Final = "regflow_session"
LANGUAGE_COOKIE: Final = "regflow_language"
NOTICE_COOKIE: Final = "regflow_notice"
SESSION_TTL: Final = 8 * 3600  # seconds a login lasts
# A flow id is `secrets.token_urlsafe(24)`; anything else in the cookie is not looked up.
_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS: Final = (
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
)


def well_formed(token: str | None) -> str | None:
    """`token` if it looks like an id regflow issues (cookie values are untrusted), else None."""
    return token if token is not None and _TOKEN.fullmatch(token) else None


def new_client_id() -> str:
    """A random value for the `regflow_client` cookie."""
    return secrets.token_urlsafe(24)


class Signer:
    """HMAC-SHA256 with the app's secret key, for CSRF tokens and the session."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, purpose: str, value: str) -> str:
        message = f"{purpose}\0{value}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def csrf_token(self, *, flow_id: str | None = None, client_id: str | None = None) -> str:
        """The token forms carry: per flow when there is one, else per browser."""
        if flow_id is not None:
            return self._mac("flow", flow_id)
        return self._mac("client", client_id or "")

    def csrf_ok(
        self, offered: object, *, flow_id: str | None = None, client_id: str | None = None
    ) -> bool:
        """Whether `offered` is the token for this flow (or browser)."""
        if not isinstance(offered, str) or (flow_id is None and client_id is None):
            return False
        expected = self.csrf_token(flow_id=flow_id, client_id=client_id)
        return hmac.compare_digest(expected.encode(), offered.encode("utf-8", "replace"))

    def session(self, account_id: str, *, now: float | None = None) -> str:
        """A session cookie value naming `account_id`."""
        issued = str(int(time.time() if now is None else now))
        return f"{account_id}.{issued}.{self._mac('session', f'{account_id}.{issued}')}"

    def session_account(self, value: str | None, *, now: float | None = None) -> str | None:
        """The account id a session cookie names, if it is genuine and not too old."""
        if not value or value.count(".") != 2:
            return None
        account_id, issued, mac = value.split(".")
        expected = self._mac("session", f"{account_id}.{issued}")
        if not hmac.compare_digest(expected.encode(), mac.encode("utf-8", "replace")):
            return None
        if (
            not issued.isdigit()
            or (time.time() if now is None else now) - int(issued) > SESSION_TTL
        ):
            return None
        return account_id


class SecurityHeaders:
    """ASGI middleware adding the security headers, and no-store to every non-static answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
