"""The registration as a web application: `create_app(WebConfig(...))` gives a FastAPI app.

How the app meets the library (DESIGN section 8):

- `regflow.bootstrap.bootstrap(config.regflow)` builds everything once per app; the handlers
  call the `RegistrationService` by flow id, and render `regflow.ui.page(flow)`.
- One page per state (`STATE_PATHS`); the URL names the step, never the flow. The flow id is in
  an HttpOnly, SameSite=Lax cookie; every form carries a CSRF token.
- Every POST applies one event and answers 303 to the page of the state the flow is in then
  (Post/Redirect/Get). A refused event (a stale tab, the back button, a second tab, a
  double-click) also answers 303 to the current page, with a notice; refused details re-render
  phase 3 with status 422 and every field error.
- An expired or unknown flow gets the "expired, start again" page (status 410).
- Starting a flow, submitting details (the password check) and logging in are rate limited
  per client address by the library (`RateLimited`): 429 with `Retry-After` and the page
  again, saying when to try; nothing is stored. The address is the connection's peer as
  uvicorn reports it: behind a proxy, only with `--forwarded-allow-ips` naming that proxy.

Handlers are plain functions run in the thread pool (the service does blocking I/O); only
reading the form is awaited.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final
from urllib.parse import urlencode

import attrs
import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from regflow import (
    Account,
    AdapterError,
    BankCallback,
    ContactDetails,
    DetailsRejected,
    FlowExpired,
    FlowNotFound,
    LoginFailed,
    LoginThrottled,
    RateLimited,
    RegflowError,
    RegistrationFlow,
    RegistrationService,
    State,
    UnsupportedCustomerType,
    deliver_pending_emails,
    message_for,
    ui,
)
from regflow.adapters.memory import RecordingMailer, SimulatedBank
from regflow.bootstrap import App, bootstrap
from regflow.errors import MESSAGES
from regflow_web import i18n
from regflow_web.config import SIM_BANK_PATH, WebConfig
from regflow_web.logs import configure_logging
from regflow_web.operations import Metrics, RequestMetrics, readiness
from regflow_web.security import (
    CLIENT_COOKIE,
    FLOW_COOKIE,
    LANGUAGE_COOKIE,
    NOTICE_COOKIE,
    SESSION_COOKIE,
    SESSION_TTL,
    SecurityHeaders,
    Signer,
    new_client_id,
    well_formed,
)

log = logging.getLogger(__name__)

STATE_PATHS: Final[Mapping[State, str]] = {
    State.choosing_bank: "/register/bank",
    State.awaiting_bank: "/register/at-bank",
    State.confirming_personal_id: "/register/personal-id",
    State.entering_details: "/register/details",
    State.reviewing: "/register/review",
    State.completed: "/register/complete",
    State.needs_customer_service: "/register/customer-service",
    State.already_registered: "/register/already-registered",
    State.cancelled: "/register/cancelled",
    State.expired: "/register/expired",
}
TEMPLATE_OF: Final[Mapping[State, str]] = {
    state: path.rsplit("/", 1)[1].replace("-", "_") + ".html" for state, path in STATE_PATHS.items()
}
CALLBACK_PATH: Final = "/register/callback"
# The events a form can post to /register/{event}; complete_identification arrives at the
# callback, expiry on its own.
POST_EVENTS: Final = frozenset(
    {
        "select_bank",
        "bank_not_listed",
        "choose_other_bank",
        "confirm_personal_id",
        "submit_details",
        "edit",
        "approve",
        "cancel",
    }
)
# Notices the app itself may show after a redirect, besides regflow's error codes.
APP_NOTICES: Final = frozenset({"moved", "logged_out", "csrf"})
MAX_FORM_FIELDS: Final = 40
MAX_FIELD_CHARS: Final = 10_000  # longer values are cut here; the library refuses them anyway
MAX_QUERY_PARAMS: Final = 20
YEAR: Final = 365 * 24 * 3600
DETAIL_FIELDS: Final = tuple(a.name for a in attrs.fields(ContactDetails))


@attrs.define
class Web:
    """What every handler needs: the library's `App`, the templates, the signer."""

    config: WebConfig
    regflow: App
    signer: Signer
    templates: dict[str, jinja2.Environment]
    metrics: Metrics = attrs.field(factory=Metrics)
    stop_relay: threading.Event = attrs.field(factory=threading.Event)

    @property
    def service(self) -> RegistrationService:
        """The library's service: one call per request, by flow id."""
        return self.regflow.service


@attrs.define
class Ctx:
    """One request as the handlers see it: language, cookies, and cookies to set."""

    request: Request
    web: Web
    language: str
    client_id: str
    new_client: bool
    flow_id: str | None
    notice: str | None
    set_cookies: list[tuple[str, str, int | None]] = attrs.field(factory=list)
    delete_cookies: list[str] = attrs.field(factory=list)

    @property
    def csrf_client(self) -> str:
        """The token of forms that do not belong to a flow."""
        return self.web.signer.csrf_token(client_id=self.client_id)

    def csrf_flow(self, flow_id: str) -> str:
        """The token of one flow's forms."""
        return self.web.signer.csrf_token(flow_id=flow_id)

    def finish(self, response: Response) -> Response:
        """Set and delete the cookies this request decided on."""
        secure = self.web.config.secure_cookies
        if self.new_client:
            response.set_cookie(
                CLIENT_COOKIE, self.client_id, httponly=True, samesite="lax", secure=secure
            )
        for name, value, max_age in self.set_cookies:
            response.set_cookie(
                name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure
            )
        for name in self.delete_cookies:
            response.delete_cookie(name, httponly=True, samesite="lax", secure=secure)
        return response

    def redirect(self, url: str, *, notice: str | None = None) -> Response:
        """303 to `url` (Post/Redirect/Get), with a notice for the next page."""
        if notice:
            self.set_cookies.append((NOTICE_COOKIE, notice, 60))
        return self.finish(RedirectResponse(url, status_code=303))

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        """Render `template` in the request's language."""
        env = self.web.templates[self.language]
        if self.notice is not None:
            self.delete_cookies.append(NOTICE_COOKIE)
        html = env.get_template(template).render(
            lang=self.language,
            path=self.request.url.path,
            csrf_client=self.csrf_client,
            notice=self._notice_text(),
            notice_code=self.notice,
            footer=ui.contact_lines(
                [self.web.regflow.ports.settings.customer_service], self.language
            ),
            demo=self.web.config.regflow.demo,
            signed_in=self.web.signer.session_account(self.request.cookies.get(SESSION_COOKIE))
            is not None,
            **values,
        )
        return self.finish(HTMLResponse(html, status_code=status))

    def _notice_text(self) -> str | None:
        code = self.notice
        if code is None:
            return None
        if code in MESSAGES:
            return message_for(code, self.language)
        gettext = i18n.translations(self.language).gettext
        return {
            "moved": gettext("This page was out of date. Here is where your registration is now."),
            "logged_out": gettext("You have logged out."),
            "csrf": gettext("The form had expired. Please try again."),
        }.get(code)


def _context(web: Web, request: Request) -> Ctx:
    cookies = request.cookies
    client = well_formed(cookies.get(CLIENT_COOKIE))
    notice = cookies.get(NOTICE_COOKIE)
    return Ctx(
        request=request,
        web=web,
        language=i18n.choose_language(
            cookies.get(LANGUAGE_COOKIE),
            request.headers.get("accept-language"),
            web.config.default_language,
        ),
        client_id=client or new_client_id(),
        new_client=client is None,
        flow_id=well_formed(cookies.get(FLOW_COOKIE)),
        notice=notice if notice in MESSAGES or notice in APP_NOTICES else None,
    )


async def _form(request: Request) -> dict[str, str]:
    """The posted form's text fields (files ignored, values capped); {} for a body not a form."""
    try:
        form: FormData = await request.form(
            max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=1024 * 1024
        )
    except Exception:  # any malformed body is just "no form" to the handlers
        return {}
    return {
        key: value[:MAX_FIELD_CHARS] for key, value in form.multi_items() if isinstance(value, str)
    }


def create_app(config: WebConfig | None = None) -> FastAPI:
    """The registration web app for `config` (default: the demo, in memory)."""
    config = config if config is not None else WebConfig()
    built = bootstrap(
        config.regflow,
        hasher=config.hasher,
        clock=config.clock,
        bank=config.bank,
        customers=config.customers,
    )
    web = Web(
        config=config,
        regflow=built,
        signer=Signer(config.secret_key),
        templates=i18n.environments(),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        prepare_process(web)
        relay = None
        if config.relay:
            relay = threading.Thread(target=_relay, args=(web,), name="regflow-relay", daemon=True)
            relay.start()
        try:
            yield
        finally:
            web.stop_relay.set()
            if relay is not None:
                relay.join(timeout=10)
            built.close()

    app = FastAPI(
        title="regflow web example",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.web = web
    app.add_middleware(SecurityHeaders)
    # outermost: times the whole answer
    app.add_middleware(RequestMetrics, metrics=web.metrics, mounts=("/static",))
    app.mount("/static", StaticFiles(directory=i18n.HERE / "static"), name="static")
    _routes(app, web)
    return app


def prepare_process(web: Web) -> None:
    """Before a process takes requests: load what the first ones would, then freeze it.

    `RegistrationService.warm_up` and every template of every language, so that the first
    user of each worker does not wait for them (20-80 ms a page). Then `gc.freeze()`: the
    objects alive at startup (about 100 000: modules, catalogues, the password dictionaries)
    move out of the collector's generations, so that a full collection, which scanned them
    all for 35-90 ms in the middle of some request, scans only what requests left behind.
    Runs in the app's lifespan, once per worker process.
    """
    web.regflow.service.warm_up()
    for env in web.templates.values():
        for name in env.list_templates(extensions=["html"]):
            env.get_template(name)
    gc.collect()
    gc.freeze()


def app_from_env() -> FastAPI:
    """`create_app(WebConfig.from_env())`: the factory each worker of a server calls.

    `uvicorn --factory regflow_web.app:app_from_env --workers 4`, or gunicorn with
    `-k uvicorn_worker.UvicornWorker 'regflow_web.app:app_from_env()'` (examples/web/README.md).
    Logging as `REGFLOW_WEB_LOG_FORMAT` and `REGFLOW_WEB_LOG_LEVEL` say (`regflow_web.logs`).
    """
    configure_logging(os.environ)
    return create_app(WebConfig.from_env())


def _relay(web: Web) -> None:
    """The demo's relay: a pass over the outbox every `relay_interval` seconds."""
    while not web.stop_relay.wait(web.config.relay_interval):
        try:
            deliver_pending_emails(web.regflow.ports)
        except AdapterError:
            log.warning("relay: the outbox is unavailable; trying again later")


def _routes(app: FastAPI, web: Web) -> None:  # noqa: PLR0915  # one place lists every route
    def handler(
        fn: Callable[..., Response],
    ) -> Callable[..., Any]:
        """A GET handler run in the thread pool with its `Ctx`."""

        async def run(request: Request) -> Response:
            ctx = _context(web, request)
            return await run_in_threadpool(fn, ctx)

        return run

    def posted(fn: Callable[..., Response]) -> Callable[..., Any]:
        """A POST handler: reads the form, then runs `fn(ctx, form)` in the thread pool."""

        async def run(request: Request) -> Response:
            ctx = _context(web, request)
            form = await _form(request)
            return await run_in_threadpool(fn, ctx, form)

        return run

    # -- start ----------------------------------------------------------------------------------

    def start_page(ctx: Ctx, *, status: int = 200, error: str | None = None) -> Response:
        return ctx.render("start.html", status, error=error)

    def start(ctx: Ctx, form: dict[str, str]) -> Response:
        if not web.signer.csrf_ok(form.get("csrf_token"), client_id=ctx.client_id):
            return ctx.render("refused.html", 403, retry="/")
        try:
            flow = web.service.start(
                language=ctx.language,
                customer_type=form.get("customer_type", "consumer"),
                client_address=_client_address(ctx),
            )
        except RateLimited as error:
            return rate_limited(ctx.render("start.html", 429, error=None, limited=error), error)
        except UnsupportedCustomerType as error:
            return start_page(ctx, status=422, error=error.message(ctx.language))
        except AdapterError:
            return ctx.render("unavailable.html", 503)
        web.metrics.started(flow)
        ctx.set_cookies.append((FLOW_COOKIE, flow.id, None))
        return ctx.redirect(STATE_PATHS[flow.state])

    app.get("/", response_class=HTMLResponse)(handler(start_page))
    app.post("/register/start")(posted(start))

    # -- the steps --------------------------------------------------------------------------------

    def load(ctx: Ctx) -> RegistrationFlow | Response:
        if ctx.flow_id is None:
            return ctx.redirect("/")
        try:
            flow: RegistrationFlow = web.service.view(ctx.flow_id)
        except FlowExpired:
            ended(ctx)
            return expired(ctx)
        except FlowNotFound:
            return expired(ctx)
        except AdapterError:
            return ctx.render("unavailable.html", 503)
        return flow

    def ended(ctx: Ctx) -> None:
        """The flow of the cookie is past its expiry: count it once, and forget the cookie (a
        later visit gets the same "expired, start again" page without counting it again)."""
        web.metrics.expired()
        ctx.delete_cookies.append(FLOW_COOKIE)

    def expired(ctx: Ctx) -> Response:
        page = ui.ended(State.expired, ctx.language)
        return ctx.render(TEMPLATE_OF[State.expired], 410, page=page, csrf=ctx.csrf_client)

    def show(ctx: Ctx, flow: RegistrationFlow, page: ui.Page, status: int = 200) -> Response:
        return ctx.render(
            TEMPLATE_OF[flow.state], status, page=page, csrf=ctx.csrf_flow(flow.id), flow=flow
        )

    def step(state: State) -> Callable[[Ctx], Response]:
        def get(ctx: Ctx) -> Response:
            if state is State.expired and ctx.flow_id is None:
                return expired(ctx)
            loaded = load(ctx)
            if isinstance(loaded, Response):
                return loaded
            flow = loaded
            if flow.state is not state:
                return ctx.redirect(STATE_PATHS[flow.state], notice="moved")
            account = None
            if flow.outcome is not None and flow.outcome.account_id:
                try:
                    account = web.service.account(flow.outcome.account_id)
                except AdapterError:
                    account = None  # the page still says the registration is complete
            return show(ctx, flow, ui.page(flow, language=ctx.language, account=account))

        return get

    def current(ctx: Ctx) -> Response:
        loaded = load(ctx)
        if isinstance(loaded, Response):
            return loaded
        return ctx.redirect(STATE_PATHS[loaded.state])

    app.get("/register", response_class=HTMLResponse)(handler(current))
    for state, path in STATE_PATHS.items():
        app.get(path, response_class=HTMLResponse)(handler(step(state)))

    def event(name: str) -> Callable[[Ctx, dict[str, str]], Response]:
        def post(ctx: Ctx, form: dict[str, str]) -> Response:  # noqa: PLR0911  # an answer per outcome
            flow_id = ctx.flow_id
            if flow_id is None:
                return ctx.redirect("/register/expired")
            if not web.signer.csrf_ok(form.get("csrf_token"), flow_id=flow_id):
                return ctx.render("refused.html", 403, retry="/register")
            service = web.service
            entered = None
            try:
                if name == "select_bank":
                    flow = service.select_bank(flow_id, form.get("bank_id", ""))
                    web.metrics.transition(flow)
                    assert flow.redirect is not None  # noqa: S101  # awaiting_bank has one
                    return ctx.redirect(flow.redirect.url)
                if name == "submit_details":
                    entered = _details(form)
                    flow = service.submit_details(
                        flow_id,
                        entered,
                        form.get("password", ""),
                        client_address=_client_address(ctx),
                    )
                elif name == "approve":
                    flow = service.approve(flow_id, form.get("review_token", ""))
                else:
                    flow = getattr(service, name)(flow_id)
            except DetailsRejected as rejected:
                return details_rejected(ctx, flow_id, rejected, entered)
            except RateLimited as error:
                return details_limited(ctx, flow_id, error, entered)
            except RegflowError as error:
                return not_done(ctx, error)
            web.metrics.transition(flow)
            return ctx.redirect(STATE_PATHS[flow.state])

        return post

    def not_done(ctx: Ctx, error: RegflowError) -> Response:
        """The answer to an event the service refused (the flow is as it was) or could not
        find, or to storage that failed: every event's and the callback's."""
        if isinstance(error, FlowExpired):
            ended(ctx)
            return ctx.redirect("/register/expired")
        if isinstance(error, FlowNotFound):
            return ctx.redirect("/register/expired")
        if isinstance(error, AdapterError):
            return ctx.render("unavailable.html", 503)
        return refused(ctx, error)  # show where the flow is, and why

    def details_rejected(
        ctx: Ctx, flow_id: str, rejected: DetailsRejected, entered: ContactDetails | None
    ) -> Response:
        try:
            flow = web.service.view(flow_id)
        except RegflowError as error:
            return not_done(ctx, error)
        page = ui.page(flow, language=ctx.language, rejected=rejected, entered=entered)
        return show(ctx, flow, page, 422)

    def details_limited(
        ctx: Ctx, flow_id: str, error: RateLimited, entered: ContactDetails | None
    ) -> Response:
        """The details page again, as entered (the password is never sent back), with 429."""
        try:
            flow = web.service.view(flow_id)
        except RegflowError as failed:
            return not_done(ctx, failed)
        if flow.state is not State.entering_details:
            return ctx.redirect(STATE_PATHS[flow.state], notice="moved")
        page = ui.page(flow, language=ctx.language, entered=entered)
        return rate_limited(
            ctx.render(
                TEMPLATE_OF[flow.state],
                429,
                page=page,
                csrf=ctx.csrf_flow(flow.id),
                flow=flow,
                limited=error,
            ),
            error,
        )

    def refused(ctx: Ctx, error: RegflowError) -> Response:
        """303 to the page of the state the flow is in, saying why the event was refused."""
        code = error.code if error.code in MESSAGES else "moved"
        if code == "invalid_transition":
            code = "moved"  # a stale tab, the back button, a second tab, a double-click
        loaded = load(ctx)
        if isinstance(loaded, Response):
            return loaded
        return ctx.redirect(STATE_PATHS[loaded.state], notice=code)

    for name in sorted(POST_EVENTS):
        app.post(f"/register/{name}")(posted(event(name)))

    def callback(ctx: Ctx) -> Response:
        flow_id = ctx.flow_id
        if flow_id is None:
            return ctx.redirect("/register/expired")
        params = list(ctx.request.query_params.multi_items())[:MAX_QUERY_PARAMS]
        answer = BankCallback({k[:64]: v[:MAX_FIELD_CHARS] for k, v in params})
        try:
            flow = web.service.complete_identification(flow_id, answer)
        except RegflowError as error:
            return not_done(ctx, error)
        web.metrics.transition(flow)
        return ctx.redirect(STATE_PATHS[flow.state])

    app.get(CALLBACK_PATH, response_class=HTMLResponse)(handler(callback))

    # -- the simulated bank: "another site" under its own prefix -------------------------------

    def sim_bank(ctx: Ctx) -> Response:
        bank = web.regflow.ports.bank
        if not isinstance(bank, SimulatedBank):
            return ctx.render("not_found.html", 404)
        state = ctx.request.query_params.get("state", "")
        request = bank.request(state)
        names = {b.id: b.label(ctx.language) for b in bank.banks()}
        return ctx.render(
            "sim_bank.html",
            200 if request else 400,
            request=request,
            bank_name=names.get(request.bank_id, "") if request else "",
            here=f"{SIM_BANK_PATH}?{urlencode({'state': state})}" if request else SIM_BANK_PATH,
            people=sorted(bank.people.items()),
            hints=DEMO_HINTS,
        )

    def sim_bank_answer(ctx: Ctx, form: dict[str, str]) -> Response:
        bank = web.regflow.ports.bank
        if not isinstance(bank, SimulatedBank):
            return ctx.render("not_found.html", 404)
        if not web.signer.csrf_ok(form.get("csrf_token"), client_id=ctx.client_id):
            return ctx.render("refused.html", 403, retry="/register")
        request = bank.request(form.get("state", ""))
        if request is None:
            return ctx.redirect(f"{SIM_BANK_PATH}?state=")
        answer = form.get("answer", "")
        if answer == "approve" and form.get("personal_id") in bank.people:
            reply = bank.approve(request, personal_id=form["personal_id"])
        elif answer == "cancel":
            reply = bank.cancel(request)
        elif answer == "error":
            reply = bank.fail(request)
        else:
            return ctx.redirect(f"{SIM_BANK_PATH}?{urlencode({'state': request.state})}")
        return ctx.redirect(f"{CALLBACK_PATH}?{urlencode(dict(reply.params))}")

    app.get(SIM_BANK_PATH, response_class=HTMLResponse)(handler(sim_bank))
    app.post(SIM_BANK_PATH)(posted(sim_bank_answer))

    # -- language ---------------------------------------------------------------------------------

    def language(ctx: Ctx, form: dict[str, str]) -> Response:
        target = form.get("next", "/")
        if not target.startswith("/") or target.startswith("//") or "\\" in target:
            target = "/"
        if not web.signer.csrf_ok(form.get("csrf_token"), client_id=ctx.client_id):
            return ctx.redirect(target, notice="csrf")
        chosen = i18n.choose_language(form.get("language"), None, ctx.language)
        ctx.set_cookies.append((LANGUAGE_COOKIE, chosen, YEAR))
        return ctx.redirect(target)

    app.post("/language")(posted(language))

    # -- login and service selection -----------------------------------------------------------

    def login_page(ctx: Ctx) -> Response:
        return ctx.render("login.html", email="", error=None)

    def login(ctx: Ctx, form: dict[str, str]) -> Response:
        email = form.get("email", "")
        if not web.signer.csrf_ok(form.get("csrf_token"), client_id=ctx.client_id):
            return ctx.render("refused.html", 403, retry="/login")
        try:
            account = _authenticate(web, ctx, email, form.get("password", ""))
        except RateLimited as error:
            page = ctx.render("login.html", 429, email=email, error=None, limited=error)
            return rate_limited(page, error)
        except LoginThrottled as error:
            return ctx.render("login.html", 429, email=email, error=error.message(ctx.language))
        except LoginFailed as error:
            return ctx.render("login.html", 401, email=email, error=error.message(ctx.language))
        except AdapterError:
            return ctx.render("unavailable.html", 503)
        ctx.set_cookies.append(
            (SESSION_COOKIE, web.signer.session(account.account_id), SESSION_TTL)
        )
        return ctx.redirect("/services")

    def services(ctx: Ctx) -> Response:
        account_id = web.signer.session_account(ctx.request.cookies.get(SESSION_COOKIE))
        if account_id is None:
            return ctx.redirect("/login")
        try:
            account = web.service.account(account_id)
            contracts = web.service.account_contracts(account_id) if account else None
        except AdapterError:
            return ctx.render("unavailable.html", 503)
        if account is None or contracts is None:
            ctx.delete_cookies.append(SESSION_COOKIE)
            return ctx.redirect("/login")
        pending = [
            (link.contract, ui.contact_lines([link.contact], ctx.language)[0])
            for link in contracts.pending
        ]
        return ctx.render(
            "services.html", account=account, linked=contracts.linked, pending=pending
        )

    def logout(ctx: Ctx, form: dict[str, str]) -> Response:
        if not web.signer.csrf_ok(form.get("csrf_token"), client_id=ctx.client_id):
            return ctx.render("refused.html", 403, retry="/services")
        ctx.delete_cookies.append(SESSION_COOKIE)
        return ctx.redirect("/login", notice="logged_out")

    app.get("/login", response_class=HTMLResponse)(handler(login_page))
    app.post("/login")(posted(login))
    app.get("/services", response_class=HTMLResponse)(handler(services))
    app.post("/logout")(posted(logout))

    # -- the demo's mailbox ------------------------------------------------------------------------

    def mailbox(ctx: Ctx) -> Response:
        mailer = web.regflow.ports.mailer
        if not web.config.regflow.demo or not isinstance(mailer, RecordingMailer):
            return ctx.render("not_found.html", 404)
        return ctx.render("mailbox.html", messages=list(reversed(mailer.sent)))

    app.get("/demo/mailbox", response_class=HTMLResponse)(handler(mailbox))

    # -- operations: health, readiness, metrics (regflow_web.operations) -----------------------

    async def healthz() -> Response:  # on the event loop: no I/O, answered when the pool is busy
        return JSONResponse({"ok": True})  # SecurityHeaders: no-store

    def readyz() -> Response:  # in the thread pool, like every handler that does I/O
        limiter = web.service.rate_limiter
        ready, body = readiness(web.regflow.storage, limiter.storage if limiter else None)
        return JSONResponse(body, 200 if ready else 503)  # SecurityHeaders: no-store

    def metrics() -> Response:
        return Response(web.metrics.exposition(), media_type=web.metrics.content_type)

    app.get("/healthz")(healthz)
    app.get("/readyz")(readyz)
    app.get("/metrics")(metrics)


def _authenticate(web: Web, ctx: Ctx, email: str, password: str) -> Account:
    """`RegistrationService.authenticate` with the client's address, which the throttle counts
    failures by and the rate limit logins by."""
    return web.service.authenticate(email, password, client_address=_client_address(ctx))


def _client_address(ctx: Ctx) -> str | None:
    """The client's address as the server reports it: the connection's peer, or behind a
    proxy the address the proxy forwarded, when uvicorn was told to trust that proxy
    (`--forwarded-allow-ips`). X-Forwarded-For is never read here: any client can send one."""
    client = ctx.request.client
    return client.host if client else None


def rate_limited(response: Response, error: RateLimited) -> Response:
    """`response` (a 429 page) with the `Retry-After` of the spent limit."""
    response.headers["Retry-After"] = str(error.retry_after)
    return response


def _details(form: Mapping[str, str]) -> ContactDetails:
    values: dict[str, Any] = {
        name: form.get(name, "") for name in DETAIL_FIELDS if name != "marketing_consent"
    }
    values["marketing_consent"] = form.get("marketing_consent", "") in {"on", "1", "yes", "true"}
    return ContactDetails(**values)


# What each demo person leads to, shown on the simulated bank's page (codes of regflow.demo).
DEMO_HINTS: Final[Mapping[str, str]] = {
    "131052-308T": "completed",
    "010594Y239M": "completed",
    "240467-541E": "district_heating_not_linked",
    "280699-255N": "incomplete_contract_data",
    "071290-873K": "customer_not_found",
    "150380-123P": "already_registered",
}
