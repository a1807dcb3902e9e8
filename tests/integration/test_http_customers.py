"""`HttpCustomerDirectory` against a real HTTP server on loopback, including hostile answers.

The port's own contract (found, compact codes, unknown person, outage) is in
tests/contract/test_ports.py; here: what travels, retries, timeouts, limits and bad answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from tests.http_customers_fixtures import (
    TOKEN,
    CustomerApi,
    body,
    customer_api,  # noqa: F401  # a fixture
    drip,
    record_json,
    slow,
    status,
)

from regflow.adapters.http_customers import (
    HttpCustomerDirectory,
    HttpCustomersConfig,
    response_schema,
)
from regflow.demo import DEMO_CUSTOMERS
from regflow.errors import AdapterError

ANNA = DEMO_CUSTOMERS[0]


def config(api: CustomerApi, **overrides: object) -> HttpCustomersConfig:
    """A quick configuration for `api`: short timeouts and backoff."""
    values: dict[str, object] = {
        "url": api.url,
        "token": TOKEN,
        "timeout": 0.5,
        "deadline": 3.0,
        "attempts": 3,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
    }
    return HttpCustomersConfig(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.fixture
def directory(customer_api: CustomerApi) -> Iterator[HttpCustomerDirectory]:  # noqa: F811
    """The adapter pointed at the loopback system."""
    with HttpCustomerDirectory(config(customer_api)) as adapter:
        yield adapter


def adapter_error(directory: HttpCustomerDirectory, code: str = ANNA.personal_id) -> AdapterError:
    """The AdapterError a lookup raises (fails the test when it returns)."""
    with pytest.raises(AdapterError) as raised:
        directory.find_by_personal_id(code)
    assert raised.value.port == "customers"
    assert code not in str(raised.value)
    return raised.value


def test_the_code_travels_in_a_post_body_with_the_token(
    directory: HttpCustomerDirectory,
    customer_api: CustomerApi,  # noqa: F811
) -> None:
    """One POST, the compact code in its JSON body and nowhere in the URL; a bearer token."""
    assert directory.find_by_personal_id(ANNA.personal_id.lower()) == ANNA
    (seen,) = customer_api.requests
    assert seen.method == "POST"
    assert seen.path == "/v1/customer-lookup"
    assert json.loads(seen.body) == {"personal_id": ANNA.personal_id}
    assert ANNA.personal_id not in seen.path
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_wrong_token_is_an_adapter_error_without_retries(
    customer_api: CustomerApi,  # noqa: F811
) -> None:
    """401 is not transient: one request, then AdapterError naming the status."""
    with HttpCustomerDirectory(config(customer_api, token="wrong")) as directory:
        assert "HTTP 401" in str(adapter_error(directory))
    assert len(customer_api.requests) == 1


@pytest.mark.parametrize("answer", [status(404), status(204), body(b""), body(b"null")])
def test_not_found_and_empty_answers_mean_no_customer(
    directory: HttpCustomerDirectory,
    customer_api: CustomerApi,  # noqa: F811
    answer: object,
) -> None:
    """404, 204, an empty body and JSON null each mean: no customer."""
    customer_api.behave(answer)  # type: ignore[arg-type]
    assert directory.find_by_personal_id(ANNA.personal_id) is None


def test_5xx_is_retried_with_backoff_then_succeeds(
    directory: HttpCustomerDirectory,
    customer_api: CustomerApi,  # noqa: F811
) -> None:
    """Two 503s, then the answer: the lookup succeeds on the third request."""
    customer_api.behave(status(503), status(502), customer_api.answer)
    assert directory.find_by_personal_id(ANNA.personal_id) == ANNA
    assert len(customer_api.requests) == 3


@pytest.mark.parametrize("code", [500, 503, 408, 429])
def test_persistent_failure_is_an_adapter_error_after_the_attempts(
    directory: HttpCustomerDirectory,
    customer_api: CustomerApi,  # noqa: F811
    code: int,
) -> None:
    """A status that stays transient ends in AdapterError after `attempts` requests."""
    customer_api.behave(status(code, b'{"error": "busy"}'))
    assert f"HTTP {code}" in str(adapter_error(directory))
    assert len(customer_api.requests) == 3


def test_a_slow_answer_times_out_and_is_retried(
    directory: HttpCustomerDirectory,
    customer_api: CustomerApi,  # noqa: F811
) -> None:
    """An answer slower than the timeout is a timeout, retried; the next answer is used."""
    customer_api.behave(slow(1.0, customer_api.answer), customer_api.answer)
    assert directory.find_by_personal_id(ANNA.personal_id) == ANNA
    assert len(customer_api.requests) == 2


def test_always_slow_ends_in_adapter_error_within_the_deadline(
    customer_api: CustomerApi,  # noqa: F811
) -> None:
    """Timeouts on every attempt: AdapterError, well within attempts x timeout + backoff."""
    customer_api.behave(slow(1.0, customer_api.answer))
    with HttpCustomerDirectory(config(customer_api, timeout=0.3)) as directory:
        started = time.monotonic()
        assert "Timeout" in str(adapter_error(directory))
        assert time.monotonic() - started < 2.0


def test_a_dripping_answer_is_cut_at_the_deadline(
    customer_api: CustomerApi,  # noqa: F811
) -> None:
    """A body sent a byte at a time (each read within the timeout) stops at the deadline."""
    customer_api.behave(drip(100, 0.05))
    with HttpCustomerDirectory(config(customer_api, deadline=0.5)) as directory:
        started = time.monotonic()
        assert "deadline" in str(adapter_error(directory))
        assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("declared", [True, False])
def test_a_huge_answer_is_refused(
    customer_api: CustomerApi,  # noqa: F811
    declared: bool,
) -> None:
    """A body over max_body is refused, whether its Content-Length says so or not."""
    huge = json.dumps({**record_json(ANNA), "padding": "x" * 200_000}).encode()
    if declared:
        customer_api.behave(body(huge))
    else:  # chunked: no length announced
        customer_api.behave(_chunked(huge))
    with HttpCustomerDirectory(config(customer_api, max_body=100_000)) as directory:
        assert "over 100000 bytes" in str(adapter_error(directory))
    assert len(customer_api.requests) == 1  # not retried


def _chunked(data: bytes) -> object:
    """A 200 answer in HTTP/1.1 chunked encoding, so that no Content-Length announces it."""
    pieces = [data[i : i + 16_384] for i in range(0, len(data), 16_384)]
    encoded = [f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces] + [b"0\r\n\r\n"]
    return lambda _lookup: (200, {"Transfer-Encoding": "chunked"}, encoded, 0.0)


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b'"a string"', "schema"),
        (b"[]", "schema"),
        (json.dumps({**record_json(ANNA), "customer_number": 100001}).encode(), "customer_number"),
        (json.dumps({**record_json(ANNA), "contracts": "E-1"}).encode(), "contracts"),
        (
            json.dumps(
                {**record_json(ANNA), "contracts": [{"kind": "water", "contract_number": "W"}]}
            ).encode(),
            "contracts/0/kind",
        ),
        (json.dumps({**record_json(ANNA), "details": {"email": ["a"]}}).encode(), "details"),
        (
            json.dumps({k: v for k, v in record_json(ANNA).items() if k != "details"}).encode(),
            "schema",
        ),
        (json.dumps({**record_json(ANNA), "personal_id": "010594Y239M"}).encode(), "another"),
    ],
)
def test_bad_answers_are_adapter_errors(
    customer_api: CustomerApi,  # noqa: F811
    answer: bytes,
    words: str,
) -> None:
    """Malformed JSON, wrong types, unknown kinds, missing parts, another person's record:
    AdapterError at once (no retry), naming where, never the value."""
    customer_api.behave(body(answer))
    with HttpCustomerDirectory(config(customer_api, max_body=1_000_000)) as directory:
        error = adapter_error(directory)
    assert words in str(error)
    assert "Virtanen" not in str(error)
    assert len(customer_api.requests) == 1


def test_a_redirect_is_not_followed(
    directory: HttpCustomerDirectory,
    customer_api: CustomerApi,  # noqa: F811
) -> None:
    """A 307 would carry the code elsewhere: AdapterError, one request."""
    customer_api.behave(lambda _l: (307, {"Location": "http://127.0.0.1:9/steal"}, [b""], 0.0))
    assert "HTTP 307" in str(adapter_error(directory))
    assert len(customer_api.requests) == 1


def test_a_refused_connection_is_an_adapter_error() -> None:
    """Nothing listening: retried, then AdapterError."""
    dead = HttpCustomersConfig(
        url="http://127.0.0.1:9/lookup", timeout=0.3, attempts=2, backoff_initial=0.01
    )
    with HttpCustomerDirectory(dead) as directory:
        assert "ConnectError" in str(adapter_error(directory))


def test_field_names_and_the_transform_hook_map_another_system(
    customer_api: CustomerApi,  # noqa: F811
) -> None:
    """Other field names map onto the schema's; the hook reshapes what renaming cannot."""
    theirs = {
        "asiakasnumero": ANNA.customer_number,
        "hetu": ANNA.personal_id,
        "yhteystiedot": attrs.asdict(ANNA.details),
        "sopimukset": {
            "items": [
                {"laji": str(c.kind), "contractNo": c.contract_number, "site_id": c.site_id}
                for c in ANNA.contracts
            ]
        },
    }
    customer_api.behave(body(json.dumps(theirs).encode()))
    names = {
        "asiakasnumero": "customer_number",
        "hetu": "personal_id",
        "yhteystiedot": "details",
        "sopimukset": "contracts",
        "laji": "kind",
        "contractNo": "contract_number",
    }

    def unwrap(answer: dict[str, object]) -> dict[str, object]:
        return {**answer, "contracts": answer["contracts"]["items"]}  # type: ignore[index]

    mapped = config(customer_api, field_names=names, transform=unwrap)
    with HttpCustomerDirectory(mapped) as directory:
        assert directory.find_by_personal_id(ANNA.personal_id) == ANNA


def test_a_failing_hook_is_an_adapter_error(customer_api: CustomerApi) -> None:  # noqa: F811
    """A transform that raises is the answer failing: AdapterError."""
    broken = config(customer_api, transform=lambda answer: answer["missing"])
    with HttpCustomerDirectory(broken) as directory:
        assert "KeyError" in str(adapter_error(directory))


def test_mutual_tls(tmp_path: Path) -> None:
    """With client_cert/client_key and a private CA the lookup works; without the client
    certificate the server refuses the handshake: AdapterError."""
    import ssl

    import trustme

    ca = trustme.CA()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca.configure_trust(server_context)
    server_context.verify_mode = ssl.CERT_REQUIRED
    client = ca.issue_cert("regflow-client.example.fi")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "c.pem", tmp_path / "k.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    client.cert_chain_pems[0].write_to_path(str(cert_file))
    client.private_key_pem.write_to_path(str(key_file))
    api = CustomerApi(DEMO_CUSTOMERS, token=None)
    api.use_tls(server_context)
    api.start()
    try:
        base = {"url": api.url, "ca_file": str(ca_file), "timeout": 2.0, "attempts": 1}
        mtls = HttpCustomersConfig(**base, client_cert=str(cert_file), client_key=str(key_file))  # type: ignore[arg-type]
        with HttpCustomerDirectory(mtls) as directory:
            assert directory.find_by_personal_id(ANNA.personal_id) == ANNA
        with HttpCustomerDirectory(HttpCustomersConfig(**base)) as directory:  # type: ignore[arg-type]
            adapter_error(directory)
    finally:
        api.stop()


def test_the_configuration_refuses_plain_http_off_this_host() -> None:
    """http:// is for loopback only; https anywhere; cert and key go together."""
    with pytest.raises(ValueError, match="https"):
        HttpCustomersConfig(url="http://crm.example.fi/lookup")
    HttpCustomersConfig(url="https://crm.example.fi/lookup")
    HttpCustomersConfig(url="http://[::1]:8080/lookup")
    with pytest.raises(ValueError, match="together"):
        HttpCustomersConfig(url="https://crm.example.fi/lookup", client_cert="c.pem")


def test_the_token_stays_out_of_reprs() -> None:
    """repr(config) never shows the bearer token."""
    assert "s3cret" not in repr(HttpCustomersConfig(url="https://x.example/l", token="s3cret"))


def test_from_env_reads_the_variables() -> None:
    """REGFLOW_CUSTOMERS_* give the configuration; a missing URL is a ValueError."""
    built = HttpCustomersConfig.from_env(
        {
            "REGFLOW_CUSTOMERS_URL": "https://crm.example.fi/lookup",
            "REGFLOW_CUSTOMERS_TOKEN": "t",
            "REGFLOW_CUSTOMERS_TIMEOUT": "2.5",
            "REGFLOW_CUSTOMERS_ATTEMPTS": "4",
            "REGFLOW_CUSTOMERS_FIELD_NAMES": '{"hetu": "personal_id"}',
        }
    )
    assert (built.token, built.timeout, built.attempts) == ("t", 2.5, 4)
    assert built.field_names == {"hetu": "personal_id"}
    with pytest.raises(ValueError, match="REGFLOW_CUSTOMERS_URL"):
        HttpCustomersConfig.from_env({})
    with pytest.raises(ValueError, match="JSON object"):
        HttpCustomersConfig.from_env(
            {"REGFLOW_CUSTOMERS_URL": "https://x.example/l", "REGFLOW_CUSTOMERS_FIELD_NAMES": "[]"}
        )


def test_the_schema_file_is_valid_and_accepts_every_demo_customer() -> None:
    """The documented schema is a valid JSON Schema and the demo records conform to it."""
    import jsonschema

    schema = response_schema()
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    for record in DEMO_CUSTOMERS:
        validator(schema).validate(record_json(record))
