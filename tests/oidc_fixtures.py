"""OIDC fixtures, imported by the conftest files that use them (integration, contract).

`oidc_provider` starts panva's `oidc-provider` (tests/oidc_provider/server.mjs) on a free
loopback port for the whole session, configured like a Finnish Trust Network broker, and stops
it at the end; `oidc_broker` is the same provider for one test, with its test hooks reset, plus
the helpers that play the user's part at the bank. Node.js and the pinned npm packages are
required: without them these tests fail (never skip), because CI must run them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import select
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import attrs
import httpx
import pytest
from joserfc.jwk import RSAKey

from regflow.adapters.oidc import (
    CLAIMS_IDURA,
    FTN_LOA_HIGH,
    FTN_LOA_SUBSTANTIAL,
    BankMethod,
    ClientKeys,
    OidcBankIdentity,
    OidcConfig,
)
from regflow.model import BankCallback, BankRedirect

OIDC_PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
OIDC_STARTUP_SECONDS = 20.0
OIDC_CLIENT_ID = "regflow-test-client"
OIDC_REDIRECT_URI = "https://eservices.example.fi/identify/callback"
OIDC_WEAK_ACR = "urn:regflow:test:weak"
PERSONAL_ID_CLAIMS = ("hetu", "nin", "personal_identity_code", "urn:oid:1.2.246.21")


def _person(personal_id: str | None, given: str, family: str) -> dict[str, str]:
    """An account's claims under every broker's names, so each claim preset finds them."""
    claims = {
        "given_name": given,
        "family_name": family,
        "name": f"{given} {family}",
        "urn:oid:2.5.4.42": given,
        "urn:oid:2.5.4.4": family,
    }
    if personal_id is not None:
        claims.update(dict.fromkeys(PERSONAL_ID_CLAIMS, personal_id))
    return claims


OIDC_ACCOUNTS: dict[str, dict[str, str]] = {
    "anna": _person("131052-308T", "Anna-Liisa", "Virtanen"),  # a demo customer
    "no-personal-id": _person(None, "Nimet\u00f6n", "Henkil\u00f6"),
    "bad-personal-id": _person("131052-308X", "Virhe", "Tunnus"),  # wrong check character
}


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def _rsa(kid: str, use: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": use}, private=True)


@attrs.frozen
class OidcProviderProcess:
    """The running provider: its issuer, the client registered there, and its test hooks."""

    issuer: str
    client_keys: ClientKeys
    signing_kid: str
    foreign_kid: str
    rotated_kid: str
    process: subprocess.Popen[str] = attrs.field(repr=False, eq=False)
    control: httpx.Client = attrs.field(repr=False, eq=False)
    client_id: str = OIDC_CLIENT_ID
    redirect_uri: str = OIDC_REDIRECT_URI
    weak_acr: str = OIDC_WEAK_ACR  # an acr the provider knows but no FTN client accepts

    def stop(self) -> None:
        """Stop the provider: from now on nothing answers at its address."""
        _stop(self.process)

    def config(self, **changes: Any) -> OidcConfig:
        """An adapter configuration for this provider (Idura claim names unless changed)."""
        base = OidcConfig(
            issuer=self.issuer,
            client_id=OIDC_CLIENT_ID,
            redirect_uri=self.redirect_uri,
            keys=self.client_keys,
            banks=[
                BankMethod("nordea", "Nordea", params={"ftn_idp_id": "fi-nordea"}),
                BankMethod("op", "OP", acr_values=[FTN_LOA_HIGH]),
            ],
            claims=CLAIMS_IDURA,
            timeout=2.0,
        )
        return attrs.evolve(base, **changes)

    def adapter(self, **changes: Any) -> OidcBankIdentity:
        """An adapter for this provider (see `config`); its HTTP client shares one TLS context,
        which keeps the suite fast (building a context costs tens of milliseconds)."""
        config = self.config(**changes)

        def client() -> httpx.Client:
            return httpx.Client(timeout=config.timeout, verify=_tls())

        return OidcBankIdentity(config, http_client_factory=client)

    def plan_next_token(self, **plan: Any) -> None:
        """Script the next token endpoint answer (see server.mjs: delay_ms, reset, set, header,
        pad_bytes, ...)."""
        self._post("/__test__/next-token", plan)

    def publish_rotated_key(self) -> None:
        """Add the "rotated" signing key to the provider's published JWK set."""
        self._post("/__test__/publish-rotated", {})

    def answer_reused_codes(self, *, enabled: bool = True) -> None:
        """Make the token endpoint answer a reused code as it answered it the first time (a
        broker that fails to keep codes single-use), until `reset`."""
        self._post("/__test__/answer-reused-codes", {"enabled": enabled})

    def reset(self) -> None:
        """Forget any scripted answer and hook, and unpublish the rotated key."""
        self._post("/__test__/reset", {})

    def login(
        self,
        redirect: BankRedirect,
        *,
        account: str = "anna",
        acr: str | None = None,
        cancel: bool = False,
    ) -> BankCallback:
        """Play the user at the bank: follow `redirect`, identify as `account` (or cancel), and
        return the query parameters the broker redirects back with."""
        choice = {"cancel": "1"} if cancel else {"account": account}
        if acr is not None:
            choice["acr"] = acr
        # A fresh browser each time: no broker session carries over from an earlier login.
        with httpx.Client(timeout=5.0, verify=_tls()) as browser:
            response = browser.get(redirect.url)
            for _ in range(10):
                if not response.is_redirect:
                    break
                location = urljoin(str(response.url), response.headers["location"])
                if location.startswith(self.redirect_uri):
                    return BankCallback(dict(parse_qsl(urlsplit(location).query)))
                params = choice if urlsplit(location).path.startswith("/interaction/") else None
                response = browser.get(location, params=params)
        msg = f"the provider did not redirect back: HTTP {response.status_code} {response.text}"
        raise AssertionError(msg[:2000])

    def _post(self, path: str, body: Mapping[str, Any]) -> None:
        response = self.control.post(self.issuer + path, json=dict(body))
        assert response.status_code == 204, response.text


def _require_node() -> str:
    if sys.platform == "win32":  # select() on pipes is POSIX-only
        pytest.fail("the OIDC provider fixture needs a POSIX system")
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js is required for the OIDC tests (tests/oidc_provider) and was not found on "
            "PATH; install Node.js 20.19+ and run the tests with `python3 tasks.py test`."
        )
    if not (OIDC_PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(
            "the OIDC test provider's npm packages are not installed: `python3 tasks.py test` "
            "installs them from tests/oidc_provider/package-lock.json (npm ci)."
        )
    return node


def _read_issuer(process: subprocess.Popen[str], stderr_path: Path) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], OIDC_STARTUP_SECONDS)
    line = process.stdout.readline() if ready else ""
    if not line:
        process.kill()
        process.wait()
        stderr = stderr_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        pytest.fail(f"the OIDC test provider did not start:\n{stderr}")
    issuer: str = json.loads(line)["issuer"]
    return issuer


@attrs.frozen
class _ProviderKeys:
    """The keys of one test set-up: the client's, the provider's, and two it never publishes
    (until told to, for the rotated one)."""

    client: ClientKeys
    client_encryption: RSAKey
    signing: RSAKey
    foreign: RSAKey
    rotated: RSAKey

    @classmethod
    def generate(cls) -> _ProviderKeys:
        client_signing, client_encryption = _rsa("client-sig", "sig"), _rsa("client-enc", "enc")
        return cls(
            client=ClientKeys(signing=client_signing, decryption=[client_encryption]),
            client_encryption=client_encryption,
            signing=_rsa("broker-2024", "sig"),
            foreign=_rsa("attacker", "sig"),
            rotated=_rsa("broker-2025", "sig"),
        )


@contextlib.contextmanager
def _running_provider(
    keys: _ProviderKeys, workdir: Path, *, redirect_uri: str = OIDC_REDIRECT_URI
) -> Iterator[OidcProviderProcess]:
    """Start server.mjs with a configuration written to `workdir`; stop it on exit.

    `redirect_uri`: the client's one registered redirect (the browser tests register their
    live server's callback)."""
    node = _require_node()
    config = {
        "host": "127.0.0.1",
        "port": 0,
        "signing_jwks": {"keys": [keys.signing.as_dict(private=True)]},
        "foreign_jwk": keys.foreign.as_dict(private=True),
        "rotated_jwk": keys.rotated.as_dict(private=True),
        "client": {
            "client_id": OIDC_CLIENT_ID,
            "redirect_uris": [redirect_uri],
            "jwks": keys.client.public_jwks(),
        },
        "client_decryption_jwk": keys.client_encryption.as_dict(private=True),
        "accounts": OIDC_ACCOUNTS,
        "claims": list(PERSONAL_ID_CLAIMS),
        "acr_values": [FTN_LOA_SUBSTANTIAL, FTN_LOA_HIGH, OIDC_WEAK_ACR],
    }
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    stderr_path = workdir / "stderr.log"
    with stderr_path.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [node, str(OIDC_PROVIDER_DIR / "server.mjs"), str(config_path)],
            cwd=OIDC_PROVIDER_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    control = httpx.Client(timeout=5.0, verify=_tls())
    try:
        issuer = _read_issuer(process, stderr_path)
        discovery = control.get(f"{issuer}/.well-known/openid-configuration")
        assert discovery.status_code == 200, discovery.text
        yield OidcProviderProcess(
            issuer=issuer,
            client_keys=keys.client,
            signing_kid=keys.signing.kid or "",
            foreign_kid=keys.foreign.kid or "",
            rotated_kid=keys.rotated.kid or "",
            process=process,
            control=control,
            redirect_uri=redirect_uri,
        )
    finally:
        control.close()
        _stop(process)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.stdin is not None and not process.stdin.closed:
        process.stdin.close()  # the server exits when its stdin closes
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


@pytest.fixture(scope="session")
def oidc_keys() -> _ProviderKeys:
    """Fresh RSA keys for the client and the test provider, made once per session."""
    return _ProviderKeys.generate()


@pytest.fixture(scope="session")
def oidc_provider(
    oidc_keys: _ProviderKeys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OidcProviderProcess]:
    """The FTN-like OpenID provider on loopback, for the whole session."""
    with _running_provider(oidc_keys, tmp_path_factory.mktemp("oidc_provider")) as provider:
        yield provider


@pytest.fixture
def oidc_spare_provider(
    oidc_keys: _ProviderKeys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OidcProviderProcess]:
    """A second provider of its own for one test, which the test may `stop()` (a broker that
    goes away mid-identification)."""
    with _running_provider(oidc_keys, tmp_path_factory.mktemp("oidc_spare")) as provider:
        yield provider


@pytest.fixture
def oidc_broker(oidc_provider: OidcProviderProcess) -> Iterator[OidcProviderProcess]:
    """The session's OpenID provider with its test hooks reset before and after the test."""
    oidc_provider.reset()
    yield oidc_provider
    oidc_provider.reset()


@pytest.fixture
def oidc_dead_issuer() -> str:
    """An issuer URL on loopback where nothing listens (a port that was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def oidc_bank(oidc_broker: OidcProviderProcess) -> Iterator[OidcBankIdentity]:
    """An `OidcBankIdentity` talking to the test provider, closed after the test."""
    with oidc_broker.adapter() as bank:
        yield bank
