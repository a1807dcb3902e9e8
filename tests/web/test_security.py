"""The web example's security and robustness promises: CSRF, headers, cookies, stale tabs."""

from __future__ import annotations

import re

from regflow import State
from tests.web.site import Site, form_values, text_of

ANNA = "131052-308T"


def test_a_wrong_csrf_token_is_refused_and_changes_nothing(site: Site) -> None:
    """A POST without the flow's token answers 403 and leaves the stored flow as it was."""
    site.to_details()
    before = site.snapshot()
    for token in ["", "x" * 64, site.web.signer.csrf_token(client_id="someone-else")]:
        response = site.client.post("/register/cancel", data={"csrf_token": token})
        assert response.status_code == 403
        assert 'data-testid="page-refused"' in response.text
    assert site.snapshot() == before


def test_another_flows_token_does_not_work(site: Site) -> None:
    """A token is bound to its flow: the one of another flow is refused."""
    other = Site(site.config)
    other.web = site.web
    other.client = type(site.client)(site.app, follow_redirects=False)
    other.start()
    site.start()
    before = site.snapshot()
    stolen = form_values(other.page, "/register/bank_not_listed")["csrf_token"]
    response = site.client.post("/register/bank_not_listed", data={"csrf_token": stolen})
    assert response.status_code == 403
    assert site.snapshot() == before


def test_security_headers_on_every_page(site: Site) -> None:
    """CSP without inline script and with frame-ancestors 'none', no referrer, no-store."""
    site.to_details()
    for path in ["/", "/register/details", "/login", "/register/expired"]:
        response = site.client.get(path)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
    assert "<script>" not in site.page  # no inline script the policy would block
    assert " style=" not in site.page
    static = site.client.get("/static/app.js")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("cache-control", "")


def test_the_flow_id_is_only_in_an_httponly_lax_cookie(site: Site) -> None:
    """The flow cookie is HttpOnly and SameSite=Lax; no URL or page ever holds the flow id."""
    site.get("/")
    response = site.client.post(
        "/register/start",
        data={**form_values(site.page, "/register/start"), "customer_type": "consumer"},
    )
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("regflow_flow=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    flow_id = site.flow_id
    seen = [response.headers["location"]]
    response = site.follow(response)
    site.at_bank()
    seen.append(site.page)
    site.answer_bank("approve", ANNA)
    seen.append(site.page)
    assert not any(flow_id in text for text in seen)


def test_a_stale_tab_is_sent_to_the_current_step_with_a_notice(site: Site) -> None:
    """A GET of a step the flow is not in answers 303 to the step it is in, with a notice."""
    site.to_details()
    response = site.get("/register/bank")
    assert response.status_code == 303
    assert response.headers["location"] == "/register/details"
    site.follow(response)
    assert 'data-testid="page-entering_details"' in site.page
    assert 'data-code="moved"' in site.page
    site.get("/register/details")
    assert 'data-testid="notice"' not in site.page  # shown once


def test_a_second_tab_posting_an_old_event_lands_on_the_current_step(site: Site) -> None:
    """An event posted from a tab showing an older step changes nothing and shows the current."""
    site.identify(ANNA)
    old_tab = site.page  # phase 2, still open in another tab
    site.event("confirm_personal_id")
    before = site.snapshot()
    site.page = old_tab
    response = site.event("confirm_personal_id")
    assert response.status_code == 200
    assert 'data-testid="page-entering_details"' in site.page
    assert 'data-code="moved"' in site.page
    assert site.snapshot() == before


def test_a_stale_tab_cannot_approve_changed_data(site: Site) -> None:
    """Approve from a review page shown before an edit is refused: no account, back to review."""
    site.to_details()
    site.submit()
    stale_review = site.page
    site.event("edit")
    site.submit(post_office="Esbo")
    fresh_review = site.page
    site.page = stale_review
    response = site.event("approve")
    assert response.status_code == 200
    assert 'data-testid="page-reviewing"' in site.page
    assert 'data-code="stale_review"' in site.page
    assert not site.web.regflow.storage.accounts.exists_for_person(ANNA)
    site.page = fresh_review
    site.event("approve")
    assert 'data-testid="page-completed"' in site.page


def test_a_double_clicked_approve_creates_one_account(site: Site) -> None:
    """Two Approve posts from one page: one account, one email; the second lands on complete."""
    site.to_details()
    site.submit()
    values = form_values(site.page, "/register/approve")
    first = site.client.post("/register/approve", data=values)
    second = site.client.post("/register/approve", data=values)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"] == "/register/complete"
    outbox = site.web.regflow.storage.outbox
    assert len(outbox.pending_messages(site.clock.now(), 10)) == 1
    snapshot, _ = site.snapshot()
    assert snapshot["state"] == State.completed


def test_refused_details_show_every_error_and_keep_the_values(site: Site) -> None:
    """Phase 3 refused: 422, every error beside its field and in the summary, never the password."""
    site.to_details()
    response = site.submit(
        password="lyhyt1", email="not-an-email", postal_code="123", given_names=""
    )
    assert response.status_code == 422
    page = site.page
    assert 'id="error-summary"' in page
    for field in ["email", "postal_code", "given_names", "password"]:
        assert f'href="#field-{field}"' in page
        assert f'data-testid="error-{field}"' in page
    assert 'value="not-an-email"' in page
    assert 'value="123"' in page
    assert "lyhyt1" not in page
    assert 'aria-invalid="true"' in page
    snapshot, _ = site.snapshot()
    assert snapshot["state"] == State.entering_details


def test_the_language_switch_survives_the_trip_to_the_bank(site: Site) -> None:
    """Switch to Finnish at the bank; the pages after the bank are in Finnish, then English."""
    site.start()
    assert '<html lang="sv">' in site.page
    site.at_bank()
    site.post("/language", {"language": "fi"})  # the bank page's own buttons
    assert '<html lang="fi">' in site.page
    assert 'data-testid="page-sim-bank"' in site.page
    assert 'data-testid="sim-bank-approve"' in site.page  # still this request, not "unknown"
    site.answer_bank("approve", ANNA)
    assert '<html lang="fi">' in site.page
    assert "Tarkista henkilötunnuksesi" in site.page
    site.post("/language", {"language": "en", "next": "/register/personal-id"})
    assert "Check your personal identity code" in site.page


def test_accept_language_picks_the_first_language(site: Site) -> None:
    """Without the cookie, Accept-Language decides; unsupported tags fall back to Swedish."""
    response = site.client.get("/", headers={"accept-language": "fi-FI,fi;q=0.9"})
    assert '<html lang="fi">' in response.text
    response = site.client.get("/", headers={"accept-language": "de-DE,xx;q=0.5"})
    assert '<html lang="sv">' in response.text


def test_the_language_switch_only_redirects_locally(site: Site) -> None:
    """`next` must be a path of this site: an absolute URL goes to the start page instead."""
    for target in ["https://evil.example/", "//evil.example/", "/\\evil.example"]:
        site.get("/")
        response = site.post("/language", {"language": "en", "next": target}, follow=False)
        assert response.headers["location"] == "/"


def test_every_phase_page_renders_in_every_language(site: Site) -> None:
    """Each phase's page exists in sv, fi and en, with the phase named in that language."""
    site.to_details()
    for language, phase in [("sv", "Fas 3 av 4"), ("fi", "Vaihe 3/4"), ("en", "Phase 3 of 4")]:
        site.client.cookies.set("regflow_language", language)
        site.get("/register/details")
        assert text_of(site.page, "phase") == phase
        assert re.search(rf'<html lang="{language}">', site.page)
