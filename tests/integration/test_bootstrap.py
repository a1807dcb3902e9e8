"""`regflow.bootstrap` builds every kind of storage, honours overrides, closes what it opened."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from tests.storage_fixtures import (  # noqa: F401  # fixtures
    postgres_server_url,
    postgres_url,
    sqlite_url,
)
from tests.storage_support import PASSWORD, SignedBank, people, register_until_review

from regflow import Argon2Hasher, State
from regflow.adapters.memory import (
    InMemoryCustomerDirectory,
    InMemoryStorage,
    ManualClock,
    RecordingMailer,
    SimulatedBank,
    demo_ports,
)
from regflow.bootstrap import (
    DEFAULT_DATABASE_URL,
    App,
    Config,
    ConfigError,
    DatabaseTimeouts,
    bootstrap,
    bootstrap_outbox,
    demo_app,
)
from regflow.clock import SystemClock
from regflow.demo import DEMO_CUSTOMERS, JOHAN_ACCOUNT_ID
from regflow.ports import Ports

if TYPE_CHECKING:
    from tests.oidc_fixtures import OidcProviderProcess

FAST = Argon2Hasher.insecure_fast()
JOHAN = DEMO_CUSTOMERS[-1]


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A database URL of each kind bootstrap accepts."""
    if request.param == "memory":
        return "memory:"
    return str(
        request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    )


@pytest.fixture
def demo(database_url: str) -> Iterator[App]:
    """The demo, bootstrapped on `database_url`."""
    with demo_app(database_url=database_url, hasher=FAST) as app:
        yield app


def test_each_url_kind_gives_a_working_registration(demo: App) -> None:
    """On memory:, SQLite and PostgreSQL alike, a demo customer registers and the email queues."""
    record = DEMO_CUSTOMERS[0]
    bank = demo.ports.bank
    assert isinstance(bank, SimulatedBank)
    flow = demo.service.start(language="fi")
    flow = demo.service.select_bank(flow.id, "nordea")
    assert flow.redirect is not None
    callback = bank.approve(flow.redirect, personal_id=record.personal_id)
    flow = demo.service.complete_identification(flow.id, callback)
    flow = demo.service.confirm_personal_id(flow.id)
    assert flow.prefilled is not None
    flow = demo.service.submit_details(flow.id, flow.prefilled, "Kukkaruukku7Q")
    assert flow.review_token is not None
    flow = demo.service.approve(flow.id, flow.review_token)
    assert flow.state is State.completed
    assert demo.ports.accounts.exists_for_person(record.personal_id)
    assert [m.message.to for m in demo.ports.outbox.pending_messages(SystemClock().now(), 10)] == [
        record.details.email
    ]


def test_demo_has_johans_account_and_no_email_for_it(demo: App) -> None:
    """The demo's existing account is there, and copying it in queued nothing to send."""
    account = demo.ports.accounts.find_by_email(JOHAN.details.email)
    assert account is not None
    assert account.account_id == JOHAN_ACCOUNT_ID
    assert demo.ports.outbox.pending_messages(SystemClock().now(), 10) == []


def test_bootstrapping_a_database_twice_keeps_one_demo_account(sqlite_url: str) -> None:  # noqa: F811
    """A second start on the same file finds Johan's account there and adds nothing."""
    with demo_app(database_url=sqlite_url, hasher=FAST):
        pass
    with demo_app(database_url=sqlite_url, hasher=FAST) as again:
        assert again.ports.accounts.exists_for_person(JOHAN.personal_id)
    with sa.create_engine(sqlite_url).connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM regflow_accounts")).scalar()
    assert count == 1


@pytest.mark.parametrize(
    "url", ["mysql://regflow:s3cret@db/regflow", "sqlite3:///x.db", "regflow.sqlite3", ""]
)
def test_a_bad_url_scheme_is_a_config_error_without_the_url(url: str) -> None:
    """An unsupported database URL raises ConfigError naming the scheme, never the password."""
    with pytest.raises(ConfigError, match="Unsupported database URL scheme") as caught:
        demo_app(database_url=url, hasher=FAST)
    assert "s3cret" not in str(caught.value)


def test_overrides_win_over_the_configuration() -> None:
    """A bank, directory, mailer, clock, hasher and policy passed in are the ones used."""
    records = people(1)
    bank = SignedBank({r.personal_id: ("A", "B") for r in records})
    customers = InMemoryCustomerDirectory(records)
    mailer, clock = RecordingMailer(), ManualClock()
    with bootstrap(
        Config(demo=True), bank=bank, customers=customers, mailer=mailer, clock=clock, hasher=FAST
    ) as app:
        assert app.ports.bank is bank
        assert app.ports.customers is customers
        assert app.ports.mailer is mailer
        assert app.ports.clock is clock
        assert app.ports.hasher is FAST
        flow = register_until_review(app.service, records[0])
        assert flow.state is State.reviewing


def test_without_demo_a_customer_directory_is_required() -> None:
    """No demo and no customers= is a ConfigError, not an empty directory sending all away."""
    with pytest.raises(ConfigError, match="customers="):
        bootstrap(Config())


def test_oidc_and_smtp_need_their_configuration() -> None:
    """bank="oidc" without an OidcConfig and mailer="smtp" without an SmtpConfig are refused."""
    with pytest.raises(ConfigError, match=r"Config\.oidc"):
        bootstrap(Config(bank="oidc", demo=True), hasher=FAST)
    with pytest.raises(ConfigError, match=r"Config\.smtp"):
        bootstrap(Config(mailer="smtp", demo=True), hasher=FAST)
    with pytest.raises(ConfigError, match="bank must be one of"):
        Config(bank="nordea")  # type: ignore[arg-type]  # the wrong value on purpose


def test_from_env_reads_the_documented_variables() -> None:
    """Config.from_env reads REGFLOW_DATABASE_URL, _BANK, _MAILER, _DEMO and the SMTP variables."""
    assert Config.from_env({}) == Config(database_url=DEFAULT_DATABASE_URL)
    config = Config.from_env(
        {
            "REGFLOW_DATABASE_URL": "memory:",
            "REGFLOW_BANK": "OIDC",
            "REGFLOW_MAILER": "smtp",
            "REGFLOW_MAIL_FROM": "no-reply@example.fi",
            "REGFLOW_SMTP_HOST": "smtp.example.fi",
            "REGFLOW_DEMO": "1",
        }
    )
    assert (config.database_url, config.bank, config.mailer, config.demo) == (
        "memory:",
        "oidc",
        "smtp",
        True,
    )
    assert config.smtp is not None
    assert config.smtp.host == "smtp.example.fi"
    with pytest.raises(ConfigError, match="REGFLOW_DEMO"):
        Config.from_env({"REGFLOW_DEMO": "maybe"})
    with pytest.raises(ConfigError, match="REGFLOW_MAIL_FROM"):
        Config.from_env({"REGFLOW_MAILER": "smtp"})


def test_the_configured_argon2_cost_hashes_and_is_applied_at_login(sqlite_url: str) -> None:  # noqa: F811
    """Unset, bootstrap hashes at argon2-cffi's default; `REGFLOW_ARGON2` set later on the
    same database, the next login rehashes the earlier account with that cost."""
    record = people(1)[0]
    bank = SignedBank({record.personal_id: ("A", "B")})
    customers = InMemoryCustomerDirectory([record])
    with bootstrap(Config(database_url=sqlite_url), bank=bank, customers=customers) as app:
        flow = register_until_review(app.service, record)
        assert flow.review_token is not None
        app.service.approve(flow.id, flow.review_token)
        before = app.ports.accounts.find_by_email(record.details.email)
    assert before is not None
    assert before.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    chosen = Config.from_env(
        {"REGFLOW_DATABASE_URL": sqlite_url, "REGFLOW_ARGON2": "m=47104,t=1,p=1"}
    )
    assert chosen.argon2.parameters == "m=47104,t=1,p=1"
    with bootstrap(chosen, bank=bank, customers=customers) as app:
        assert app.ports.hasher == chosen.argon2
        account = app.service.authenticate(record.details.email, PASSWORD)
        after = app.ports.accounts.find_by_email(record.details.email)
    assert after is not None
    assert after.password_hash == account.password_hash
    assert after.password_hash.startswith("$argon2id$v=19$m=47104,t=1,p=1$")


def test_an_argon2_cost_under_owasps_minimum_is_a_config_error() -> None:
    """From the environment (naming the variable) and in code (pointing tests at `hasher=`)."""
    with pytest.raises(ConfigError, match=r"REGFLOW_ARGON2: .*under OWASP's minimum"):
        Config.from_env({"REGFLOW_ARGON2": "m=4096,t=1,p=1"})
    with pytest.raises(ConfigError, match="REGFLOW_ARGON2: argon2 parameters must read"):
        Config.from_env({"REGFLOW_ARGON2": "strong"})
    with pytest.raises(ConfigError, match=r"hasher=Argon2Hasher\.insecure_fast"):
        Config(argon2=FAST)
    assert Config.from_env({"REGFLOW_ARGON2": " "}).argon2 == Argon2Hasher()
    for nice in ("20", "-1", "low"):
        with pytest.raises(ConfigError, match="REGFLOW_ARGON2_NICE must be a whole number"):
            Config.from_env({"REGFLOW_ARGON2_NICE": nice})


def test_the_hashing_threads_niceness_comes_from_the_environment() -> None:
    """`REGFLOW_ARGON2_NICE` beside `REGFLOW_ARGON2`, or alone on the default cost."""
    assert Config.from_env({}).argon2.nice == 19
    assert Config.from_env({"REGFLOW_ARGON2_NICE": "0"}).argon2 == Argon2Hasher(nice=0)
    chosen = Config.from_env({"REGFLOW_ARGON2": "m=19456,t=2,p=1", "REGFLOW_ARGON2_NICE": "10"})
    assert (chosen.argon2.parameters, chosen.argon2.nice) == ("m=19456,t=2,p=1", 10)


def test_database_timeouts_come_from_the_environment() -> None:
    """REGFLOW_DATABASE_*_TIMEOUT and REGFLOW_SQLITE_BUSY_TIMEOUT set Config.database_timeouts;
    `off` leaves one to the server; anything else but a positive number is a ConfigError."""
    assert Config.from_env({}).database_timeouts == DatabaseTimeouts()
    config = Config.from_env(
        {
            "REGFLOW_DATABASE_CONNECT_TIMEOUT": "3",
            "REGFLOW_DATABASE_STATEMENT_TIMEOUT": "2.5",
            "REGFLOW_DATABASE_LOCK_TIMEOUT": "off",
            "REGFLOW_SQLITE_BUSY_TIMEOUT": "7",
        }
    )
    assert config.database_timeouts == DatabaseTimeouts(
        connect=3, statement=2.5, lock=None, sqlite_busy=7.0
    )
    for name, value in [
        ("REGFLOW_DATABASE_STATEMENT_TIMEOUT", "0"),
        ("REGFLOW_DATABASE_LOCK_TIMEOUT", "soon"),
        ("REGFLOW_DATABASE_CONNECT_TIMEOUT", "inf"),
        ("REGFLOW_SQLITE_BUSY_TIMEOUT", "off"),
    ]:
        with pytest.raises(ConfigError, match=name):
            Config.from_env({name: value})
    with pytest.raises(ConfigError, match="statement"):
        DatabaseTimeouts(statement=-1)


def test_database_timeout_defaults_are_the_engines() -> None:
    """DatabaseTimeouts' defaults are create_engine's (bootstrap does not import SQLAlchemy to
    read them)."""
    import inspect

    from regflow.adapters.sql import create_engine

    parameters = inspect.signature(create_engine).parameters
    for name, value in DatabaseTimeouts().engine_options().items():
        assert parameters[name].default == value, name


def test_bootstrap_passes_the_timeouts_to_the_engine(sqlite_url: str) -> None:  # noqa: F811
    """The SQLite busy timeout (and so the others) reach the engine bootstrap builds."""
    config = Config(
        database_url=sqlite_url, demo=True, database_timeouts=DatabaseTimeouts(sqlite_busy=0.25)
    )
    with bootstrap(config, hasher=FAST) as app:
        engine = app.storage.engine  # type: ignore[attr-defined]  # a SqlStore here
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 250


@pytest.mark.postgres
def test_bootstrap_sets_postgresql_timeouts(postgres_url: str) -> None:  # noqa: F811
    """Config.database_timeouts become the PostgreSQL session's statement and lock timeouts."""
    timeouts = DatabaseTimeouts(statement=4, lock=1.5)
    config = Config(database_url=postgres_url, demo=True, database_timeouts=timeouts)
    with bootstrap(config, hasher=FAST) as app:
        engine = app.storage.engine  # type: ignore[attr-defined]  # a SqlStore here
        with engine.connect() as connection:
            shown = [
                connection.exec_driver_sql(f"SHOW {name}").scalar()
                for name in ("statement_timeout", "lock_timeout")
            ]
    assert shown == ["4s", "1500ms"]


def test_close_releases_the_connections_it_opened(sqlite_url: str) -> None:  # noqa: F811
    """Closing the app disposes of the engine bootstrap opened; a second close does nothing."""
    app = demo_app(database_url=sqlite_url, hasher=FAST)
    app.service.start()
    engine = app.storage.engine  # type: ignore[attr-defined]  # a SqlStore here
    assert engine.pool.checkedin() >= 1
    app.close()
    assert engine.pool.checkedin() == 0
    app.close()


def test_close_leaves_what_the_caller_passed_open() -> None:
    """Objects passed in are the caller's: closing the app does not close them."""

    class Closable(RecordingMailer):
        def __init__(self) -> None:
            super().__init__()
            self.closed = False

        def close(self) -> None:
            self.closed = True

    mailer = Closable()
    with demo_app(hasher=FAST):
        pass
    with bootstrap(Config(demo=True), mailer=mailer, hasher=FAST):
        pass
    assert not mailer.closed


def test_outbox_bootstrap_for_the_relay(sqlite_url: str) -> None:  # noqa: F811
    """bootstrap_outbox gives the relay's ports over the database, without bank or directory."""
    with demo_app(database_url=sqlite_url, hasher=FAST):
        pass
    with bootstrap_outbox(Config(database_url=sqlite_url)) as relay:
        assert relay.ports.outbox.pending_messages(SystemClock().now(), 10) == []
        assert isinstance(relay.ports.mailer, RecordingMailer)


def test_demo_ports_are_the_bootstrapped_demo() -> None:
    """demo_ports() still gives in-memory ports with the demo data and a manual clock."""
    ports = demo_ports(hasher=FAST)
    assert isinstance(ports.clock, ManualClock)
    assert ports.accounts.exists_for_person(JOHAN.personal_id)
    storage = InMemoryStorage.of(ports)
    assert storage.accounts is ports.accounts is ports.outbox is ports.login_attempts


def test_ports_refuse_an_accounts_object_that_is_no_outbox() -> None:
    """An accounts object without the outbox's methods needs outbox=...: a clear TypeError."""
    ports = demo_ports(hasher=FAST)

    class AccountsOnly:
        def __getattr__(self, name: str) -> object:
            if name in {"claim_messages", "pending_messages", "mark_sent", "mark_failed"}:
                raise AttributeError(name)
            return getattr(ports.accounts, name)

    fields = {f: getattr(ports, f) for f in ("bank", "customers", "flows", "mailer", "policy")}
    with pytest.raises(TypeError, match="pass outbox="):
        Ports(accounts=AccountsOnly(), hasher=FAST, clock=ports.clock, **fields)  # type: ignore[arg-type]
    built = Ports(
        accounts=AccountsOnly(),  # type: ignore[arg-type]  # the point of the test
        outbox=ports.outbox,
        hasher=FAST,
        clock=ports.clock,
        **fields,
    )
    assert built.outbox is ports.outbox


def test_the_service_layer_imports_no_adapter() -> None:
    """Importing regflow.service (and bootstrap) loads no adapter module and no SQLAlchemy."""
    code = (
        "import sys, regflow.service, regflow.bootstrap; "
        "print([m for m in sys.modules if m.startswith(('regflow.adapters', 'sqlalchemy'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_oidc_from_a_config_file_identifies_at_the_broker(
    oidc_broker: OidcProviderProcess, tmp_path: Path
) -> None:
    """REGFLOW_BANK=oidc with REGFLOW_OIDC_CONFIG builds an OIDC bank that identifies Anna."""
    keys = oidc_broker.client_keys
    jwks = {"keys": [k.as_dict(private=True) for k in (keys.signing, *keys.decryption)]}
    (tmp_path / "client-jwks.json").write_text(json.dumps(jwks), encoding="utf-8")
    settings = {
        "issuer": oidc_broker.issuer,
        "client_id": oidc_broker.client_id,
        "redirect_uri": oidc_broker.redirect_uri,
        "claims": "idura",
        "banks": [{"id": "nordea", "name": "Nordea", "params": {"ftn_idp_id": "fi-nordea"}}],
        "key_files": ["client-jwks.json"],
        "timeout": 2.0,
    }
    (tmp_path / "oidc.json").write_text(json.dumps(settings), encoding="utf-8")
    environ = {
        "REGFLOW_DATABASE_URL": "memory:",
        "REGFLOW_BANK": "oidc",
        "REGFLOW_OIDC_CONFIG": str(tmp_path / "oidc.json"),
        "REGFLOW_DEMO": "1",
    }
    with bootstrap(Config.from_env(environ), hasher=FAST) as app:
        bank = app.ports.bank
        assert [b.id for b in bank.banks()] == ["nordea"]
        redirect = bank.begin("nordea", flow_id="flow-1", language="fi")
        person = bank.complete(oidc_broker.login(redirect, account="anna"), redirect)
        assert person.personal_id == DEMO_CUSTOMERS[0].personal_id


def test_a_bad_oidc_config_file_is_a_config_error(tmp_path: Path) -> None:
    """A missing or malformed OIDC configuration file raises ConfigError naming the file."""
    environ = {"REGFLOW_BANK": "oidc", "REGFLOW_OIDC_CONFIG": str(tmp_path / "missing.json")}
    with pytest.raises(ConfigError, match=r"missing\.json"):
        Config.from_env(environ)
    (tmp_path / "oidc.json").write_text('{"issuer": "http://example.fi"}', encoding="utf-8")
    environ["REGFLOW_OIDC_CONFIG"] = str(tmp_path / "oidc.json")
    with pytest.raises(ConfigError, match=r"oidc\.json"):
        Config.from_env(environ)
