"""The web example's configuration: regflow's own `Config` plus what only a web app needs."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from regflow.bootstrap import Config, ConfigError

if TYPE_CHECKING:
    from regflow.ports import BankIdentity, Clock, CustomerDirectory, PasswordHasher

SIM_BANK_PATH: Final = "/sim-bank/authorize"
_TRUE: Final = frozenset({"1", "true", "yes", "on"})


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE or value in {"0", "false", "no", "off"}:
        return value in _TRUE
    msg = f"{name} must be 1 or 0, got {value!r}"
    raise ConfigError(msg)


@attrs.frozen
class WebConfig:
    """What `create_app` builds.

    - `regflow`: the library's configuration (storage, bank, mailer, demo data, settings);
      `regflow.bootstrap.bootstrap` builds everything from it. For the simulated bank, set its
      `simulated_bank_url` to this app's `/sim-bank/authorize` (`from_env` does).
    - `secret_key`: signs the CSRF tokens and the login session; every worker of one site needs
      the same key (`REGFLOW_WEB_SECRET`); default: random per process.
    - `secure_cookies`: mark cookies `Secure` (behind HTTPS; `REGFLOW_WEB_SECURE_COOKIES`).
    - `relay`: run the outbox relay in the app, every `relay_interval` seconds (the demo; in
      production run `regflow relay` beside the app instead). `REGFLOW_WEB_RELAY`.
    - `default_language`: when neither the language cookie nor Accept-Language names one.
    - `freeze_gc`: at startup, after the warm-up, `gc.freeze()` the objects alive then
      (`regflow_web.app.prepare_process`): for a process that serves this app and nothing else,
      as a server's worker does (`from_env`: on; `REGFLOW_WEB_GC_FREEZE=0` turns it off). Off
      by default, for an app built inside a process that does more (a test run, an embedding).
    - `hasher`, `clock`, `bank`, `customers`: passed to `bootstrap` (tests use a cheap hasher
      and a manual clock; the HTTP load benchmark its own customers and a bank every worker
      can answer).
    """

    regflow: Config = attrs.field(
        factory=lambda: Config(demo=True, simulated_bank_url=SIM_BANK_PATH)
    )
    secret_key: bytes = attrs.field(factory=lambda: secrets.token_bytes(32), repr=False)
    secure_cookies: bool = False
    relay: bool = False
    relay_interval: float = 2.0
    default_language: str = "sv"
    freeze_gc: bool = False
    hasher: PasswordHasher | None = None
    clock: Clock | None = None
    bank: BankIdentity | None = None
    customers: CustomerDirectory | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> WebConfig:
        """regflow's `Config.from_env` (the `REGFLOW_*` variables) plus `REGFLOW_WEB_*`."""
        env = os.environ if environ is None else environ
        regflow = Config.from_env(env, simulated_bank_url=SIM_BANK_PATH)
        secret = env.get("REGFLOW_WEB_SECRET", "")
        values: dict[str, Any] = {
            "regflow": regflow,
            "secure_cookies": _flag(env, "REGFLOW_WEB_SECURE_COOKIES", default=False),
            "relay": _flag(env, "REGFLOW_WEB_RELAY", default=True),
            "freeze_gc": _flag(env, "REGFLOW_WEB_GC_FREEZE", default=True),
        }
        if secret:
            if len(secret) < 32:
                msg = "REGFLOW_WEB_SECRET must be at least 32 characters"
                raise ConfigError(msg)
            values["secret_key"] = secret.encode()
        return cls(**{**values, **overrides})
