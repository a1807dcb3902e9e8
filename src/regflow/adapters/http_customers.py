"""A `CustomerDirectory` over the customer data system's HTTP JSON API (the `http` extra).

    from regflow.adapters.http_customers import HttpCustomerDirectory, HttpCustomersConfig

    directory = HttpCustomerDirectory(HttpCustomersConfig(
        url="https://crm.example.fi/regflow/customer-lookup",
        token=os.environ["REGFLOW_CUSTOMERS_TOKEN"],       # or client_cert= / client_key=
    ))                                                     # no I/O until the first lookup

The contract, in the style of Kratos's web hooks, is `customer_directory.schema.json` next to
this module (`response_schema()`): regflow POSTs `{"personal_id": "131052-308T"}` (the code in
the body, never in the URL, where proxies and access logs would keep it) and the system
answers 200 with the customer record, or 404 when it has none (204, an empty body and JSON
`null` mean none as well). `field_names` maps other names onto the schema's, at any depth
(`{"hetu": "personal_id", "contractNo": "contract_number"}`), and `transform` is a hook for any
other reshaping; both run before the answer is checked against the schema.

Failure is `AdapterError("customers", ...)`, which leaves the flow unchanged: a timeout, a
connection that fails, 5xx, 408 and 429 are retried with exponential backoff and jitter
(stamina) up to `attempts` times within `deadline` seconds; other statuses, a redirect, a body
over `max_body` bytes, a body still arriving at the deadline, malformed JSON, an answer that
breaks the schema, and a record for another person fail at once. Messages and logs name the
status or the error's class, never the personal identity code.

Authentication by configuration: a bearer token (`token`), a client certificate (`client_cert`,
`client_key`: mutual TLS), or both; `ca_file` trusts a private CA.
"""

from __future__ import annotations

import functools
import json
import os
import ssl
import time
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any, Final

import attrs
import httpx
import jsonschema
import stamina
from stdnum.fi import hetu

from regflow.adapters._urls import is_allowed_url
from regflow.errors import AdapterError
from regflow.model import ContactDetails, Contract, CustomerRecord

__all__ = [
    "HttpCustomerDirectory",
    "HttpCustomersConfig",
    "response_schema",
]

PORT: Final = "customers"
SCHEMA_FILE: Final = "customer_directory.schema.json"
_RETRIED_STATUSES: Final = frozenset({408, 429})
_NO_CUSTOMER_STATUSES: Final = frozenset({204, 404})
_TEXT_FIELDS: Final = tuple(
    a.name for a in attrs.fields(ContactDetails) if a.name != "marketing_consent"
)


class _Transient(Exception):  # internal: what stamina retries, never raised out
    """A failure worth trying again (timeout, connection, 5xx, 408, 429)."""


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        msg = f"HttpCustomersConfig.{attribute.name} must be positive"
        raise ValueError(msg)


def _check_url(_instance: object, _attribute: object, value: str) -> None:
    if isinstance(value, str) and is_allowed_url(value):
        return
    msg = "HttpCustomersConfig.url must be https:// (http:// only to a loopback address)"
    raise ValueError(msg)


def _str_map(value: Mapping[str, str]) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(value).items()}


@attrs.frozen
class HttpCustomersConfig:
    """How to reach the customer data system's lookup endpoint (see the module docstring).

    - `url`: the endpoint, POSTed to; https, or http to a loopback address.
    - `token`: a bearer token (`Authorization: Bearer ...`); never in a repr.
    - `client_cert`, `client_key`: PEM files for mutual TLS; `ca_file`: a private CA.
    - `timeout`: seconds for connecting and for each read or write; `deadline`: seconds for a
      whole lookup, retries and backoff included.
    - `attempts`: tries of a lookup that fails transiently; `backoff_initial`, `backoff_max`:
      the first and the longest wait between them (exponential, with jitter).
    - `max_body`: bytes; a longer answer is refused.
    - `field_names`: the system's field name -> the schema's, at any depth of the answer.
    - `transform`: called with the answer (after `field_names`), returns it reshaped.
    - `headers`: extra request headers (for example an API key header).
    """

    url: str = attrs.field(validator=_check_url)
    token: str | None = attrs.field(default=None, repr=False)
    client_cert: str | None = None
    client_key: str | None = None
    ca_file: str | None = None
    timeout: float = attrs.field(default=5.0, validator=_positive)
    deadline: float = attrs.field(default=15.0, validator=_positive)
    attempts: int = attrs.field(default=3, validator=_positive)
    backoff_initial: float = attrs.field(default=0.2, validator=_positive)
    backoff_max: float = attrs.field(default=2.0, validator=_positive)
    max_body: int = attrs.field(default=1_048_576, validator=_positive)
    field_names: Mapping[str, str] = attrs.field(factory=dict, converter=_str_map, hash=False)
    transform: Callable[[Any], Any] | None = attrs.field(default=None, hash=False)
    headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=_str_map, hash=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        if (self.client_cert is None) != (self.client_key is None):
            msg = "HttpCustomersConfig needs client_cert and client_key together"
            raise ValueError(msg)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HttpCustomersConfig:
        """From `REGFLOW_CUSTOMERS_URL` (required), `_TOKEN`, `_CLIENT_CERT`, `_CLIENT_KEY`,
        `_CAFILE`, `_TIMEOUT`, `_DEADLINE`, `_ATTEMPTS` and `_FIELD_NAMES` (a JSON object)."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return env.get(f"REGFLOW_CUSTOMERS_{name}", "").strip() or None

        url = get("URL")
        if url is None:
            msg = "REGFLOW_CUSTOMERS=http needs REGFLOW_CUSTOMERS_URL"
            raise ValueError(msg)
        values: dict[str, Any] = {
            "url": url,
            "token": get("TOKEN"),
            "client_cert": get("CLIENT_CERT"),
            "client_key": get("CLIENT_KEY"),
            "ca_file": get("CAFILE"),
        }
        for name, kind in (("timeout", float), ("deadline", float), ("attempts", int)):
            raw = get(name.upper())
            if raw is not None:
                try:
                    values[name] = kind(raw)
                except ValueError as error:
                    msg = f"REGFLOW_CUSTOMERS_{name.upper()} must be a number"
                    raise ValueError(msg) from error
        names = get("FIELD_NAMES")
        if names is not None:
            try:
                values["field_names"] = json.loads(names)
            except ValueError as error:
                msg = "REGFLOW_CUSTOMERS_FIELD_NAMES must be a JSON object"
                raise ValueError(msg) from error
            if not isinstance(values["field_names"], dict):
                msg = "REGFLOW_CUSTOMERS_FIELD_NAMES must be a JSON object"
                raise ValueError(msg)
        return cls(**values)


@functools.cache
def response_schema() -> dict[str, Any]:
    """The JSON Schema of the lookup's answer (the file shipped next to this module)."""
    text = (resources.files("regflow.adapters") / SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = response_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


class HttpCustomerDirectory:
    """`CustomerDirectory` over HTTP; opens its connection pool on the first lookup.

    Thread-safe (httpx's client is); `close()` (or leaving `with ...:`) closes the pool.
    `http_client_factory` replaces the default `httpx.Client` (for a proxy, a transport).
    """

    def __init__(
        self,
        config: HttpCustomersConfig,
        *,
        http_client_factory: Callable[[], httpx.Client] | None = None,
    ) -> None:
        self._config = config
        self._factory = http_client_factory or self._default_client
        self._client: httpx.Client | None = None

    def find_by_personal_id(self, personal_id: str) -> CustomerRecord | None:
        """The customer record for this code, or None; `AdapterError` when the system fails."""
        code = hetu.compact(personal_id)
        started = time.monotonic()
        config = self._config
        try:
            for attempt in stamina.retry_context(
                on=_Transient,
                attempts=config.attempts,
                timeout=config.deadline,
                wait_initial=config.backoff_initial,
                wait_max=config.backoff_max,
                wait_jitter=config.backoff_initial,
            ):
                with attempt:
                    answer = self._ask(code, started)
        except _Transient as error:
            raise AdapterError(PORT, f"unavailable: {error}") from error
        if answer is None:
            return None
        return self._record(answer, code)

    def close(self) -> None:
        """Close the connection pool (a later lookup opens a new one)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> HttpCustomerDirectory:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- one request -------------------------------------------------------------------------

    def _ask(self, code: str, started: float) -> Any:
        """One POST; the parsed answer (None: no customer); `_Transient` to try again."""
        config = self._config
        headers = {**config.headers, "Accept": "application/json"}
        if config.token is not None:
            headers["Authorization"] = f"Bearer {config.token}"
        try:
            with self._http().stream(
                "POST", config.url, json={"personal_id": code}, headers=headers
            ) as response:
                status = response.status_code
                if status in _NO_CUSTOMER_STATUSES:
                    return None
                if status >= 500 or status in _RETRIED_STATUSES:
                    raise _Transient(f"HTTP {status}")
                if status != 200:  # 3xx (never followed), 400, 401, 403, ...: not transient
                    raise AdapterError(PORT, f"HTTP {status}")
                body = self._read(response, started)
        except httpx.TransportError as error:  # timeouts, refused or reset connections
            raise _Transient(type(error).__name__) from error
        except httpx.HTTPError as error:  # anything else httpx refuses (e.g. a bad header)
            raise AdapterError(PORT, type(error).__name__) from error
        if not body.strip():
            return None
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as error:  # not JSON, bad UTF-8, absurd nesting
            raise AdapterError(PORT, "the answer is not JSON") from error

    def _read(self, response: httpx.Response, started: float) -> bytes:
        """The body, refused past `max_body` bytes or past the lookup's deadline."""
        config = self._config
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > config.max_body:
            raise AdapterError(PORT, f"the answer is over {config.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > config.max_body:
                raise AdapterError(PORT, f"the answer is over {config.max_body} bytes")
            if time.monotonic() - started > config.deadline:  # a server that drips its answer
                raise AdapterError(PORT, "the answer did not arrive within the deadline")
            chunks.append(chunk)
        return b"".join(chunks)

    def _record(self, answer: Any, code: str) -> CustomerRecord | None:
        config = self._config
        try:
            if config.field_names:
                answer = _renamed(answer, config.field_names)
            if config.transform is not None:
                answer = config.transform(answer)
        except Exception as error:  # the hook's failure is the answer's: the flow goes on as it was
            raise AdapterError(
                PORT, f"mapping the answer failed: {type(error).__name__}"
            ) from error
        if answer is None:
            return None
        broken = jsonschema.exceptions.best_match(_validator().iter_errors(answer))
        if broken is not None:
            # the path and the rule, never the value (which may be personal data)
            where = "/".join(str(p) for p in broken.absolute_path) or "(the answer)"
            detail = f"the answer breaks the schema at {where}: {broken.validator}"
            raise AdapterError(PORT, detail)
        if hetu.compact(answer["personal_id"]) != code:
            raise AdapterError(PORT, "the answer is for another personal identity code")
        details = answer["details"]
        return CustomerRecord(
            customer_number=answer["customer_number"],
            personal_id=code,
            details=ContactDetails(
                **{name: details.get(name) or "" for name in _TEXT_FIELDS},
                marketing_consent=bool(details.get("marketing_consent")),
            ),
            contracts=[
                Contract(c["kind"], c.get("contract_number") or None, c.get("site_id") or None)
                for c in answer["contracts"]
            ],
        )

    # -- the client --------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def _default_client(self) -> httpx.Client:
        config = self._config
        verify: ssl.SSLContext | bool = True
        if config.ca_file is not None or config.client_cert is not None:
            try:
                context = ssl.create_default_context(cafile=config.ca_file)
                if config.client_cert is not None and config.client_key is not None:
                    context.load_cert_chain(config.client_cert, config.client_key)
            except (OSError, ssl.SSLError) as error:
                raise AdapterError(PORT, f"TLS configuration: {type(error).__name__}") from error
            verify = context
        return httpx.Client(
            timeout=httpx.Timeout(config.timeout),
            verify=verify,
            follow_redirects=False,  # a redirect would carry the code to another address
            trust_env=False,  # no proxy from the environment sees the code
        )


def _renamed(value: Any, names: Mapping[str, str]) -> Any:
    """`value` with every object key in `names` renamed, at any depth."""
    if isinstance(value, dict):
        return {names.get(k, k): _renamed(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    return value
