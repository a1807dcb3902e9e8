"""The broker as seen over HTTP: discovery, its signing keys and its token endpoint.

Discovery and the key set are fetched on first use and cached for `metadata_ttl` (monotonic time,
so a test clock or a changed wall clock cannot stretch the cache); an ID token signed with a `kid`
the cache does not know refetches the key set, at most once per `jwks_refetch_interval`, which is
how a broker's key rotation reaches us. Every way the broker can fail to answer (no connection,
timeout, 5xx, an answer that is not JSON or is larger than `max_response_bytes`) becomes
`AdapterError` raised from its cause; what a broker answers on purpose is left to the caller to
judge.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
import httpx
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key

from regflow.adapters._oidc._config import OidcConfig
from regflow.adapters._urls import is_allowed_url
from regflow.errors import AdapterError

log = logging.getLogger("regflow.adapters.oidc")

PORT: Final = "bank"  # the port name AdapterError carries
# identity: the size cap applies to what is read, not to what it would decompress to
_HEADERS: Final = {"Accept": "application/json", "Accept-Encoding": "identity"}


@attrs.frozen
class ProviderMetadata:
    """The parts of the broker's discovery document the adapter uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@attrs.frozen
class TokenAnswer:
    """What the token endpoint said: its HTTP status and JSON body (empty when it had none)."""

    status: int
    body: Mapping[str, Any]


@attrs.define
class _Cached:
    value: Any
    fetched_at: float


class Broker:
    """Discovery, key set and token endpoint of one broker, with caching. Thread-safe."""

    def __init__(self, config: OidcConfig, client: Callable[[], httpx.Client]) -> None:
        self._config = config
        self._client = client
        self._lock = threading.Lock()
        self._metadata: _Cached | None = None
        self._keys: _Cached | None = None

    def metadata(self) -> ProviderMetadata:
        """The discovery document, fetched once per `metadata_ttl`."""
        with self._lock:
            if self._metadata is None or self._stale(self._metadata):
                self._metadata = _Cached(self._fetch_metadata(), time.monotonic())
            value: ProviderMetadata = self._metadata.value
            return value

    def signing_key(self, kid: str | None) -> Key | None:
        """The broker's signature key with this `kid` (or its only one, when the token names
        none); None when the broker publishes no such key even after a refetch."""
        jwks_uri = self.metadata().jwks_uri
        with self._lock:
            if self._keys is None or self._stale(self._keys):
                self._keys = _Cached(self._fetch_keys(jwks_uri), time.monotonic())
            key = _pick(self._keys.value, kid)
            since = time.monotonic() - self._keys.fetched_at
            if key is None and since >= self._config.jwks_refetch_interval.total_seconds():
                log.info("oidc: ID token signed with a key not in the cached set; refetching")
                self._keys = _Cached(self._fetch_keys(jwks_uri), time.monotonic())
                key = _pick(self._keys.value, kid)
            return key

    def token(self, form: Mapping[str, str]) -> TokenAnswer:
        """POST `form` to the token endpoint; `AdapterError` when no usable answer comes back."""
        endpoint = self.metadata().token_endpoint
        status, content = self._exchange("POST", endpoint, "token endpoint", data=dict(form))
        if status >= 500:
            raise AdapterError(PORT, f"token endpoint answered HTTP {status}")
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if status == 200:
                body = {}  # judged by the caller: a 200 without an ID token is not verifiable
            else:
                detail = f"token endpoint answered HTTP {status} without JSON"
                raise AdapterError(PORT, detail)
        return TokenAnswer(status, body)

    def _stale(self, cached: _Cached) -> bool:
        return time.monotonic() - cached.fetched_at >= self._config.metadata_ttl.total_seconds()

    def _fetch_metadata(self) -> ProviderMetadata:
        issuer = self._config.issuer
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        data = self._get_json(url, "discovery")
        if data.get("issuer") != issuer:
            # A discovery document for another issuer: a misconfiguration or an impersonation.
            raise AdapterError(PORT, "discovery names another issuer than the configured one")
        fields = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = data.get(name)
            if not isinstance(value, str) or not is_allowed_url(value):
                raise AdapterError(PORT, f"discovery lacks a usable {name}")
            fields[name] = value
        log.info("oidc: discovery loaded for %s", issuer)
        return ProviderMetadata(issuer=issuer, **fields)

    def _fetch_keys(self, jwks_uri: str) -> dict[str | None, Key]:
        data = self._get_json(jwks_uri, "jwks")
        entries = data.get("keys")
        if not isinstance(entries, list):
            raise AdapterError(PORT, "the broker's JWK set has no keys list")
        keys: dict[str | None, Key] = {}
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue  # encryption keys (for request objects) are not for verifying
            try:
                key = JWKRegistry.import_key(entry)
            except (JoseError, ValueError, TypeError):
                continue  # a key type this library cannot use cannot have signed our token
            keys.setdefault(key.kid, key)
        log.info("oidc: broker key set loaded (%d signature keys)", len(keys))
        return keys

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        status, content = self._exchange("GET", url, what)
        if status != 200:
            raise AdapterError(PORT, f"{what} answered HTTP {status}")
        try:
            data = json.loads(content)
        except ValueError as error:
            raise AdapterError(PORT, f"{what} did not answer JSON") from error
        if not isinstance(data, dict):
            raise AdapterError(PORT, f"{what} did not answer a JSON object")
        return data

    def _exchange(self, method: str, url: str, what: str, **request: Any) -> tuple[int, bytes]:
        """Send one request; the status and the body, read up to `max_response_bytes`.

        The body is streamed and reading stops at the cap (a declared Content-Length over it is
        refused before reading), so a broker answering megabytes costs neither the time to read
        them nor the time to parse them.
        """
        cap = self._config.max_response_bytes
        try:
            with self._client().stream(method, url, headers=_HEADERS, **request) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    raise _too_large(what, cap)
                content = bytearray()
                for chunk in response.iter_bytes():
                    content += chunk
                    if len(content) > cap:
                        raise _too_large(what, cap)
                return response.status_code, bytes(content)
        except httpx.HTTPError as error:
            raise AdapterError(PORT, f"{what}: {type(error).__name__}") from error


def _too_large(what: str, cap: int) -> AdapterError:
    return AdapterError(PORT, f"{what} answer is too large (over max_response_bytes, {cap})")


def _pick(keys: Mapping[str | None, Key], kid: str | None) -> Key | None:
    if kid is not None:
        return keys.get(kid)
    if len(keys) == 1:
        return next(iter(keys.values()))
    return None  # no kid and several keys: the token does not say which one signed it
