"""One place that wires the library: configuration in, a ready `RegistrationService` out.

    from regflow.bootstrap import Config, bootstrap

    with bootstrap(Config.from_env()) as app:      # REGFLOW_* variables, see below
        flow = app.service.start(language="sv")

    app = bootstrap(Config(database_url="memory:", demo=True))   # tests and demos

`bootstrap` builds each adapter the configuration names, unless the caller passes its own
(`bank=`, `customers=`, `mailer=`, `clock=`, `hasher=`, `policy=`): an override always wins.
Nothing is built at import time and no adapter is a default argument; adapter modules (and
SQLAlchemy, SMTP, OIDC libraries) are imported only when the configuration asks for them. The
`App` closes what `bootstrap` opened (the database engine), never what the caller passed in.

Environment (`Config.from_env`):

- `REGFLOW_DATABASE_URL`: `memory:`, `sqlite:///FILE` or `postgresql://...`
  (default `sqlite:///regflow.sqlite3`)
- `REGFLOW_BANK`: `simulated` (default) or `oidc` (needs `REGFLOW_OIDC_CONFIG`, `Config.oidc`
  or `bank=`)
- `REGFLOW_OIDC_CONFIG`: a JSON file for `oidc_config_from_file` (the broker, the bank list);
  the client's private keys come from its `key_files` or from `REGFLOW_OIDC_CLIENT_JWKS`
- `REGFLOW_MAILER`: `outbox` (default: queue only, a recording mailer) or `smtp`
- `REGFLOW_SMTP_*`, `REGFLOW_MAIL_FROM`: SMTP, read by `SmtpConfig.from_env` for `smtp`
- `REGFLOW_DEMO`: `1` for the demo customers, the bank's demo people and Johan's account
- `REGFLOW_CUSTOMERS`: `http` for the customer data system's HTTP API
  (`regflow.adapters.http_customers`, the `http` extra), configured by `REGFLOW_CUSTOMERS_URL`,
  `_TOKEN`, `_CLIENT_CERT`, `_CLIENT_KEY`, `_CAFILE`, `_TIMEOUT`, `_DEADLINE`, `_ATTEMPTS` and
  `_FIELD_NAMES`; unset, the demo customers (with `REGFLOW_DEMO`) or `customers=`
- `REGFLOW_DATABASE_CONNECT_TIMEOUT`, `REGFLOW_DATABASE_STATEMENT_TIMEOUT`,
  `REGFLOW_DATABASE_LOCK_TIMEOUT` (seconds, or `off`), `REGFLOW_SQLITE_BUSY_TIMEOUT` (seconds):
  the SQL storage's `DatabaseTimeouts`
- `REGFLOW_RATE_LIMIT_START`, `_PASSWORD`, `_LOGIN` ("30/minute", or `off`) and
  `REGFLOW_RATE_LIMITS=off`: the rate limits per client address (`regflow.ratelimit.RateLimits`),
  counted in the database (in memory for `memory:`)
- `REGFLOW_DIGEST_KEY`: 32 or more characters, the same for every worker: the key of the
  digests the login throttle and the rate limits store for emails and addresses
  (`Config.digest_key`); unset, unkeyed
- `REGFLOW_ARGON2`: the password hash's cost, "m=KiB,t=passes,p=lanes" (`Config.argon2`,
  `Argon2Hasher.from_parameters`), OWASP's minimum or more; unset, argon2-cffi's default,
  "m=65536,t=3,p=4" (RFC 9106's second recommendation); `REGFLOW_ARGON2_NICE` (0-19): the
  niceness of the hashing threads on Linux (default 19: pages before hashes on a busy CPU)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, Self

import attrs

from regflow.errors import AlreadyRegistered, EmailTaken, UnsupportedDatabaseUrl
from regflow.hashing import MAX_NICE, Argon2Hasher
from regflow.login import LoginThrottle
from regflow.model import EmailMessage, NewAccount
from regflow.outbox import OutboxPorts
from regflow.ports import KeepsRateLimits, Ports
from regflow.ratelimit import RateLimiter, RateLimits
from regflow.service import RegistrationService
from regflow.settings import Settings

if TYPE_CHECKING:
    from types import TracebackType

    from regflow.adapters.http_customers import HttpCustomersConfig
    from regflow.adapters.oidc import OidcConfig
    from regflow.adapters.smtp import SmtpConfig
    from regflow.model import Account
    from regflow.ports import (
        BankIdentity,
        Clock,
        CustomerDirectory,
        Mailer,
        PasswordHasher,
        PasswordRules,
        RateLimitStorage,
        Storage,
    )

MEMORY_URL: Final = "memory:"
DEFAULT_DATABASE_URL: Final = "sqlite:///regflow.sqlite3"
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"", "0", "false", "no", "off"})


class ConfigError(ValueError):
    """The configuration names something regflow cannot build (a bad URL scheme, a missing part).

    An operator's error at startup, never a user's: a `ValueError` with an English message,
    not a localised `RegflowError`. It never repeats a database URL (it may hold a password).
    """


def _choice(*allowed: str) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in allowed:
            msg = f"Config.{attribute.name} must be one of {', '.join(allowed)}, got {value!r}"
            raise ConfigError(msg)

    return check


def _seconds(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not (isinstance(value, int | float) and 0 < value < math.inf):
        msg = f"DatabaseTimeouts.{attribute.name} must be a positive number of seconds or None"
        raise ConfigError(msg)


@attrs.frozen
class DatabaseTimeouts:
    """How long the SQL storage waits, in seconds; None leaves the driver's or server's own.

    Each expired timeout raises `regflow.AdapterTimeout`, whose code names it (see
    `regflow.adapters.sql.create_engine` for what each one bounds):

    - `connect`: a PostgreSQL connection (whole seconds, at least 2), or a free pooled one;
    - `statement`: PostgreSQL's `statement_timeout`; the client waits at most 2 s longer for
      any answer, so a frozen database fails the request instead of hanging it;
    - `lock`: PostgreSQL's `lock_timeout`;
    - `sqlite_busy`: how long a SQLite writer waits for the write lock (`lock_timeout` too).
    """

    connect: int | None = attrs.field(default=10, validator=_seconds)
    statement: float | None = attrs.field(default=10.0, validator=_seconds)
    lock: float | None = attrs.field(default=5.0, validator=_seconds)
    sqlite_busy: float = attrs.field(default=30.0, validator=_seconds)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DatabaseTimeouts:
        """The `REGFLOW_DATABASE_*_TIMEOUT` and `REGFLOW_SQLITE_BUSY_TIMEOUT` variables; unset
        or empty: the default; `off`: None."""
        values: dict[str, Any] = {}
        for field, name in (
            ("connect", "REGFLOW_DATABASE_CONNECT_TIMEOUT"),
            ("statement", "REGFLOW_DATABASE_STATEMENT_TIMEOUT"),
            ("lock", "REGFLOW_DATABASE_LOCK_TIMEOUT"),
            ("sqlite_busy", "REGFLOW_SQLITE_BUSY_TIMEOUT"),
        ):
            raw = env.get(name, "").strip().lower()
            if not raw:
                continue
            if raw == "off" and field != "sqlite_busy":
                values[field] = None
                continue
            try:
                number = float(raw)
            except ValueError:
                number = math.nan
            if not (math.isfinite(number) and number > 0):
                allowed = "" if field == "sqlite_busy" else " or off"
                msg = f"{name} must be a positive number of seconds{allowed}, got {raw!r}"
                raise ConfigError(msg)
            values[field] = max(1, round(number)) if field == "connect" else number
        return cls(**values)

    def engine_options(self) -> dict[str, Any]:
        """Keyword arguments for `regflow.adapters.sql.create_engine`."""
        return {
            "connect_timeout": self.connect,
            "statement_timeout": self.statement,
            "lock_timeout": self.lock,
            "sqlite_busy_timeout": self.sqlite_busy,
        }


MIN_DIGEST_KEY_BYTES: Final = 32


def _digest_key(_instance: object, _attribute: object, value: bytes) -> None:
    if value and len(value) < MIN_DIGEST_KEY_BYTES:
        msg = f"the digest key must be at least {MIN_DIGEST_KEY_BYTES} bytes, or empty"
        raise ConfigError(msg)


def _digest_key_from_env(env: Mapping[str, str]) -> bytes:
    """`REGFLOW_DIGEST_KEY` as bytes (UTF-8); unset or empty: no key."""
    value = env.get("REGFLOW_DIGEST_KEY", "").strip().encode("utf-8")
    if value and len(value) < MIN_DIGEST_KEY_BYTES:
        msg = f"REGFLOW_DIGEST_KEY must be at least {MIN_DIGEST_KEY_BYTES} characters"
        raise ConfigError(msg)
    return value


def _owasp_cost(_instance: object, _attribute: object, value: Argon2Hasher) -> None:
    if not value.meets_owasp():
        msg = (
            f"Config.argon2 {value.parameters} is under OWASP's minimum for argon2id; "
            "for tests, pass bootstrap(config, hasher=Argon2Hasher.insecure_fast())"
        )
        raise ConfigError(msg)


def _argon2_from_env(env: Mapping[str, str]) -> Argon2Hasher:
    """`REGFLOW_ARGON2` and `REGFLOW_ARGON2_NICE` as a hasher; unset or empty: the defaults
    (`Argon2Hasher()`)."""
    text = env.get("REGFLOW_ARGON2", "").strip()
    try:
        hasher = Argon2Hasher.from_parameters(text) if text else Argon2Hasher()
    except ValueError as error:
        raise ConfigError(f"REGFLOW_ARGON2: {error}") from error
    nice = env.get("REGFLOW_ARGON2_NICE", "").strip()
    if not nice:
        return hasher
    try:
        return attrs.evolve(hasher, nice=int(nice))
    except ValueError as error:
        msg = f"REGFLOW_ARGON2_NICE must be a whole number from 0 to {MAX_NICE}, got {nice[:20]!r}"
        raise ConfigError(msg) from error


@attrs.frozen
class Config:
    """What to build: storage, bank, mailer, demo data and the operator's settings.

    - `database_url`: `memory:` (in-memory stores), `sqlite:///FILE` or a PostgreSQL URL
      (`postgresql://...`, `postgresql+psycopg://...`); with `create_schema`, the tables are
      created where missing.
    - `bank`: `simulated` (`SimulatedBank`) or `oidc` (`OidcBankIdentity(oidc)`);
      `simulated_bank_url`: where the simulated bank's page is (a web app serves it, e.g. the
      web demo's `/sim-bank/authorize`; default: an address that goes nowhere).
    - `mailer`: `outbox` (emails stay queued for the relay; a `RecordingMailer` keeps what a
      pass over the outbox sends) or `smtp` (`SmtpMailer(smtp)`).
    - `demo`: the demo customers as the customer directory, the simulated bank's demo people and
      Johan Eriksson's existing account (added where missing). Without it, pass `customers=`.
    - `customers_http`: the customer data system's HTTP API (`HttpCustomerDirectory`); it
      replaces the demo customers as the directory.
    - `database_timeouts`: the SQL storage's connect, statement and lock timeouts.
    - `rate_limits`: requests per client address on starting flows, checking passwords and
      logging in (`RateLimits.off()`: none); counted where the storage is, so that every
      worker on one database shares them.
    - `digest_key`: the key of the digests under which the login throttle and the rate limits
      count emails and client addresses (HMAC-SHA256; at least 32 bytes, the same for every
      worker); empty: unkeyed SHA-256, which whoever reads those tables can reverse by trying
      candidates (every IPv4 address, a list of emails).
    - `argon2`: the password hasher `bootstrap` builds (argon2id; by default RFC 9106's second
      recommendation, m=64 MiB, t=3, p=4, as argon2-cffi's; OWASP's minimum, m=19456,t=2,p=1,
      is the cheapest accepted, a weaker cost is a `ConfigError`: a test's cheap hasher goes to
      `bootstrap(hasher=...)`).
      Hashes of an earlier cost still verify and are rehashed at the next login.
    """

    database_url: str = MEMORY_URL
    bank: Literal["simulated", "oidc"] = attrs.field(
        default="simulated", validator=_choice("simulated", "oidc")
    )
    oidc: OidcConfig | None = None
    simulated_bank_url: str | None = None
    mailer: Literal["outbox", "smtp"] = attrs.field(
        default="outbox", validator=_choice("outbox", "smtp")
    )
    smtp: SmtpConfig | None = None
    demo: bool = False
    settings: Settings = attrs.field(factory=Settings)
    create_schema: bool = True
    customers_http: HttpCustomersConfig | None = None
    database_timeouts: DatabaseTimeouts = attrs.field(factory=DatabaseTimeouts)
    rate_limits: RateLimits = attrs.field(factory=RateLimits)
    digest_key: bytes = attrs.field(default=b"", repr=False, validator=_digest_key)
    argon2: Argon2Hasher = attrs.field(factory=Argon2Hasher, validator=_owasp_cost)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Read the `REGFLOW_*` variables of the module docstring (default: `os.environ`);
        keyword `overrides` (e.g. `oidc=`, `settings=`) set the other fields."""
        env = os.environ if environ is None else environ
        mailer = env.get("REGFLOW_MAILER", "outbox").strip().lower() or "outbox"
        smtp = None
        if mailer == "smtp" and "smtp" not in overrides:
            from regflow.adapters.smtp import SmtpConfig

            try:
                smtp = SmtpConfig.from_env(env)
            except ValueError as error:
                raise ConfigError(str(error)) from error
        oidc = None
        bank = env.get("REGFLOW_BANK", "simulated").strip().lower() or "simulated"
        if bank == "oidc" and "oidc" not in overrides and env.get("REGFLOW_OIDC_CONFIG"):
            oidc = oidc_config_from_file(env["REGFLOW_OIDC_CONFIG"], environ=env)
        customers_http = None
        customers = env.get("REGFLOW_CUSTOMERS", "").strip().lower()
        if customers not in {"", "http", "demo"}:
            msg = f"REGFLOW_CUSTOMERS must be http or demo, got {customers[:20]!r}"
            raise ConfigError(msg)
        if customers == "http" and "customers_http" not in overrides:
            from regflow.adapters.http_customers import HttpCustomersConfig

            try:
                customers_http = HttpCustomersConfig.from_env(env)
            except ValueError as error:
                raise ConfigError(str(error)) from error
        rate_limits = None
        if "rate_limits" not in overrides:
            try:
                rate_limits = RateLimits.from_env(env)
            except ValueError as error:
                raise ConfigError(str(error)) from error
        values: dict[str, Any] = {
            "customers_http": customers_http,
            "database_url": env.get("REGFLOW_DATABASE_URL") or DEFAULT_DATABASE_URL,
            "bank": bank,
            "oidc": oidc,
            "mailer": mailer,
            "smtp": smtp,
            "demo": _flag(env, "REGFLOW_DEMO"),
            "database_timeouts": DatabaseTimeouts.from_env(env),
            "rate_limits": rate_limits,
            "digest_key": _digest_key_from_env(env),
            "argon2": _argon2_from_env(env),
        }
        return cls(**{**values, **overrides})


def oidc_config_from_file(
    path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> OidcConfig:
    """An `OidcConfig` from a JSON file (needs the `oidc` extra); `ConfigError` when it is bad.

        {"issuer": "https://broker.example", "client_id": "...", "redirect_uri": "https://...",
         "claims": "idura",                      # a preset name, or {"personal_id": "hetu", ...}
         "banks": [{"id": "nordea", "name": "Nordea", "params": {"ftn_idp_id": "fi-nordea"}},
                   {"id": "op", "name": "OP", "acr_values": ["http://ftn.ficora.fi/2017/loa3"]}],
         "key_files": ["client-jwks.json"]}      # optional: else REGFLOW_OIDC_CLIENT_JWKS

    Relative `key_files` are read from the configuration file's folder; any other key is passed
    to `OidcConfig` as it is (for example `"timeout": 10`).
    """
    import json
    from pathlib import Path

    from regflow.adapters.oidc import BankMethod, ClaimMapping, ClientKeys, OidcConfig

    source = Path(path)
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            msg = "the file must hold a JSON object"
            raise TypeError(msg)  # reported below like every other mistake
        claims = raw.pop("claims", "idura")
        key_files = [source.parent / name for name in raw.pop("key_files", [])]
        keys = (
            ClientKeys.from_files(*key_files)
            if key_files
            else ClientKeys.from_env(environ=os.environ if environ is None else environ)
        )
        return OidcConfig(
            keys=keys,
            banks=[BankMethod(**bank) for bank in raw.pop("banks")],
            claims=ClaimMapping.preset(claims)
            if isinstance(claims, str)
            else ClaimMapping(**claims),
            **raw,
        )
    except (OSError, ValueError, TypeError, KeyError) as error:
        msg = f"OIDC configuration {source.name}: {type(error).__name__}: {error}"
        raise ConfigError(msg) from error


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    msg = f"{name} must be 1 or 0, got {value!r}"
    raise ConfigError(msg)


Closer = Callable[[], None]


@attrs.define
class _Opened:
    """Closes what bootstrap opened (`close()`, or leaving `with ...:`), last opened first."""

    _closers: list[Closer] = attrs.field(factory=list, alias="closers", repr=False, kw_only=True)

    def close(self) -> None:
        """Close what bootstrap opened, last opened first; a second call does nothing."""
        closers, self._closers = self._closers, []
        _close_all(closers)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()


@attrs.define
class App(_Opened):
    """What `bootstrap` built: the ports, the storage and the service over them."""

    ports: Ports
    storage: Storage
    service: RegistrationService


@attrs.define
class OutboxApp(_Opened):
    """What `bootstrap_outbox` built for a relay: the outbox's ports and the storage."""

    ports: OutboxPorts
    storage: Storage


def bootstrap(
    config: Config,
    *,
    bank: BankIdentity | None = None,
    customers: CustomerDirectory | None = None,
    mailer: Mailer | None = None,
    clock: Clock | None = None,
    hasher: PasswordHasher | None = None,
    policy: PasswordRules | None = None,
    rate_limit_storage: RateLimitStorage | None = None,
) -> App:
    """Build the `App` that `config` describes; each keyword given replaces what it would build.

    `rate_limit_storage` (any `limits` storage, e.g. its Redis one) replaces the counters in
    the database (or in memory) that `config.rate_limits` are counted in.

    Raises `ConfigError` for a configuration it cannot build (an unknown database URL scheme,
    `bank="oidc"` without `oidc`, `mailer="smtp"` without `smtp`, no customer directory).
    """
    closers: list[Closer] = []
    try:
        customers = customers if customers is not None else _customers(config, closers)
        bank = bank if bank is not None else _bank(config, closers)
        mailer = mailer if mailer is not None else _mailer(config)
        clock = clock if clock is not None else _system_clock()
        if hasher is None:
            hasher = config.argon2
        if policy is None:
            from regflow.policy import PasswordPolicy

            policy = PasswordPolicy.helen()
        storage = open_storage(
            config.database_url,
            closers,
            create_schema=config.create_schema,
            timeouts=config.database_timeouts,
        )
        if config.demo:
            _add_demo_account(storage, hasher, clock)
        ports = Ports(
            bank=bank,
            customers=customers,
            accounts=storage.accounts,
            flows=storage.flows,
            mailer=mailer,
            policy=policy,
            hasher=hasher,
            clock=clock,
            settings=config.settings,
        )
        limiter = None
        if config.rate_limits.enabled:
            counters = (
                rate_limit_storage
                if rate_limit_storage is not None
                else _rate_limit_storage(storage, clock)
            )
            limiter = RateLimiter(counters, config.rate_limits, clock, digest_key=config.digest_key)
        service = RegistrationService(
            ports,
            storage,
            rate_limiter=limiter,
            login_throttle=LoginThrottle(digest_key=config.digest_key),
        )
    except BaseException:
        _close_all(closers)
        raise
    return App(ports=service.ports, storage=storage, service=service, closers=closers)


def bootstrap_outbox(
    config: Config, *, mailer: Mailer | None = None, clock: Clock | None = None
) -> OutboxApp:
    """What a relay needs (`regflow relay`): the storage's outbox, the mailer and the clock.

    Bank and customer directory are not built; `config.create_schema` applies as in `bootstrap`.
    """
    mailer = mailer if mailer is not None else _mailer(config)
    clock = clock if clock is not None else _system_clock()
    closers: list[Closer] = []
    storage = open_storage(
        config.database_url,
        closers,
        create_schema=config.create_schema,
        timeouts=config.database_timeouts,
    )
    ports = OutboxPorts(outbox=storage.outbox, mailer=mailer, clock=clock)
    return OutboxApp(ports=ports, storage=storage, closers=closers)


def _rate_limit_storage(storage: Storage, clock: Clock) -> RateLimitStorage:
    """The counters beside `storage`: in its database, shared by every worker; in this
    process for the in-memory storage."""
    from regflow.adapters.memory import InMemoryRateLimitStorage, InMemoryStorage

    if isinstance(storage, InMemoryStorage):
        return InMemoryRateLimitStorage(clock)
    if not isinstance(storage, KeepsRateLimits):
        msg = (
            f"{type(storage).__name__} keeps no rate limits: pass rate_limit_storage=... "
            "or Config(rate_limits=RateLimits.off())"
        )
        raise ConfigError(msg)
    return storage.rate_limits(clock)


def _close_all(closers: list[Closer]) -> None:
    """Run every closer, last opened first, even when one fails (the first failure is raised)."""
    with contextlib.ExitStack() as stack:
        for close in closers:
            stack.callback(close)


def _system_clock() -> Clock:
    from regflow.clock import SystemClock

    return SystemClock()


def demo_app(
    *,
    database_url: str = MEMORY_URL,
    hasher: PasswordHasher | None = None,
    clock: Clock | None = None,
    settings: Settings | None = None,
) -> App:
    """The demo: simulated bank, demo customers, Johan's account, a recording mailer, on
    `database_url` (in memory by default). `demo_app().service` replaces the removed
    `RegistrationService.in_memory(demo_ports())`."""
    config = Config(database_url=database_url, demo=True, settings=settings or Settings())
    return bootstrap(config, hasher=hasher, clock=clock)


def demo_ports(
    *,
    hasher: PasswordHasher | None = None,
    clock: Clock | None = None,
    settings: Settings | None = None,
) -> Ports:
    """Every port wired to its in-memory fake, with the demo customers, on a `ManualClock`.

    Johan Eriksson (150380-123P) already has an account (johan.eriksson@example.fi).
    `hasher` defaults to argon2id at OWASP's parameters; tests may pass
    `Argon2Hasher.insecure_fast()`. The same as `demo_app(...).ports`;
    `InMemoryStorage.of(ports)` gives back its storage.
    """
    from regflow.adapters.memory import ManualClock

    return demo_app(hasher=hasher, clock=clock or ManualClock(), settings=settings).ports


def open_storage(
    url: str,
    closers: list[Closer],
    *,
    create_schema: bool = True,
    timeouts: DatabaseTimeouts | None = None,
) -> Storage:
    """The storage for a database URL; appends to `closers` what must be closed later.

    `timeouts` (default `DatabaseTimeouts()`) apply to SQL storage."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if url == MEMORY_URL:
        from regflow.adapters.memory import InMemoryStorage

        return InMemoryStorage()
    backend = scheme.split("+", 1)[0]
    if backend not in {"sqlite", "postgresql"}:
        raise _BadDatabaseUrl(scheme)
    from sqlalchemy.exc import ArgumentError

    from regflow.adapters.sql import SqlStore

    try:
        store = SqlStore.from_url(url, **(timeouts or DatabaseTimeouts()).engine_options())
    except (ValueError, ArgumentError):  # malformed (a port that is no number), unknown +driver
        raise _BadDatabaseUrl(scheme, malformed=True) from None  # its text repeats the URL
    closers.append(store.close)
    if create_schema:
        store.create_schema()
    return store


class _BadDatabaseUrl(ConfigError, UnsupportedDatabaseUrl):
    """`UnsupportedDatabaseUrl`, and a `ConfigError` like bootstrap's other refusals."""


def init_database(url: str = DEFAULT_DATABASE_URL) -> None:
    """Create regflow's tables at `url` where they are missing (`regflow init-db`).

    `memory:` has nothing to create. Raises `UnsupportedDatabaseUrl` (a `ConfigError`) for a
    URL regflow cannot use, `DatabaseUnavailable` when the database cannot be reached.
    """
    closers: list[Closer] = []
    try:
        open_storage(url, closers, create_schema=True)
    finally:
        _close_all(closers)


def describe_database_url(url: str) -> str:
    """The URL to show a person: its password masked (`***`); an unreadable one not at all."""
    if url == MEMORY_URL:
        return url
    try:
        import sqlalchemy as sa

        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # any parsing failure: show nothing of it
        return "(an unreadable database URL)"


def _customers(config: Config, closers: list[Closer]) -> CustomerDirectory:
    if config.customers_http is not None:
        from regflow.adapters.http_customers import HttpCustomerDirectory

        http = HttpCustomerDirectory(config.customers_http)  # no I/O until the first lookup
        closers.append(http.close)
        return http
    if not config.demo:
        msg = (
            "no customer directory: pass customers=... to bootstrap, set Config.customers_http "
            "(REGFLOW_CUSTOMERS=http), or turn on Config.demo"
        )
        raise ConfigError(msg)
    from regflow.adapters.memory import InMemoryCustomerDirectory
    from regflow.demo import DEMO_CUSTOMERS

    return InMemoryCustomerDirectory(DEMO_CUSTOMERS)


def _bank(config: Config, closers: list[Closer]) -> BankIdentity:
    if config.bank == "oidc":
        if config.oidc is None:
            msg = (
                'Config(bank="oidc") needs Config.oidc (an OidcConfig; from the environment: '
                "REGFLOW_OIDC_CONFIG), or pass bank=..."
            )
            raise ConfigError(msg)
        from regflow.adapters.oidc import OidcBankIdentity

        oidc = OidcBankIdentity(config.oidc)  # no I/O yet; its HTTP client opens on first use
        closers.append(oidc.close)
        return oidc
    from regflow.adapters.memory import SimulatedBank
    from regflow.demo import DEMO_PEOPLE

    people = DEMO_PEOPLE if config.demo else None
    if config.simulated_bank_url is None:
        return SimulatedBank(people=people)
    return SimulatedBank(people=people, base_url=config.simulated_bank_url)


def _mailer(config: Config) -> Mailer:
    if config.mailer == "smtp":
        if config.smtp is None:
            msg = 'Config(mailer="smtp") needs Config.smtp (an SmtpConfig), or pass mailer=...'
            raise ConfigError(msg)
        from regflow.adapters.smtp import SmtpMailer

        return SmtpMailer(config.smtp)  # opens no connection until it sends
    from regflow.adapters.memory import RecordingMailer

    return RecordingMailer()


def _add_demo_account(storage: Storage, hasher: PasswordHasher, clock: Clock) -> None:
    """Johan Eriksson's account, where it is missing (a database keeps it from earlier runs)."""
    from regflow.adapters.memory import InMemoryAccountStore
    from regflow.demo import johan_account

    account = johan_account(password_hash=hasher.hash(secrets.token_urlsafe(16)), now=clock.now())
    if isinstance(storage.accounts, InMemoryAccountStore):
        with storage.unit_of_work():
            if not storage.accounts.exists_for_person(account.personal_id):
                storage.accounts.add(account)
        return
    copy_account(storage, account, now=clock.now())


def copy_account(storage: Storage, account: Account, *, now: dt.datetime) -> None:
    """Copy an existing account into `storage` unless the person has one there already.

    The `AccountStore` port creates an account only together with its email, so the copy queues
    a placeholder and marks it sent in the same unit of work: the relay never sends it.
    """
    message = EmailMessage(
        message_id=f"regflow-demo-account.{account.account_id}",
        to=account.email,
        subject="Demo account",
        text="A demo account, created by the regflow demo; this email is never sent.\n",
        html="<p>A demo account, created by the regflow demo; this email is never sent.</p>",
    )
    new = NewAccount(**attrs.asdict(account, recurse=False))  # the same fields
    # Already there: from an earlier run, or from a demo started at the same moment.
    try:
        with storage.unit_of_work() as uow:
            if not uow.accounts.exists_for_person(account.personal_id):
                uow.accounts.create(new, message)
                uow.outbox.mark_sent(message.message_id, now)
    except (AlreadyRegistered, EmailTaken):
        return
