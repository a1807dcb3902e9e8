"""The OIDC adapter's configuration: claim presets, client keys from files and environment, and
the checks that stop a wrong configuration at start-up. These need no provider."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import RSAKey

from regflow.adapters.oidc import (
    CLAIMS_IDURA,
    CLAIMS_OP,
    CLAIMS_SIGNICAT,
    CLAIMS_TELIA,
    ENV_CLIENT_JWKS,
    BankMethod,
    ClaimMapping,
    ClientKeys,
    OidcConfig,
)

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


@pytest.fixture(scope="module")
def private_jwks() -> dict[str, Any]:
    """A client's private JWK set: one signing key, one decryption key."""
    keys = [
        RSAKey.generate_key(2048, parameters={"kid": "sig-1", "use": "sig"}, private=True),
        RSAKey.generate_key(2048, parameters={"kid": "enc-1", "use": "enc"}, private=True),
    ]
    return {"keys": [key.as_dict(private=True) for key in keys]}


@pytest.fixture(scope="module")
def client_keys(private_jwks: dict[str, Any]) -> ClientKeys:
    """The same keys, loaded once (importing a private RSA key costs tens of milliseconds)."""
    return ClientKeys.from_jwks(private_jwks)


def config(keys: ClientKeys, **changes: Any) -> OidcConfig:
    """A valid configuration, with `changes`."""
    values: dict[str, Any] = {
        "issuer": "https://broker.example",
        "client_id": "client",
        "redirect_uri": "https://eservices.example.fi/identify/callback",
        "keys": keys,
        "banks": [BankMethod("nordea", "Nordea")],
        "claims": CLAIMS_IDURA,
        **changes,
    }
    return OidcConfig(**values)


def test_presets_name_each_brokers_personal_id_claim() -> None:
    """Each preset reads its broker's claim, and presets are found by name."""
    assert CLAIMS_IDURA.personal_id == "hetu"
    assert CLAIMS_SIGNICAT.personal_id == "nin"
    assert CLAIMS_OP.personal_id == "personal_identity_code"
    assert CLAIMS_TELIA.personal_id == "urn:oid:1.2.246.21"
    assert CLAIMS_TELIA.given_names[0] == "urn:oid:2.5.4.42"
    assert ClaimMapping.preset("Signicat") is CLAIMS_SIGNICAT
    assert ClaimMapping.preset("criipto") is CLAIMS_IDURA
    with pytest.raises(ValueError, match="idura, op, signicat, telia"):
        ClaimMapping.preset("nets")


def test_keys_load_from_one_jwks_file(tmp_path: Path, private_jwks: dict[str, Any]) -> None:
    """A private JWK set file gives the signing key and the decryption key by their use."""
    path = tmp_path / "client.jwks.json"
    path.write_text(json.dumps(private_jwks))
    keys = ClientKeys.from_files(path)
    assert keys.signing.kid == "sig-1"
    assert [key.kid for key in keys.decryption] == ["enc-1"]


def test_keys_load_from_separate_jwk_files(tmp_path: Path, private_jwks: dict[str, Any]) -> None:
    """Single-key JWK files are merged."""
    paths = []
    for key in private_jwks["keys"]:
        path = tmp_path / f"{key['kid']}.json"
        path.write_text(json.dumps(key))
        paths.append(path)
    assert ClientKeys.from_files(*paths).signing.kid == "sig-1"


def test_keys_load_from_environment(private_jwks: dict[str, Any]) -> None:
    """The default variable, or named ones, hold the keys as JSON."""
    keys = ClientKeys.from_env(environ={ENV_CLIENT_JWKS: json.dumps(private_jwks)})
    assert keys.signing.kid == "sig-1"
    sig, enc = (json.dumps(key) for key in private_jwks["keys"])
    keys = ClientKeys.from_env("SIG", "ENC", environ={"SIG": sig, "ENC": enc})
    assert [key.kid for key in keys.decryption] == ["enc-1"]
    with pytest.raises(ValueError, match="REGFLOW_OIDC_CLIENT_JWKS is not set"):
        ClientKeys.from_env(environ={})


def test_public_jwks_holds_no_private_part(private_jwks: dict[str, Any]) -> None:
    """What is registered at the broker is public only, with use and alg set."""
    public = ClientKeys.from_jwks(private_jwks).public_jwks()
    assert [(key["kid"], key["use"], key["alg"]) for key in public["keys"]] == [
        ("sig-1", "sig", "RS256"),
        ("enc-1", "enc", "RSA-OAEP"),
    ]
    assert all(not PRIVATE_MEMBERS & set(key) for key in public["keys"])


def test_key_errors_name_the_source_not_the_key(
    tmp_path: Path, private_jwks: dict[str, Any]
) -> None:
    """Broken key material is refused with a message that quotes none of it."""
    secret = private_jwks["keys"][0]["d"]
    broken = json.dumps(private_jwks)[:-5]
    path = tmp_path / "broken.json"
    path.write_text(broken)
    with pytest.raises(ValueError, match="is not JSON") as raised:
        ClientKeys.from_files(path)
    assert secret[:20] not in str(raised.value)
    damaged = {"keys": [{**private_jwks["keys"][0], "n": "AQAB"}, private_jwks["keys"][1]]}
    with pytest.raises(ValueError, match="sig-1") as raised:
        ClientKeys.from_jwks(damaged)
    assert secret[:20] not in str(raised.value)
    assert raised.value.__cause__ is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda keys: [{k: v for k, v in keys[0].items() if k != "use"}, keys[1]], "needs"),
        (lambda keys: [keys[1]], "exactly one signing key"),
        (
            lambda keys: [{k: v for k, v in keys[0].items() if k not in PRIVATE_MEMBERS}, keys[1]],
            "private",
        ),
        (lambda keys: [keys[0], {**keys[1], "kid": "sig-1"}], "own kid"),
        (lambda keys: [keys[0]], "decryption key"),
    ],
    ids=["no-use", "no-signing-key", "public-only", "same-kid", "no-decryption-key"],
)
def test_unusable_key_sets_are_refused(
    private_jwks: dict[str, Any], change: Any, message: str
) -> None:
    """Keys without a use, a missing key, a public-only key or a repeated kid are refused."""
    with pytest.raises(ValueError, match=message):
        ClientKeys.from_jwks({"keys": change(private_jwks["keys"])})


def test_keys_repr_shows_kids_only(client_keys: ClientKeys) -> None:
    """The keys' repr (in a config's repr, tracebacks, logs) names kids, nothing else."""
    keys = client_keys
    assert repr(keys) == "ClientKeys(signing='sig-1', decryption=('enc-1'))"
    assert "sig-1" not in repr(config(keys))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"issuer": "http://broker.example"}, "https"),
        ({"redirect_uri": "ftp://x.example/cb"}, "https"),
        ({"banks": []}, "at least one bank"),
        ({"banks": [BankMethod("op", "OP"), BankMethod("op", "OP 2")]}, "unique"),
        ({"scope": "profile"}, "openid"),
        ({"clock_skew": dt.timedelta(minutes=10)}, "clock_skew"),
        ({"id_token_signing_algs": ["HS256"]}, "asymmetric"),
        ({"accepted_acr": []}, "acr"),
        ({"client_assertion_audience": "anyone"}, "client_assertion_audience"),
        ({"max_response_bytes": 1024}, "max_response_bytes"),
        ({"max_response_bytes": 1 << 30}, "max_response_bytes"),
        ({"max_response_bytes": True}, "max_response_bytes"),
    ],
)
def test_wrong_configuration_fails_at_start(
    client_keys: ClientKeys, changes: dict[str, Any], message: str
) -> None:
    """Each configuration mistake is refused when the configuration is built."""
    with pytest.raises((ValueError, TypeError), match=message):
        config(client_keys, **changes)


def test_loopback_http_is_allowed_for_a_local_broker(client_keys: ClientKeys) -> None:
    """Plain http is accepted only on loopback, for a broker on the same machine."""
    keys = client_keys
    assert config(keys, issuer="http://127.0.0.1:8080").issuer == "http://127.0.0.1:8080"
    assert config(keys, issuer="http://localhost:8080").issuer == "http://localhost:8080"


def test_bank_params_cannot_override_the_protocol() -> None:
    """A bank's extra parameters cannot replace state, nonce, PKCE or the redirect URI."""
    assert BankMethod("op", "OP", params={"ftn_idp_id": "fi-op"}).params["ftn_idp_id"] == "fi-op"
    for reserved in ("state", "nonce", "code_challenge", "redirect_uri", "acr_values"):
        with pytest.raises(ValueError, match=reserved):
            BankMethod("op", "OP", params={reserved: "x"})
    with pytest.raises(ValueError, match="id"):
        BankMethod("Not An Id", "X")
