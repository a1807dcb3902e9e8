"""Configuration of the OIDC adapter: the broker, the client, the banks and the claim names.

Everything here is a frozen value checked when it is built, so a wrong configuration fails at
start-up rather than in the middle of a user's identification.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Final, Literal

import attrs

from regflow.adapters._oidc._keys import ClientKeys
from regflow.adapters._urls import is_allowed_url
from regflow.model import Bank

# The Finnish Trust Network's levels of assurance (Traficom recommendation 213/2023 S): an
# identification means of level "substantial" (loa2) or "high" (loa3) is strong identification.
FTN_LOA_SUBSTANTIAL: Final = "http://ftn.ficora.fi/2017/loa2"
FTN_LOA_HIGH: Final = "http://ftn.ficora.fi/2017/loa3"
FTN_ACR_VALUES: Final[frozenset[str]] = frozenset({FTN_LOA_SUBSTANTIAL, FTN_LOA_HIGH})

# Authorization parameters the adapter sets itself; a bank's `params` may not override them.
_RESERVED_PARAMS: Final = frozenset(
    {
        "acr_values",
        "aud",
        "claims",
        "client_id",
        "code_challenge",
        "code_challenge_method",
        "exp",
        "iat",
        "iss",
        "jti",
        "nbf",
        "nonce",
        "redirect_uri",
        "request",
        "request_uri",
        "response_mode",
        "response_type",
        "scope",
        "state",
        "ui_locales",
    }
)


def _names(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _non_empty_names(
    _instance: object, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    if not value or not all(isinstance(name, str) and name for name in value):
        msg = f"{attribute.name} needs at least one claim name, each a non-empty string"
        raise ValueError(msg)


@attrs.frozen
class ClaimMapping:
    """Which ID token claims carry the person: each broker names the personal identity code
    differently. Name claims are tried in order; the first one present is used.

    Build one for your broker, or take a preset: `CLAIMS_IDURA`, `CLAIMS_SIGNICAT`, `CLAIMS_OP`,
    `CLAIMS_TELIA` (also by name, `ClaimMapping.preset("signicat")`).
    """

    personal_id: str = attrs.field(validator=attrs.validators.min_len(1))
    given_names: tuple[str, ...] = attrs.field(
        default=("given_name",), converter=_names, validator=_non_empty_names
    )
    family_name: tuple[str, ...] = attrs.field(
        default=("family_name",), converter=_names, validator=_non_empty_names
    )

    @classmethod
    def preset(cls, broker: str) -> ClaimMapping:
        """The mapping for a known broker: `idura` (or `criipto`), `signicat`, `op`, `telia`."""
        try:
            return CLAIM_PRESETS[broker.lower()]
        except KeyError:
            known = ", ".join(sorted(CLAIM_PRESETS))
            msg = f"no claim mapping preset {broker!r}; known presets: {known}"
            raise ValueError(msg) from None

    def requested_claims(self) -> tuple[str, ...]:
        """Every claim name the mapping reads, personal identity code first, without repeats."""
        return tuple(dict.fromkeys((self.personal_id, *self.given_names, *self.family_name)))


#: Idura (formerly Criipto) Verify: `hetu`.
CLAIMS_IDURA: Final = ClaimMapping(personal_id="hetu")
#: Signicat: `nin` (with `nin_type` PERSON and `nin_issuing_country` FI).
CLAIMS_SIGNICAT: Final = ClaimMapping(personal_id="nin")
#: OP Identity Service Broker: `personal_identity_code`.
CLAIMS_OP: Final = ClaimMapping(personal_id="personal_identity_code")
#: Telia: the FTN attribute OIDs (personal identity code, givenName, sn).
CLAIMS_TELIA: Final = ClaimMapping(
    personal_id="urn:oid:1.2.246.21",
    given_names=("urn:oid:2.5.4.42", "given_name"),
    family_name=("urn:oid:2.5.4.4", "family_name"),
)
CLAIM_PRESETS: Final[Mapping[str, ClaimMapping]] = types.MappingProxyType(
    {
        "criipto": CLAIMS_IDURA,
        "idura": CLAIMS_IDURA,
        "op": CLAIMS_OP,
        "signicat": CLAIMS_SIGNICAT,
        "telia": CLAIMS_TELIA,
    }
)


def _frozen_params(value: Mapping[str, str]) -> Mapping[str, str]:
    return types.MappingProxyType(dict(value))


def _check_params(_instance: object, _attribute: object, value: Mapping[str, str]) -> None:
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            msg = "bank params must map strings to strings"
            raise TypeError(msg)
        if key in _RESERVED_PARAMS:
            msg = f"bank params may not set {key!r}: the adapter sets it itself"
            raise ValueError(msg)


@attrs.frozen
class BankMethod:
    """One entry of the bank list, and how to ask the broker for that bank.

    - `acr_values`: sent as `acr_values` (for brokers that select the bank or method this way);
      the ID token's `acr` must then be one of them.
    - `params`: other authorization parameters the broker uses to preselect the bank, for
      example `{"ftn_idp_id": "fi-nordea"}`; they go into the signed request object.
    """

    id: str
    name: str
    acr_values: tuple[str, ...] = attrs.field(default=(), converter=_names)
    params: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen_params, validator=_check_params, hash=False
    )

    def __attrs_post_init__(self) -> None:
        Bank(self.id, self.name)  # the same rules as the flow's bank list

    @property
    def bank(self) -> Bank:
        """The entry as the flow shows it."""
        return Bank(self.id, self.name)


def _check_url(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not is_allowed_url(value):
        msg = f"{attribute.name} must be an https URL (plain http only on loopback), got {value!r}"
        raise ValueError(msg)


def _banks(value: Iterable[BankMethod]) -> tuple[BankMethod, ...]:
    return tuple(value)


def _check_banks(_instance: object, _attribute: object, value: tuple[BankMethod, ...]) -> None:
    if not value:
        msg = "configure at least one bank"
        raise ValueError(msg)
    ids = [bank.id for bank in value]
    if len(set(ids)) != len(ids):
        msg = f"bank ids must be unique, got {ids}"
        raise ValueError(msg)


def _check_scope(_instance: object, _attribute: object, value: str) -> None:
    if "openid" not in value.split():
        msg = f"scope must include openid, got {value!r}"
        raise ValueError(msg)


_TimedeltaValidator = Callable[[object, "attrs.Attribute[dt.timedelta]", dt.timedelta], None]


def _within(low: dt.timedelta, high: dt.timedelta) -> _TimedeltaValidator:
    def check(_instance: object, attribute: attrs.Attribute[dt.timedelta], value: object) -> None:
        if not isinstance(value, dt.timedelta) or not low <= value <= high:
            msg = f"{attribute.name} must be a timedelta between {low} and {high}, got {value!r}"
            raise ValueError(msg)

    return check


def _algorithms(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _check_signing_algs(_instance: object, _attribute: object, value: frozenset[str]) -> None:
    if not value or any(alg == "none" or alg.startswith("HS") for alg in value):
        msg = "id_token_signing_algs must name asymmetric algorithms (no none, no HS*)"
        raise ValueError(msg)


def _positive_seconds(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        msg = f"{attribute.name} must be a positive number of seconds, got {value!r}"
        raise ValueError(msg)


def _response_cap(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 4096 <= value <= 64 << 20:
        msg = f"{attribute.name} must be a number of bytes from 4096 to {64 << 20}, got {value!r}"
        raise ValueError(msg)


@attrs.frozen
class OidcConfig:
    """How to reach the identification broker and what to accept from it.

    - `issuer`: the broker's issuer identifier; discovery is read from
      `{issuer}/.well-known/openid-configuration` and must name the same issuer.
    - `client_id`, `redirect_uri`: as registered at the broker; `keys`: the client's private
      keys (`ClientKeys`), whose public half (`keys.public_jwks()`) is registered there too.
    - `banks`: the bank list, in display order; `claims`: the claim names (`ClaimMapping`).
    - `scope`: requested scopes; `request_claims`: also ask for the mapped claims in the ID token
      with the OIDC `claims` parameter.
    - `accepted_acr`: the `acr` values accepted from banks that set no `acr_values` of their own.
    - `clock_skew`: tolerance for `exp`, `iat` and `nbf`; `max_id_token_age`: how old an ID
      token's `iat` may be.
    - `timeout`: seconds for each request to the broker; `metadata_ttl`: how long discovery and
      the broker's keys are cached (an unknown `kid` refetches the keys at most once per
      `jwks_refetch_interval`).
    - `client_assertion_audience`: the `aud` of the `private_key_jwt` assertion, the token
      endpoint (the FTN profile's choice) or the issuer.
    - `max_response_bytes`: the most the adapter reads of any answer from the broker (token
      endpoint, discovery, key set), 64 KiB by default; a larger answer is `AdapterError`.
    """

    issuer: str = attrs.field(validator=_check_url)
    client_id: str = attrs.field(validator=attrs.validators.min_len(1))
    redirect_uri: str = attrs.field(validator=_check_url)
    keys: ClientKeys = attrs.field(
        validator=attrs.validators.instance_of(ClientKeys), repr=False, eq=False
    )
    banks: tuple[BankMethod, ...] = attrs.field(converter=_banks, validator=_check_banks)
    claims: ClaimMapping = attrs.field(validator=attrs.validators.instance_of(ClaimMapping))
    scope: str = attrs.field(default="openid profile", validator=_check_scope)
    request_claims: bool = True
    accepted_acr: frozenset[str] = attrs.field(default=FTN_ACR_VALUES, converter=frozenset)
    clock_skew: dt.timedelta = attrs.field(
        default=dt.timedelta(seconds=60),
        validator=_within(dt.timedelta(0), dt.timedelta(minutes=5)),
    )
    max_id_token_age: dt.timedelta = attrs.field(
        default=dt.timedelta(minutes=10),
        validator=_within(dt.timedelta(seconds=1), dt.timedelta(days=1)),
    )
    request_object_lifetime: dt.timedelta = attrs.field(
        default=dt.timedelta(minutes=10),
        validator=_within(dt.timedelta(seconds=30), dt.timedelta(hours=1)),
    )
    timeout: float = attrs.field(default=10.0, validator=_positive_seconds)
    metadata_ttl: dt.timedelta = attrs.field(
        default=dt.timedelta(hours=1),
        validator=_within(dt.timedelta(0), dt.timedelta(days=7)),
    )
    jwks_refetch_interval: dt.timedelta = attrs.field(
        default=dt.timedelta(seconds=30),
        validator=_within(dt.timedelta(0), dt.timedelta(hours=1)),
    )
    id_token_signing_algs: frozenset[str] = attrs.field(
        default=frozenset({"RS256"}), converter=_algorithms, validator=_check_signing_algs
    )
    id_token_encryption_algs: frozenset[str] = attrs.field(
        default=frozenset({"RSA-OAEP"}), converter=_algorithms
    )
    id_token_encryption_encs: frozenset[str] = attrs.field(
        default=frozenset({"A128CBC-HS256"}), converter=_algorithms
    )
    require_encrypted_id_token: bool = True
    client_assertion_audience: Literal["token_endpoint", "issuer"] = attrs.field(
        default="token_endpoint", validator=attrs.validators.in_(("token_endpoint", "issuer"))
    )
    max_response_bytes: int = attrs.field(default=64 * 1024, validator=_response_cap)

    def __attrs_post_init__(self) -> None:
        for bank in self.banks:
            if not bank.acr_values and not self.accepted_acr:
                msg = f"bank {bank.id!r} sets no acr_values and accepted_acr is empty"
                raise ValueError(msg)

    def bank(self, bank_id: str) -> BankMethod | None:
        """The configured bank with this id, or None."""
        return next((bank for bank in self.banks if bank.id == bank_id), None)

    def acceptable_acr(self, bank: BankMethod | None) -> frozenset[str]:
        """The `acr` values an ID token may carry after identification at `bank`."""
        if bank is not None and bank.acr_values:
            return frozenset(bank.acr_values)
        return self.accepted_acr
