"""`OidcBankIdentity`: the `BankIdentity` port over OpenID Connect, Finnish Trust Network profile.

Theory of operation. `begin` draws a fresh `state`, `nonce` and PKCE code verifier (S256) for
one attempt, signs the whole authorization request as a request object (JAR, RS256) and returns
the broker's authorization URL carrying it; the verifier travels in `BankRedirect.secrets`, inside
the flow's server-side snapshot, so any worker can finish the attempt. `complete` checks the
callback against that redirect (state, RFC 9207 `iss`, the broker's error), redeems the code at
the token endpoint with `private_key_jwt` client authentication and the verifier, decrypts the ID
token (JWE), verifies its signature against the broker's key set and checks its claims (`iss`,
`aud`/`azp`, `exp`, `iat`, `nbf`, `nonce`, `acr`) before reading the person from the configured
claim names.

A callback that is not the attempt's (another state, or none) is `CallbackMismatch`, raised
before anything is redeemed: the flow ignores it. Every negative or unverifiable answer is
`IdentificationFailed` with its own code; only a broker that cannot answer (no connection,
timeout, 5xx, an answer over `max_response_bytes`, our own client refused) is `AdapterError`, and
then nothing is spent, so the same callback may be retried. A redirect's identification completes
at most once in this process: its state is reserved before the code is redeemed (a concurrent
second request gets `ConcurrentUpdate`, even from a broker that answers a reused code twice) and
released only on `AdapterError`; across processes the flow store's version check (the flow's
transition drops the redirect) and the broker's single-use codes give the same guarantee.

Logs name banks, failure codes and key counts; never a token, code, verifier, state, nonce or
personal identity code.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import enum
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlencode

import httpx
from joserfc import jwe, jws, jwt
from joserfc.errors import (
    ExceededSizeError,
    JoseError,
    MissingCritHeaderError,
    UnsupportedHeaderError,
)
from joserfc.jwe import JWERegistry
from joserfc.jws import JWSRegistry
from stdnum.fi import hetu

from regflow.adapters._oidc._broker import PORT, Broker
from regflow.adapters._oidc._config import BankMethod, OidcConfig
from regflow.adapters._oidc._keys import SIGNING_ALG
from regflow.errors import (
    AdapterError,
    CallbackMismatch,
    ConcurrentUpdate,
    IdentificationFailed,
    UnknownBank,
)
from regflow.model import Bank, BankCallback, BankRedirect, VerifiedPerson
from regflow.ports import Clock

log = logging.getLogger("regflow.adapters.oidc")

CODE_VERIFIER: Final = "code_verifier"  # the key of BankRedirect.secrets
_JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_CLIENT_ASSERTION_LIFETIME: Final = 60  # seconds
_UI_LOCALES: Final = frozenset({"fi", "sv", "en"})
_OAUTH_ERROR: Final = re.compile(r"^[a-z_]{1,64}$")  # an error code safe to log as it is
_SPENT_TTL: Final = 3600.0  # seconds a completed state is remembered (a flow lives 30 minutes)
_SPENT_LIMIT: Final = 100_000
# joserfc's refusals of a `crit` header (RFC 7515 4.1.11) it cannot honour (an extension it does
# not support, or one the header lacks): the token cannot be processed, whatever its signature,
# and the log should say so rather than "does not verify".
_CRIT_ERRORS: Final = (UnsupportedHeaderError, MissingCritHeaderError)


class _UtcClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class _Claim(enum.Enum):
    """What `_Attempts.reserve` found."""

    reserved = "reserved"  # this caller may redeem the attempt's code
    busy = "busy"  # another request is redeeming it right now
    spent = "spent"  # the attempt has ended


class _Attempts:
    """Digests of the states being completed or completed, remembered for a while; thread-safe.

    `reserve` claims a state before its code is redeemed, so that of two requests completing one
    attempt at once only one reaches the token endpoint (a broker that answers a reused code
    twice cannot give the identity twice); `release` gives the claim back when the broker could
    not answer, so the callback may be retried; `spend` ends the attempt for good.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # digest -> (forget after, spent); in order of the first value, oldest first
        self._entries: collections.OrderedDict[bytes, tuple[float, bool]] = (
            collections.OrderedDict()
        )

    def reserve(self, state: str) -> _Claim:
        key = _digest(state)
        with self._lock:
            self._prune()
            entry = self._entries.get(key)
            if entry is not None:
                return _Claim.spent if entry[1] else _Claim.busy
            self._put(key, spent=False)
            return _Claim.reserved

    def release(self, state: str) -> None:
        with self._lock:
            self._entries.pop(_digest(state), None)

    def spend(self, state: str) -> None:
        with self._lock:
            self._put(_digest(state), spent=True)

    def _put(self, key: bytes, *, spent: bool) -> None:
        self._entries[key] = (time.monotonic() + _SPENT_TTL, spent)
        self._entries.move_to_end(key)
        while len(self._entries) > _SPENT_LIMIT:
            self._entries.popitem(last=False)

    def _prune(self) -> None:
        now = time.monotonic()
        while self._entries and next(iter(self._entries.values()))[0] < now:
            self._entries.popitem(last=False)


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _failed(code: str, detail: str) -> IdentificationFailed:
    return IdentificationFailed(code, detail=detail)


class OidcBankIdentity:
    """Bank identification through an identification broker (FTN OpenID Connect profile).

    `http_client_factory` makes the `httpx.Client` used for every request to the broker; it is
    called once, on first use (never in the constructor), and the adapter closes that client in
    `close()` (or at the end of a `with` block). The default client uses `config.timeout`.
    `clock` is the time source for the request objects, the client assertions and the ID token's
    time checks (default: the system clock, UTC).
    """

    def __init__(
        self,
        config: OidcConfig,
        *,
        http_client_factory: Callable[[], httpx.Client] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._config = config
        self._factory = http_client_factory or self._default_client
        self._clock: Clock = clock or _UtcClock()
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        self._broker = Broker(config, self._http)
        self._attempts = _Attempts()
        self._jwe_registry = JWERegistry(
            algorithms=[*config.id_token_encryption_algs, *config.id_token_encryption_encs],
            strict_check_header=False,
        )

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client, if one was made."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _default_client(self) -> httpx.Client:
        return httpx.Client(
            timeout=httpx.Timeout(self._config.timeout),
            follow_redirects=False,
            headers={"User-Agent": "regflow-oidc"},
        )

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = self._factory()
            return self._client

    # -- the port -------------------------------------------------------------------------------

    def banks(self) -> Sequence[Bank]:
        """The configured banks, in display order."""
        return tuple(bank.bank for bank in self._config.banks)

    def begin(self, bank_id: str, *, flow_id: str, language: str) -> BankRedirect:
        """A signed authorization request for `bank_id`; raises `UnknownBank` for an unlisted id
        and `AdapterError` when the broker's discovery cannot be read.

        `flow_id` is not sent anywhere: the redirect is bound to the flow by being stored in it.
        """
        bank = self._config.bank(bank_id)
        if bank is None:
            raise UnknownBank(bank_id)
        metadata = self._broker.metadata()
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters, within PKCE's 43..128
        request = self._request_object(bank, state, nonce, verifier, language)
        query = urlencode(
            {
                "client_id": self._config.client_id,
                "response_type": "code",
                "scope": self._config.scope,
                "request": request,
            }
        )
        separator = "&" if "?" in metadata.authorization_endpoint else "?"
        log.info("oidc: identification started at bank %s", bank.id)
        return BankRedirect(
            bank_id=bank.id,
            url=f"{metadata.authorization_endpoint}{separator}{query}",
            state=state,
            nonce=nonce,
            secrets={CODE_VERIFIER: verifier},
        )

    def complete(self, callback: BankCallback, expected: BankRedirect) -> VerifiedPerson:
        """Verify the broker's answer against `expected` and return the identified person."""
        try:
            person = self._complete(callback.params, expected)
        except CallbackMismatch as mismatch:
            log.warning(
                "oidc: callback for bank %s ignored: not this attempt's (%s)",
                expected.bank_id,
                mismatch.detail,
            )
            raise
        except ConcurrentUpdate:
            log.info(
                "oidc: identification at bank %s is being completed by another request",
                expected.bank_id,
            )
            raise
        except IdentificationFailed as failure:
            log.info(
                "oidc: identification at bank %s failed: %s (%s)",
                expected.bank_id,
                failure.code,
                failure.detail,
            )
            raise
        except AdapterError as error:
            log.warning("oidc: broker unavailable: %s", error.detail)
            raise
        log.info("oidc: identification at bank %s verified", expected.bank_id)
        return person

    # -- begin ----------------------------------------------------------------------------------

    def _request_object(
        self, bank: BankMethod, state: str, nonce: str, verifier: str, language: str
    ) -> str:
        config = self._config
        now = self._now()
        challenge = _b64(hashlib.sha256(verifier.encode("ascii")).digest())
        claims: dict[str, Any] = {
            **bank.params,
            "iss": config.client_id,
            "aud": config.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + int(config.request_object_lifetime.total_seconds()),
            "jti": secrets.token_urlsafe(16),
            "client_id": config.client_id,
            "response_type": "code",
            "redirect_uri": config.redirect_uri,
            "scope": config.scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if bank.acr_values:
            claims["acr_values"] = " ".join(bank.acr_values)
        if language in _UI_LOCALES:
            claims["ui_locales"] = language
        if config.request_claims:
            mapping = config.claims
            wanted: dict[str, Any] = dict.fromkeys(mapping.requested_claims())
            wanted[mapping.personal_id] = {"essential": True}
            claims["claims"] = {"id_token": wanted}
        return self._sign(claims)

    def _sign(self, claims: Mapping[str, Any]) -> str:
        key = self._config.keys.signing
        header = {"alg": SIGNING_ALG, "kid": key.kid, "typ": "JWT"}
        return jwt.encode(header, dict(claims), key, algorithms=[SIGNING_ALG])

    def _now(self) -> int:
        return int(self._clock.now().timestamp())

    # -- complete -------------------------------------------------------------------------------

    def _complete(self, params: Mapping[str, str], expected: BankRedirect) -> VerifiedPerson:
        state = params.get("state")
        if not isinstance(state, str) or not state:
            raise CallbackMismatch(detail="the callback carries no state")
        if not hmac.compare_digest(state.encode(), expected.state.encode()):
            raise CallbackMismatch(detail="the callback's state is not this attempt's")
        claim = self._attempts.reserve(expected.state)  # before the code is redeemed
        if claim is _Claim.spent:
            raise _failed("code_rejected", "this identification was already completed")
        if claim is _Claim.busy:
            raise ConcurrentUpdate
        released = False
        try:
            return self._verify(params, expected)
        except AdapterError:
            # The broker never judged the answer: nothing is spent, the callback may be retried.
            self._attempts.release(expected.state)
            released = True
            raise
        finally:
            if not released:
                self._attempts.spend(expected.state)

    def _verify(self, params: Mapping[str, str], expected: BankRedirect) -> VerifiedPerson:
        config = self._config
        issuer = params.get("iss")
        if issuer is not None and issuer != config.issuer:  # RFC 9207: a mix-up attack
            raise _failed("issuer_mismatch", "the callback names another issuer")
        error = params.get("error")
        if error is not None:
            shown = error if isinstance(error, str) and _OAUTH_ERROR.match(error) else "(other)"
            if error == "access_denied":
                raise _failed("identification_cancelled", "the broker answered access_denied")
            raise _failed("identification_rejected", f"the broker answered {shown}")
        code = params.get("code")
        if not isinstance(code, str) or not code:
            raise _failed("invalid_callback", "the callback carries neither code nor error")
        verifier = expected.secrets.get(CODE_VERIFIER)
        if not verifier:
            raise _failed("invalid_callback", "the expected redirect holds no PKCE verifier")
        id_token = self._redeem(code, verifier)
        claims = self._id_token_claims(id_token)
        self._check_claims(claims, expected)
        return self._person(claims)

    def _redeem(self, code: str, verifier: str) -> object:
        config = self._config
        metadata = self._broker.metadata()
        now = self._now()
        audience = (
            metadata.token_endpoint
            if config.client_assertion_audience == "token_endpoint"
            else config.issuer
        )
        assertion = self._sign(
            {
                "iss": config.client_id,
                "sub": config.client_id,
                "aud": audience,
                "jti": secrets.token_urlsafe(16),
                "iat": now,
                "exp": now + _CLIENT_ASSERTION_LIFETIME,
            }
        )
        answer = self._broker.token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": config.redirect_uri,
                "code_verifier": verifier,
                "client_id": config.client_id,
                "client_assertion_type": _JWT_BEARER,
                "client_assertion": assertion,
            }
        )
        if answer.status != 200:
            error = answer.body.get("error")
            shown = error if isinstance(error, str) and _OAUTH_ERROR.match(error) else "?"
            if error == "invalid_grant":  # spent, expired or not ours (PKCE): the code is void
                raise _failed("code_rejected", "the token endpoint answered invalid_grant")
            # Anything else means the broker refused us (keys, registration), not the user.
            detail = f"token endpoint answered HTTP {answer.status} {shown}"
            raise AdapterError(PORT, detail)
        return answer.body.get("id_token")

    def _id_token_claims(self, id_token: object) -> dict[str, Any]:
        if not isinstance(id_token, str) or not id_token:
            raise _failed("token_invalid", "the token response holds no ID token")
        signed = self._decrypt(id_token)
        try:
            token = jws.extract_compact(signed.encode("ascii"))
            header = token.headers()
        except ExceededSizeError as error:
            raise _failed("token_invalid", "the ID token is too large") from error
        except (JoseError, ValueError, TypeError) as error:
            raise _failed("token_invalid", "the ID token is not a JWS") from error
        alg = header.get("alg")
        if alg not in self._config.id_token_signing_algs:
            raise _failed("signature_invalid", f"the ID token is signed with {alg!r}")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise _failed("token_invalid", "the ID token's kid is not a string")
        key = self._broker.signing_key(kid)
        if key is None:
            raise _failed("signature_invalid", "the ID token's key is not in the broker's set")
        registry = JWSRegistry(algorithms=[alg], strict_check_header=False)
        try:
            valid = jws.validate_compact(token, key, registry=registry)
        except _CRIT_ERRORS as error:
            raise _failed(
                "token_invalid", "the ID token has an unsupported critical header"
            ) from error
        except (JoseError, ValueError, TypeError):
            valid = False
        if not valid:
            raise _failed("signature_invalid", "the ID token's signature does not verify")
        try:
            claims = json.loads(token.payload or b"")
        except ValueError:
            # Not chained: the decoder's error keeps the whole payload, personal data included.
            raise _failed("token_invalid", "the ID token's payload is not JSON") from None
        if not isinstance(claims, dict):
            raise _failed("token_invalid", "the ID token's payload is not a JSON object")
        return claims

    def _decrypt(self, id_token: str) -> str:
        config = self._config
        segments = id_token.count(".") + 1
        if segments == 3:
            if config.require_encrypted_id_token:
                raise _failed("token_invalid", "the ID token is not encrypted")
            return id_token
        if segments != 5:
            raise _failed("token_invalid", "the ID token is neither a JWS nor a JWE")
        header = _protected_header(id_token)
        if header.get("alg") not in config.id_token_encryption_algs:
            raise _failed("token_invalid", f"the ID token is encrypted with {header.get('alg')!r}")
        if header.get("enc") not in config.id_token_encryption_encs:
            raise _failed("token_invalid", f"the ID token is encrypted with {header.get('enc')!r}")
        kid = header.get("kid")
        keys = config.keys.decryption
        candidates = [key for key in keys if key.kid == kid] or list(keys)
        for key in candidates:
            try:
                plaintext = jwe.decrypt_compact(
                    id_token, key, registry=self._jwe_registry
                ).plaintext
            except ExceededSizeError as error:  # the same for every key: say so, not "keys"
                raise _failed("token_invalid", "the encrypted ID token is too large") from error
            except _CRIT_ERRORS as error:
                detail = "the encrypted ID token has an unsupported critical header"
                raise _failed("token_invalid", detail) from error
            except (JoseError, ValueError, TypeError):
                continue
            try:
                return (plaintext or b"").decode("ascii")
            except UnicodeDecodeError:  # not chained: the error keeps the decrypted bytes
                raise _failed("token_invalid", "the decrypted ID token is not a JWS") from None
        raise _failed("token_invalid", "the ID token cannot be decrypted with our keys")

    def _check_claims(self, claims: Mapping[str, Any], expected: BankRedirect) -> None:
        config = self._config
        if claims.get("iss") != config.issuer:
            raise _failed("issuer_mismatch", "the ID token's iss is not the broker")
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or config.client_id not in audiences:
            raise _failed("audience_mismatch", "the ID token's aud does not name this client")
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != config.client_id:
            raise _failed("audience_mismatch", "the ID token's azp is not this client")
        now = self._clock.now().timestamp()
        skew = config.clock_skew.total_seconds()
        expires = _number(claims, "exp")
        issued = _number(claims, "iat")
        if now > expires + skew:
            raise _failed("token_expired", "the ID token's exp has passed")
        if issued > now + skew:
            raise _failed("token_invalid", "the ID token's iat is in the future")
        if now - issued > config.max_id_token_age.total_seconds() + skew:
            raise _failed("token_expired", "the ID token was issued too long ago")
        if "nbf" in claims and _number(claims, "nbf") > now + skew:
            raise _failed("token_invalid", "the ID token's nbf is in the future")
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(
            nonce.encode(), expected.nonce.encode()
        ):
            raise _failed("nonce_mismatch", "the ID token's nonce is not this attempt's")
        acr = claims.get("acr")
        accepted = config.acceptable_acr(config.bank(expected.bank_id))
        if not isinstance(acr, str) or acr not in accepted:
            shown = acr if isinstance(acr, str) and len(acr) <= 100 else "?"
            raise _failed("assurance_too_low", f"the ID token's acr {shown!r} is not accepted")

    def _person(self, claims: Mapping[str, Any]) -> VerifiedPerson:
        mapping = self._config.claims
        raw = claims.get(mapping.personal_id)
        if not isinstance(raw, str) or not raw.strip():
            raise _failed("personal_id_missing", f"the ID token has no {mapping.personal_id}")
        try:
            # stdnum's normal form (upper case, ASCII hyphen: it reads U+2010 and its kin as
            # "-"), the form the flow checks and stores; temporary codes: the flow decides.
            personal_id = hetu.validate(raw, allow_temporary=True)
        except ValueError as error:  # stdnum's ValidationError; its message quotes no input
            raise _failed(
                "invalid_personal_id", "the personal identity code does not validate"
            ) from error
        return VerifiedPerson(
            personal_id=personal_id,
            given_names=_first(claims, mapping.given_names),
            family_name=_first(claims, mapping.family_name),
        )


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _failed("token_invalid", f"the ID token's {name} is missing or not a number")
    return float(value)


def _first(claims: Mapping[str, Any], names: Sequence[str]) -> str:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _protected_header(token: str) -> dict[str, Any]:
    segment = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError) as error:
        raise _failed("token_invalid", "the ID token's header is not readable") from error
    if not isinstance(header, dict):
        raise _failed("token_invalid", "the ID token's header is not a JSON object")
    return header


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
