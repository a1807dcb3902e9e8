"""The web example's rate limits per client address (issue 13, item 5): starting, the details
step's password check and logging in answer 429 with `Retry-After` when the address's limit is
spent, with the page again and nothing stored."""

from __future__ import annotations

import datetime as dt

from starlette.testclient import TestClient

from regflow import RateLimits
from regflow_web.security import FLOW_COOKIE
from tests.web.site import PASSWORD, Site, form_values, text_of

ANNA = "131052-308T"
ANNA_EMAIL = "anna-liisa.virtanen@example.fi"
MINUTE = dt.timedelta(minutes=1)


def flows_stored(site: Site) -> int:
    """How many flows the app's storage holds (purging them all, a year on, counts them)."""
    later = site.clock.now() + dt.timedelta(days=365)
    return site.web.regflow.storage.flows.purge_expired(later)


def test_starting_over_the_limit_answers_429_and_starts_nothing() -> None:
    """The third start in a minute under 2/minute: 429, Retry-After 60, the start page with
    the message in the page's language, no flow and no flow cookie; a minute on it starts."""
    site = Site(rate_limits=RateLimits(start="2/minute"))
    site.start()
    site.start()
    site.get("/")
    response = site.post("/register/start", {"customer_type": "consumer"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "60"
    assert FLOW_COOKIE not in response.cookies
    assert 'data-testid="page-start"' in site.page
    message = text_of(site.page, "rate-limited") or ""
    assert "Försök igen om 60 s." in message  # the default language is Swedish
    assert flows_stored(site) == 2
    site.clock.advance(MINUTE)
    assert site.start().status_code == 200
    assert 'data-testid="page-choosing_bank"' in site.page


def test_details_over_the_limit_answer_429_and_leave_the_flow_as_it_was() -> None:
    """Under password=1/minute the second submit answers 429 with the details as entered (never
    the password) and the stored flow unchanged; a minute on, the same form goes through."""
    site = Site(rate_limits=RateLimits(password="1/minute"))
    site.to_details()
    assert site.submit(password="short").status_code == 422
    before = site.snapshot()
    response = site.submit(password=PASSWORD, phone="040 123 4567")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "60"
    assert site.snapshot() == before
    assert 'data-testid="page-entering_details"' in site.page
    assert 'value="040 123 4567"' in site.page
    assert PASSWORD not in site.page
    assert text_of(site.page, "rate-limited")
    site.clock.advance(MINUTE)
    site.submit(password=PASSWORD)
    assert 'data-testid="page-reviewing"' in site.page


def test_logins_over_the_limit_answer_429_before_the_password_is_checked() -> None:
    """Under login=2/minute the third login, even with the right password, answers 429 with
    Retry-After; a minute on, it logs in."""
    site = Site(rate_limits=RateLimits(login="2/minute"))
    site.register(ANNA)
    site.get("/login")
    assert site.post("/login", {"email": ANNA_EMAIL, "password": "wrong"}).status_code == 401
    assert site.post("/login", {"email": ANNA_EMAIL, "password": "wrong"}).status_code == 401
    response = site.post("/login", {"email": ANNA_EMAIL, "password": PASSWORD}, follow=False)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "60"
    assert 'data-testid="page-login"' in site.page
    assert text_of(site.page, "rate-limited")
    assert text_of(site.page, "login-error") is None
    site.clock.advance(MINUTE)
    response = site.post("/login", {"email": ANNA_EMAIL, "password": PASSWORD}, follow=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/services"


def test_a_forwarded_for_header_is_not_another_address() -> None:
    """X-Forwarded-For from the client is not trusted: the connection's address is counted."""
    site = Site(rate_limits=RateLimits(start="1/minute"))
    site.start()
    site.get("/")
    values = {**form_values(site.page, "/register/start"), "customer_type": "consumer"}
    response = site.client.post(
        "/register/start", data=values, headers={"x-forwarded-for": "198.51.100.99"}
    )
    assert response.status_code == 429


def test_another_address_is_counted_apart() -> None:
    """One address's spent limit leaves a client at another address free to start."""
    site = Site(rate_limits=RateLimits(start="1/minute"))
    site.start()
    site.get("/")
    assert site.post("/register/start", {"customer_type": "consumer"}).status_code == 429
    other = TestClient(site.app, follow_redirects=False, client=("198.51.100.7", 50000))
    page = other.get("/").text
    values = {**form_values(page, "/register/start"), "customer_type": "consumer"}
    response = other.post("/register/start", data=values)
    assert response.status_code == 303
    assert FLOW_COOKIE in response.cookies


def test_the_message_follows_the_language_cookie() -> None:
    """In Finnish and English too."""
    site = Site(rate_limits=RateLimits(start="1/minute"))
    site.start()
    for language, text in [("fi", "Yritä uudelleen"), ("en", "Please try again in")]:
        site.client.cookies.set("regflow_language", language)
        site.get("/")
        site.post("/register/start", {"customer_type": "consumer"})
        assert text in (text_of(site.page, "rate-limited") or ""), language
