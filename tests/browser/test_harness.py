"""The browser harness itself, on a stand-in page: the live server, JavaScript on and off, the
axe check (and that it fails on a page with violations), and the screenshot rule."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.harness import Axe, LiveServer, describe_violations, without_scripts

_GOOD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stand-in</title>
<link rel="stylesheet" href="/style.css"><script src="/enhance.js" defer></script></head>
<body><main><h1>Stand-in</h1>
<form method="post" action="/submit"><label for="name">Name</label>
<input id="name" name="name" autocomplete="name"><button type="submit">Send</button></form>
<p id="js-state">JavaScript is off</p></main></body></html>"""

_BAD = """<!doctype html><html><head><title>Bad</title></head>
<body><main><img src="/x.png"><input name="unlabelled"></main></body></html>"""

_POSTED = """<!doctype html><html lang="en"><head><title>Posted</title></head>
<body><main><h1>Thank you</h1></main></body></html>"""

_CSP = "default-src 'self'; script-src 'self'; frame-ancestors 'none'"


async def stand_in_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A tiny ASGI app with the web example's habits: CSP without inline script, PRG."""
    if scope["type"] == "lifespan":
        await receive()  # lifespan.startup
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})
        return
    path, method = scope["path"], scope["method"]
    status, content_type, body, extra = 200, "text/html; charset=utf-8", "", []
    if method == "POST" and path == "/submit":
        status, extra = 303, [(b"location", b"/posted")]
    elif path == "/":
        body = _GOOD
    elif path == "/bad":
        body = _BAD
    elif path == "/posted":
        body = _POSTED
    elif path == "/style.css":
        content_type, body = "text/css", "body { font-family: sans-serif; color: #222; }"
    elif path == "/enhance.js":
        content_type = "text/javascript"
        body = "document.getElementById('js-state').textContent = 'JavaScript is on';"
    else:
        status, body = 404, _BAD
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-security-policy", _CSP.encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


@pytest.fixture
def stand_in(live_server: LiveServer) -> LiveServer:
    """The stand-in app on a live server."""
    return live_server.start(stand_in_app)


def test_walk_posts_and_follows_the_redirect(
    stand_in: LiveServer, page: Page, javascript: bool, axe: Axe
) -> None:
    """A form post answered 303 lands on the next page; the page's script ran only with JS on."""
    page.goto(stand_in.url + "/")
    expected = "JavaScript is on" if javascript else "JavaScript is off"
    expect(page.locator("#js-state")).to_have_text(expected)
    axe.check(page)
    page.get_by_label("Name").fill("Anna")
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(stand_in.url + "/posted")
    axe.check(page)


def test_axe_reports_each_rule_and_node(stand_in: LiveServer, page: Page, axe: Axe) -> None:
    """A page with a missing alt text, no lang and an unlabelled field fails, naming them."""
    page.goto(stand_in.url + "/bad")
    with pytest.raises(pytest.fail.Exception) as failure:
        axe.check(page)
    report = str(failure.value)
    for rule in ("image-alt", "label", "html-has-lang"):
        assert f"- {rule} (" in report
    assert 'input name="unlabelled"' in report


def test_without_scripts_shows_what_javascript_off_shows() -> None:
    """Script elements go, `<noscript>` content stays."""
    html = '<p>a</p><script src="x.js"></script><SCRIPT>1<2</SCRIPT><noscript><p>b</p></noscript>'
    assert without_scripts(html) == "<p>a</p><p>b</p>"


def test_violation_report_is_readable() -> None:
    """The failure message names the page, the rule, its help, and each node's selector."""
    report = describe_violations(
        "http://127.0.0.1:1/x",
        [
            {
                "id": "color-contrast",
                "impact": "serious",
                "help": "Elements must meet minimum color contrast ratio thresholds",
                "helpUrl": "https://example.invalid/rule",
                "nodes": [{"target": ["#hint"], "html": '<p id="hint">', "failureSummary": "Fix"}],
            }
        ],
    )
    assert "1 WCAG 2.1 A/AA violation(s) on http://127.0.0.1:1/x" in report
    assert "- color-contrast (serious): Elements must meet" in report
    assert '#hint: <p id="hint">' in report
