"""`OidcBankIdentity` against a real OpenID provider configured like an FTN broker.

The provider (panva's oidc-provider, see tests/oidc_provider/server.mjs) requires signed request
objects, `private_key_jwt` and PKCE, and encrypts its ID tokens; its test hooks make it misbehave
the ways a broker or an attacker could, and each test checks the adapter's answer.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from regflow.adapters.oidc import (
    CLAIMS_OP,
    CLAIMS_SIGNICAT,
    CLAIMS_TELIA,
    CODE_VERIFIER,
    FTN_LOA_SUBSTANTIAL,
    ClaimMapping,
    ClientKeys,
    OidcBankIdentity,
)
from regflow.errors import AdapterError, CallbackMismatch, IdentificationFailed, UnknownBank
from regflow.model import BankCallback, BankRedirect, VerifiedPerson

if TYPE_CHECKING:
    from tests.integration.conftest import OidcProviderProcess

ANNA = VerifiedPerson("131052-308T", "Anna-Liisa", "Virtanen")


def attempt(
    broker: OidcProviderProcess, bank: OidcBankIdentity, bank_id: str = "nordea", **login: Any
) -> tuple[BankRedirect, BankCallback]:
    """Begin an identification and play the user at the bank."""
    redirect = bank.begin(bank_id, flow_id="flow-1", language="fi")
    return redirect, broker.login(redirect, **login)


def failure_code(bank: OidcBankIdentity, callback: BankCallback, redirect: BankRedirect) -> str:
    """The code of the `IdentificationFailed` that `complete` raises."""
    with pytest.raises(IdentificationFailed) as failed:
        bank.complete(callback, redirect)
    return failed.value.code


def request_object(redirect: BankRedirect, keys: ClientKeys) -> dict[str, Any]:
    """The request object's claims, after checking its signature with the client's public key."""
    query = parse_qs(urlsplit(redirect.url).query)
    public = RSAKey.import_key(keys.public_jwks()["keys"][0])
    token = jwt.decode(query["request"][0], public, algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    assert token.header["kid"] == keys.signing.kid
    return dict(token.claims)


# -- the happy path ------------------------------------------------------------------------------


def test_identifies_the_person_through_the_broker(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """A user who identifies at the bank comes back as the verified person the ID token names."""
    redirect, callback = attempt(oidc_broker, oidc_bank)
    assert oidc_bank.complete(callback, redirect) == ANNA


@pytest.mark.parametrize("claims", [CLAIMS_SIGNICAT, CLAIMS_OP, CLAIMS_TELIA])
def test_each_claim_preset_reads_its_brokers_claim_names(
    oidc_broker: OidcProviderProcess, claims: ClaimMapping
) -> None:
    """Each preset asks for and reads its broker's claim names (nin, OP's, Telia's OIDs)."""
    with oidc_broker.adapter(claims=claims) as bank:
        redirect, callback = attempt(oidc_broker, bank)
        assert bank.complete(callback, redirect) == ANNA


def test_request_object_is_signed_and_carries_the_whole_request(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """The URL carries a signed request object with state, nonce, PKCE S256 and bank params."""
    redirect = oidc_bank.begin("nordea", flow_id="flow-1", language="sv")
    query = parse_qs(urlsplit(redirect.url).query)
    assert set(query) == {"client_id", "response_type", "scope", "request"}
    claims = request_object(redirect, oidc_broker.client_keys)
    verifier = redirect.secrets[CODE_VERIFIER]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert claims["iss"] == claims["client_id"] == query["client_id"][0]
    assert claims["aud"] == oidc_broker.issuer
    assert claims["redirect_uri"] == oidc_broker.redirect_uri
    assert claims["state"] == redirect.state
    assert claims["nonce"] == redirect.nonce
    assert claims["code_challenge"] == challenge.decode()
    assert claims["code_challenge_method"] == "S256"
    assert claims["ftn_idp_id"] == "fi-nordea"
    assert claims["ui_locales"] == "sv"
    assert claims["claims"]["id_token"]["hetu"] == {"essential": True}
    assert claims["exp"] > claims["iat"]


def test_every_attempt_draws_fresh_state_nonce_and_verifier(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """Two attempts share no state, nonce or PKCE verifier, and the verifier is never in the URL."""
    first = oidc_bank.begin("nordea", flow_id="flow-1", language="fi")
    second = oidc_bank.begin("nordea", flow_id="flow-1", language="fi")
    assert first.state != second.state
    assert first.nonce != second.nonce
    assert first.secrets[CODE_VERIFIER] != second.secrets[CODE_VERIFIER]
    assert 43 <= len(first.secrets[CODE_VERIFIER]) <= 128
    assert first.secrets[CODE_VERIFIER] not in first.url


def test_bank_acr_values_are_requested_and_returned(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """A bank configured with acr_values asks for them, and a token at that level is accepted."""
    redirect, callback = attempt(oidc_broker, oidc_bank, bank_id="op")
    assert request_object(redirect, oidc_broker.client_keys)["acr_values"].endswith("loa3")
    assert oidc_bank.complete(callback, redirect) == ANNA


def test_broker_key_rotation_is_picked_up(oidc_broker: OidcProviderProcess) -> None:
    """A token signed with a key the broker has just published verifies after one refetch."""
    with oidc_broker.adapter(jwks_refetch_interval=dt.timedelta(0)) as bank:
        redirect, callback = attempt(oidc_broker, bank)
        assert bank.complete(callback, redirect) == ANNA  # the key set is now cached
        oidc_broker.publish_rotated_key()
        oidc_broker.plan_next_token(sign_with="rotated")
        redirect, callback = attempt(oidc_broker, bank)
        assert bank.complete(callback, redirect) == ANNA


def test_reissued_token_still_verifies(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """A token the hook re-issues unchanged verifies: failures below come from each change."""
    oidc_broker.plan_next_token()
    redirect, callback = attempt(oidc_broker, oidc_bank)
    assert oidc_bank.complete(callback, redirect) == ANNA


def test_constructor_and_bank_list_do_no_io(
    oidc_broker: OidcProviderProcess, oidc_dead_issuer: str
) -> None:
    """Building the adapter and listing banks touch no network: a dead broker is fine."""
    made: list[httpx.Client] = []

    def factory() -> httpx.Client:
        client = httpx.Client(timeout=1.0)
        made.append(client)
        return client

    config = oidc_broker.config(issuer=oidc_dead_issuer)
    bank = OidcBankIdentity(config, http_client_factory=factory)
    assert [b.id for b in bank.banks()] == ["nordea", "op"]
    assert made == []
    with pytest.raises(UnknownBank):
        bank.begin("no-such-bank", flow_id="flow-1", language="fi")
    assert made == []
    bank.close()


# -- answers that do not verify: IdentificationFailed with their own code ------------------------


@pytest.mark.parametrize("state", ["reversed", "missing"])
def test_wrong_or_missing_state_is_callback_mismatch(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity, state: str
) -> None:
    """A callback whose state is not this attempt's, or that has none, raises CallbackMismatch
    before the code is redeemed: the real callback still completes afterwards."""
    redirect, callback = attempt(oidc_broker, oidc_bank)
    params = {k: v for k, v in callback.params.items() if k != "state"}
    if state == "reversed":
        params["state"] = redirect.state[::-1]
    with pytest.raises(CallbackMismatch) as raised:
        oidc_bank.complete(BankCallback(params), redirect)
    assert raised.value.code == "state_mismatch"
    assert oidc_bank.complete(callback, redirect) == ANNA


def test_callback_without_code_or_error_is_invalid(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """A callback of this attempt lacking both code and error is invalid_callback."""
    redirect = oidc_bank.begin("nordea", flow_id="flow-1", language="fi")
    no_code = BankCallback({"state": redirect.state})
    assert failure_code(oidc_bank, no_code, redirect) == "invalid_callback"


def test_completing_the_same_attempt_twice_is_code_rejected(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """An attempt completes once: the same callback again is code_rejected."""
    redirect, callback = attempt(oidc_broker, oidc_bank)
    oidc_bank.complete(callback, redirect)
    assert failure_code(oidc_bank, callback, redirect) == "code_rejected"


def test_replayed_code_in_another_attempt_is_rejected_by_the_broker(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """A spent code injected into a new attempt is refused at the token endpoint: code_rejected."""
    first, used = attempt(oidc_broker, oidc_bank)
    oidc_bank.complete(used, first)
    second = oidc_bank.begin("nordea", flow_id="flow-2", language="fi")
    injected = BankCallback({**used.params, "state": second.state})
    assert failure_code(oidc_bank, injected, second) == "code_rejected"


def test_wrong_nonce_is_nonce_mismatch(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """An ID token minted for another attempt's nonce is refused."""
    oidc_broker.plan_next_token(set={"nonce": "another-attempts-nonce"})
    redirect, callback = attempt(oidc_broker, oidc_bank)
    assert failure_code(oidc_bank, callback, redirect) == "nonce_mismatch"


def test_expired_token_is_token_expired(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """An ID token whose exp passed more than the clock skew ago is refused."""
    oidc_broker.plan_next_token(shift={"exp": -4000, "iat": -4200})
    redirect, callback = attempt(oidc_broker, oidc_bank)
    assert failure_code(oidc_bank, callback, redirect) == "token_expired"


def test_clock_skew_is_tolerated_and_configurable(oidc_broker: OidcProviderProcess) -> None:
    """A token 30 s past exp passes with the default 60 s skew, and fails with a 10 s skew."""
    for skew, expected in ((60, None), (10, "token_expired")):
        with oidc_broker.adapter(clock_skew=dt.timedelta(seconds=skew)) as bank:
            oidc_broker.plan_next_token(set={"exp": int(_now()) - 30})
            redirect, callback = attempt(oidc_broker, bank)
            if expected is None:
                assert bank.complete(callback, redirect) == ANNA
            else:
                assert failure_code(bank, callback, redirect) == expected


def test_token_issued_long_ago_is_token_expired(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """An ID token with a far-future exp but an iat older than max_id_token_age is refused."""
    oidc_broker.plan_next_token(shift={"iat": -3600})
    redirect, callback = attempt(oidc_broker, oidc_bank)
    assert failure_code(oidc_bank, callback, redirect) == "token_expired"


def test_injected_clock_decides_expiry(oidc_broker: OidcProviderProcess) -> None:
    """The adapter's time checks use its injected clock: two hours on, a fresh token is expired."""

    class Later:
        def now(self) -> dt.datetime:
            return dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)

    with OidcBankIdentity(oidc_broker.config()) as bank:
        redirect, callback = attempt(oidc_broker, bank)
        late = OidcBankIdentity(oidc_broker.config(), clock=Later())
        with late:
            assert failure_code(late, callback, redirect) == "token_expired"


@pytest.mark.parametrize("kid", ["same", "own"], ids=["broker-kid", "unknown-kid"])
def test_token_signed_by_another_key_is_signature_invalid(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity, kid: str
) -> None:
    """A token signed with an unpublished key is refused, under the broker's kid or its own."""
    chosen = oidc_broker.signing_kid if kid == "same" else oidc_broker.foreign_kid
    oidc_broker.plan_next_token(sign_with="foreign", kid=chosen)
    redirect, callback = attempt(oidc_broker, oidc_bank)
    assert failure_code(oidc_bank, callback, redirect) == "signature_invalid"


def test_wrong_audience_is_audience_mismatch(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """An ID token issued to another client is refused."""
    oidc_broker.plan_next_token(set={"aud": "another-service"})
    redirect, callback = attempt(oidc_broker, oidc_bank)
    assert failure_code(oidc_bank, callback, redirect) == "audience_mismatch"


def test_shared_audience_without_azp_is_audience_mismatch(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """An ID token for several audiences must name this client as its azp."""
    oidc_broker.plan_next_token(set={"aud": ["regflow-test-client", "another-service"]})
    redirect, callback = attempt(oidc_broker, oidc_bank)
    assert failure_code(oidc_bank, callback, redirect) == "audience_mismatch"


def test_wrong_issuer_is_issuer_mismatch(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """An ID token, or a callback (RFC 9207 iss), naming another issuer is refused."""
    oidc_broker.plan_next_token(set={"iss": "https://impostor.example"})
    redirect, callback = attempt(oidc_broker, oidc_bank)
    assert failure_code(oidc_bank, callback, redirect) == "issuer_mismatch"
    redirect, callback = attempt(oidc_broker, oidc_bank)
    mixed_up = BankCallback({**callback.params, "iss": "https://impostor.example"})
    assert failure_code(oidc_bank, mixed_up, redirect) == "issuer_mismatch"


def test_unencrypted_token_is_token_invalid(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """The FTN profile encrypts ID tokens: a merely signed one is refused."""
    oidc_broker.plan_next_token(unencrypted=True)
    redirect, callback = attempt(oidc_broker, oidc_bank)
    assert failure_code(oidc_bank, callback, redirect) == "token_invalid"


def test_token_for_another_clients_key_is_token_invalid(oidc_broker: OidcProviderProcess) -> None:
    """An ID token this client cannot decrypt is token_invalid."""
    other = RSAKey.generate_key(2048, parameters={"kid": "client-enc"}, private=True)
    keys = ClientKeys(signing=oidc_broker.client_keys.signing, decryption=[other])
    with (
        oidc_broker.adapter() as bank,
        oidc_broker.adapter(keys=keys) as wrong,
    ):
        redirect, callback = attempt(oidc_broker, bank)
        assert failure_code(wrong, callback, redirect) == "token_invalid"


def test_missing_personal_id_is_personal_id_missing(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """A verified token without the personal identity code claim is personal_id_missing."""
    redirect, callback = attempt(oidc_broker, oidc_bank, account="no-personal-id")
    assert failure_code(oidc_bank, callback, redirect) == "personal_id_missing"


def test_invalid_personal_id_is_invalid_personal_id(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """A personal identity code with a wrong check character is invalid_personal_id."""
    redirect, callback = attempt(oidc_broker, oidc_bank, account="bad-personal-id")
    assert failure_code(oidc_bank, callback, redirect) == "invalid_personal_id"


def test_cancel_at_the_bank_is_identification_cancelled(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """The user cancelling at the bank (access_denied) is identification_cancelled."""
    redirect, callback = attempt(oidc_broker, oidc_bank, cancel=True)
    assert callback.params["error"] == "access_denied"
    assert failure_code(oidc_bank, callback, redirect) == "identification_cancelled"


def test_other_broker_error_is_identification_rejected(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """Any other error the broker redirects back with is identification_rejected."""
    redirect = oidc_bank.begin("nordea", flow_id="flow-1", language="fi")
    callback = BankCallback({"error": "server_error", "state": redirect.state})
    assert failure_code(oidc_bank, callback, redirect) == "identification_rejected"


def test_weaker_acr_is_assurance_too_low(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """An acr outside the accepted levels, or below the bank's own acr_values, is refused."""
    redirect, callback = attempt(oidc_broker, oidc_bank, acr=oidc_broker.weak_acr)
    assert failure_code(oidc_bank, callback, redirect) == "assurance_too_low"
    redirect, callback = attempt(oidc_broker, oidc_bank, bank_id="op", acr=FTN_LOA_SUBSTANTIAL)
    assert failure_code(oidc_bank, callback, redirect) == "assurance_too_low"


# -- a broker that cannot answer: AdapterError, nothing spent ------------------------------------


def test_slow_token_endpoint_raises_adapter_error(oidc_broker: OidcProviderProcess) -> None:
    """A token endpoint slower than the timeout raises AdapterError from httpx's timeout."""
    with oidc_broker.adapter(timeout=0.3) as bank:
        redirect, callback = attempt(oidc_broker, bank)
        oidc_broker.plan_next_token(delay_ms=1500)
        with pytest.raises(AdapterError) as raised:
            bank.complete(callback, redirect)
    assert raised.value.port == "bank"
    assert isinstance(raised.value.__cause__, httpx.TimeoutException)


@pytest.mark.parametrize("plan", [{"reset": True}, {"status": 503}], ids=["dropped", "http-503"])
def test_broken_token_endpoint_raises_adapter_error(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity, plan: dict[str, Any]
) -> None:
    """A dropped connection or a 5xx at the token endpoint raises AdapterError."""
    redirect, callback = attempt(oidc_broker, oidc_bank)
    oidc_broker.plan_next_token(**plan)
    with pytest.raises(AdapterError):
        oidc_bank.complete(callback, redirect)


def test_adapter_error_spends_nothing(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """After a broker failure the same callback may be tried again, and then it succeeds."""
    redirect, callback = attempt(oidc_broker, oidc_bank)
    oidc_broker.plan_next_token(status=503)
    with pytest.raises(AdapterError):
        oidc_bank.complete(callback, redirect)
    assert oidc_bank.complete(callback, redirect) == ANNA


def test_unreachable_broker_raises_adapter_error_on_begin(
    oidc_broker: OidcProviderProcess, oidc_dead_issuer: str
) -> None:
    """With nothing listening at the issuer, begin raises AdapterError from the connect error."""
    bank = OidcBankIdentity(oidc_broker.config(issuer=oidc_dead_issuer))
    with bank, pytest.raises(AdapterError) as raised:
        bank.begin("nordea", flow_id="flow-1", language="fi")
    assert isinstance(raised.value.__cause__, httpx.TransportError)


def test_broker_gone_mid_identification_raises_adapter_error(
    oidc_spare_provider: OidcProviderProcess,
) -> None:
    """A broker that stops between the redirect and the callback gives AdapterError."""
    with oidc_spare_provider.adapter() as bank:
        redirect, callback = attempt(oidc_spare_provider, bank)
        oidc_spare_provider.stop()
        with pytest.raises(AdapterError) as raised:
            bank.complete(callback, redirect)
    assert isinstance(raised.value.__cause__, httpx.TransportError)


def test_client_key_unknown_to_the_broker_is_adapter_error(
    oidc_broker: OidcProviderProcess, oidc_bank: OidcBankIdentity
) -> None:
    """A client key the broker refuses (invalid_client) is AdapterError, not the user's failure."""
    redirect, callback = attempt(oidc_broker, oidc_bank)
    stranger = RSAKey.generate_key(2048, parameters={"kid": "client-sig"}, private=True)
    keys = attrs.evolve(oidc_broker.client_keys, signing=stranger)
    with oidc_broker.adapter(keys=keys) as misconfigured, pytest.raises(AdapterError) as raised:
        misconfigured.complete(callback, redirect)
    assert "invalid_client" in raised.value.detail


# -- the provider really is configured like an FTN broker -----------------------------------------


def test_provider_refuses_an_unsigned_request(oidc_broker: OidcProviderProcess) -> None:
    """The test broker requires signed request objects, as FTN brokers do."""
    response = oidc_broker.control.get(
        f"{oidc_broker.issuer}/auth",
        params={
            "client_id": "regflow-test-client",
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": oidc_broker.redirect_uri,
            "state": "s",
            "nonce": "n",
        },
    )
    assert response.is_redirect
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"]


# -- nothing secret in logs or errors -------------------------------------------------------------


def test_logs_and_errors_hold_no_token_code_or_personal_id(
    oidc_broker: OidcProviderProcess,
    oidc_bank: OidcBankIdentity,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No adapter log line (DEBUG, httpx too) or error carries a code, state, nonce or hetu."""
    secrets: list[str] = ["131052", "308T", "308X"]
    texts: list[str] = []

    def adapter_call(account: str, plan: dict[str, Any] | None) -> None:
        caplog.set_level(logging.DEBUG)
        redirect = oidc_bank.begin("nordea", flow_id="flow-1", language="fi")
        texts.append(caplog.text)
        caplog.set_level(logging.WARNING)  # the test's own browser may log the callback URL
        callback = oidc_broker.login(redirect, account=account)
        if plan is not None:
            oidc_broker.plan_next_token(**plan)
        secrets.extend([callback.params["code"], redirect.state, redirect.nonce])
        secrets.append(redirect.secrets[CODE_VERIFIER])
        caplog.clear()
        caplog.set_level(logging.DEBUG)
        try:
            oidc_bank.complete(callback, redirect)
        except (IdentificationFailed, AdapterError) as error:
            texts.extend([str(error), repr(error), getattr(error, "detail", "")])
        texts.append(caplog.text)
        caplog.clear()

    adapter_call("anna", None)
    assert "oidc: identification at bank nordea verified" in texts[-1]
    adapter_call("bad-personal-id", None)
    adapter_call("anna", {"set": {"aud": "another-service"}})
    adapter_call("anna", {"status": 503})
    logged = "\n".join(texts)
    assert "invalid_personal_id" in logged
    assert [secret for secret in secrets if secret in logged] == []


def _now() -> float:
    return dt.datetime.now(dt.UTC).timestamp()
