"""The browser tests' machinery: a live server, Chromium, axe-core and the screenshots.

- `LiveServer` runs an ASGI app under uvicorn in a thread, on a free loopback port, with the
  app's lifespan; the walks talk to it through a real Chromium.
- `find_chromium` finds Debian's `chromium` (Playwright's own browser download is not used);
  `python3 tasks.py test` installs it where it can, and a missing browser fails the tests.
- `Axe` runs the pinned axe-core (tests/browser/package-lock.json) on what a page shows and
  fails with every WCAG 2.1 A/AA violation, rule by rule and node by node. A page with
  JavaScript disabled cannot run axe itself, so every page's DOM is checked in one
  JavaScript-enabled checker page (see `Axe`).
- `Screenshots` writes docs/screenshots/NAME.png when REGFLOW_UPDATE_SCREENSHOTS=1; a normal
  run only checks that the committed picture exists, so it never dirties the tree.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import threading
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import attrs
import pytest
import uvicorn

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

ROOT: Final = Path(__file__).resolve().parents[2]
BROWSER_TESTS: Final = Path(__file__).resolve().parent
AXE_SCRIPT: Final = BROWSER_TESTS / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS: Final = ROOT / "docs" / "screenshots"
DEFAULT_CHROMIUM: Final = "/usr/bin/chromium"
WCAG_TAGS: Final = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
STARTUP_SECONDS: Final = 10.0


def find_chromium() -> str:
    """The Chromium binary: `REGFLOW_CHROMIUM`, else Debian's, else `chromium` on PATH.

    Fails (never skips) when there is none: CI must run the browser tests.
    """
    configured = os.environ.get("REGFLOW_CHROMIUM")
    candidates = [configured] if configured else [DEFAULT_CHROMIUM, shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "the browser tests need Chromium and found none "
        f"(looked for {'REGFLOW_CHROMIUM=' + configured if configured else DEFAULT_CHROMIUM}): "
        "`python3 tasks.py test` installs Debian's `chromium` when run as root with apt-get; "
        "elsewhere install Chromium and set REGFLOW_CHROMIUM to its path."
    )


def axe_source() -> str:
    """The pinned axe-core script; fails when `npm ci` has not installed it."""
    if not AXE_SCRIPT.is_file():
        pytest.fail(
            "axe-core is not installed for the browser tests: `python3 tasks.py test` installs "
            "it from tests/browser/package-lock.json (npm ci)."
        )
    return AXE_SCRIPT.read_text(encoding="utf-8")


class LiveServer:
    """An ASGI app served by uvicorn in a background thread on 127.0.0.1.

    The port is taken when the server is made, so that `url` is known before the app is built
    (the OIDC walk registers the app's callback at the provider first); `start(app)` serves.
    """

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, app: Any) -> LiveServer:
        """Serve `app` (its lifespan included), and return once it has started."""
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="auto",
            ws="none",  # nothing of the app uses websockets
            timeout_graceful_shutdown=1,
        )
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, args=(server,), daemon=True)
        self._thread.start()
        deadline = threading.Event()
        for _ in range(int(STARTUP_SECONDS / 0.005)):
            if server.started or not self._thread.is_alive():
                break
            deadline.wait(0.005)
        if not server.started:
            self.stop()
            pytest.fail(f"the live server did not start: {self._error!r}")
        return self

    def _run(self, server: uvicorn.Server) -> None:
        try:
            asyncio.run(server.serve(sockets=[self._socket]))
        except BaseException as error:  # reported by start(): a test must see why
            self._error = error

    def stop(self) -> None:
        """Stop serving (open connections get the graceful timeout) and close the socket."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(STARTUP_SECONDS)
        self._socket.close()


_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_NOSCRIPT_TAG = re.compile(r"</?noscript\b[^>]*>", re.IGNORECASE)


def without_scripts(html: str) -> str:
    """The document as a browser with JavaScript off shows it: no scripts, `<noscript>` shown."""
    return _NOSCRIPT_TAG.sub("", _SCRIPT.sub("", html))


def describe_violations(url: str, violations: list[dict[str, Any]]) -> str:
    """A readable report of axe's violations: each rule, its help and the nodes that fail it."""
    lines = [f"axe-core found {len(violations)} WCAG 2.1 A/AA violation(s) on {url}:"]
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation.get('impact')}): {violation['help']} "
            f"[{violation['helpUrl']}]"
        )
        for node in violation["nodes"][:10]:
            target = " ".join(str(part) for part in node["target"])
            summary = " ".join(str(node.get("failureSummary", "")).split())
            lines.append(f"    {target}: {node['html'][:160]}")
            if summary:
                lines.append(f"      {summary[:300]}")
        if len(violation["nodes"]) > 10:
            lines.append(f"    ... and {len(violation['nodes']) - 10} more node(s)")
    return "\n".join(lines)


_RUN_AXE: Final = """
async (tags) => {
  const result = await axe.run(document, {
    runOnly: { type: "tag", values: tags },
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({
      target: n.target, html: n.html, failureSummary: n.failureSummary,
    })),
  }));
}
"""


@attrs.define
class Axe:
    """Runs axe-core on what pages show, in one JavaScript-enabled checker page.

    Injecting axe-core costs far more than running it, so it is injected once per origin: each
    check copies the page's current DOM (scripts removed: JavaScript-added content stays, and a
    JavaScript-off page is checked as it is shown) into the checker page, whose base URL is the
    page's own, so the stylesheets apply as they do there.
    """

    source: str
    checker: BrowserContext
    checked: list[str] = attrs.field(factory=list)  # the URLs checked, for the tests' own checks
    _page: Page | None = None
    _origin: str | None = None
    _seen: set[str] = attrs.field(factory=set)

    def check(self, page: Page) -> None:
        """Fail with every WCAG 2.1 A and AA violation on the page as it is now.

        A page whose markup differs from one already checked only in its texts and form values
        (another person's name, a fresh CSRF token) is not checked again: the walks pass the
        same pages many times, and axe's verdict depends on the markup.
        """
        url = page.url
        html = _with_base(without_scripts(page.content()), url)
        skeleton = _skeleton(html)
        if skeleton in self._seen:
            return
        checker = self._checker_for(_origin(url), page.viewport_size)
        checker.set_content(html, wait_until="load")
        violations: list[dict[str, Any]] = checker.evaluate(_RUN_AXE, list(WCAG_TAGS))
        self.checked.append(url)
        if violations:
            pytest.fail(describe_violations(url, violations), pytrace=False)
        self._seen.add(skeleton)

    def _checker_for(self, origin: str, viewport: ViewportSize | None) -> Page:
        if self._page is None:
            self._page = self.checker.new_page()
            self._page.route(
                f"**{_CHECKER_PATH}",
                lambda route: route.fulfill(status=200, content_type="text/html", body=""),
            )
        if viewport is not None and self._page.viewport_size != viewport:
            self._page.set_viewport_size(viewport)
        if self._origin != origin:
            self._page.goto(origin + _CHECKER_PATH)
            self._page.evaluate(self.source)  # document.open() keeps window.axe from now on
            self._origin = origin
        return self._page


_CHECKER_PATH: Final = "/__regflow_axe_checker__"
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


_TEXT: Final = re.compile(r">[^<]*<")
_VALUE: Final = re.compile(r'\b(value|href|action|content)="[^"]*"')


def _skeleton(html: str) -> str:
    """The markup without texts and attribute values that carry data, for `Axe`'s memory."""
    return _VALUE.sub(r'\1=""', _TEXT.sub("><", html))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _with_base(html: str, url: str) -> str:
    """The document with `<base href=URL>` first in its head, unless it has a base already."""
    if re.search(r"<base\b", html, re.IGNORECASE):
        return html
    base = f'<base href="{escape(url, quote=True)}">'
    head = _HEAD.search(html)
    if head is None:
        return base + html
    return html[: head.end()] + base + html[head.end() :]


def new_context(browser: Browser, *, javascript: bool, **options: Any) -> BrowserContext:
    """A fresh context (own cookies) with JavaScript on or off, in Swedish, in Helsinki."""
    context = browser.new_context(
        java_script_enabled=javascript,
        viewport={"width": 1024, "height": 768},
        device_scale_factor=1,
        locale="sv-FI",
        timezone_id="Europe/Helsinki",
        **options,
    )
    context.set_default_timeout(5_000)  # a walk's step is milliseconds; fail fast, not in 30 s
    context.set_default_navigation_timeout(10_000)
    return context


@attrs.define
class Screenshots:
    """Pictures of the pages for the README, written only when asked to."""

    update: bool
    directory: Path = SCREENSHOTS
    taken: list[str] = attrs.field(factory=list)

    @classmethod
    def from_env(cls) -> Screenshots:
        """`REGFLOW_UPDATE_SCREENSHOTS=1` writes the pictures; otherwise they are only checked."""
        return cls(update=os.environ.get("REGFLOW_UPDATE_SCREENSHOTS", "") == "1")

    def take(self, page: Page, name: str) -> None:
        """Write docs/screenshots/NAME.png (when updating), else check that it is committed."""
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
            msg = f"screenshot names are lowercase words joined by hyphens, got {name!r}"
            raise ValueError(msg)
        path = self.directory / f"{name}.png"
        self.taken.append(name)
        if self.update:
            self.directory.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
        elif not path.is_file():
            pytest.fail(
                f"docs/screenshots/{name}.png is missing: run the browser tests with "
                "REGFLOW_UPDATE_SCREENSHOTS=1 and commit the pictures.",
                pytrace=False,
            )
