"""The client's own keys: one to sign request objects and client assertions, and one or more to
decrypt ID tokens (several while a rotation is under way).

They load from one private JWK set whose keys say what they are for (`"use": "sig"` or
`"use": "enc"`), read from files or from environment variables; `public_jwks()` gives the public
half to register at the broker. Nothing here ever prints key material: errors name the source
(file, variable, kid), never its contents.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

#: The environment variable `ClientKeys.from_env()` reads by default: a private JWK set (JSON).
ENV_CLIENT_JWKS: Final = "REGFLOW_OIDC_CLIENT_JWKS"
SIGNING_ALG: Final = "RS256"
_MIN_RSA_BITS: Final = 2048


def _check_key(key: object, purpose: str) -> None:
    if not isinstance(key, RSAKey):
        msg = f"the {purpose} key must be an RSA key"
        raise TypeError(msg)
    if not key.is_private:
        msg = f"the {purpose} key {key.kid!r} must be a private key"
        raise ValueError(msg)
    if not key.kid:
        msg = f"the {purpose} key needs a kid: the broker selects keys by kid"
        raise ValueError(msg)
    if key.public_key.key_size < _MIN_RSA_BITS:
        msg = f"the {purpose} key {key.kid!r} must have at least {_MIN_RSA_BITS} bits"
        raise ValueError(msg)


def _check_signing(_instance: object, _attribute: object, value: RSAKey) -> None:
    _check_key(value, "signing")


def _check_decryption(_instance: object, _attribute: object, value: tuple[RSAKey, ...]) -> None:
    if not value:
        msg = "at least one decryption key is needed"
        raise ValueError(msg)
    for key in value:
        _check_key(key, "decryption")


def _key_tuple(value: Iterable[RSAKey]) -> tuple[RSAKey, ...]:
    return tuple(value)


@attrs.frozen(eq=False, repr=False)
class ClientKeys:
    """The client's private keys (RSA, at least 2048 bits, each with a unique `kid`)."""

    signing: RSAKey = attrs.field(validator=_check_signing)
    decryption: tuple[RSAKey, ...] = attrs.field(converter=_key_tuple, validator=_check_decryption)

    def __attrs_post_init__(self) -> None:
        kids = [self.signing.kid, *(key.kid for key in self.decryption)]
        if len(set(kids)) != len(kids):
            msg = f"every key needs its own kid, got {kids}"
            raise ValueError(msg)

    def __repr__(self) -> str:
        kids = ", ".join(repr(key.kid) for key in self.decryption)
        return f"ClientKeys(signing={self.signing.kid!r}, decryption=({kids}))"

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any]) -> ClientKeys:
        """From a private JWK set (or one JWK): one `use: sig` key, one or more `use: enc`."""
        signing: list[RSAKey] = []
        decryption: list[RSAKey] = []
        for index, data in enumerate(_key_dicts(jwks)):
            use = data.get("use")
            if use not in {"sig", "enc"}:
                kid = data.get("kid", f"#{index}")
                msg = f'key {kid!r} needs "use": "sig" or "enc"'
                raise ValueError(msg)
            try:
                key = RSAKey.import_key(dict(data))
            except (JoseError, ValueError, TypeError) as error:
                kid = data.get("kid", f"#{index}")
                msg = f"key {kid!r} is not a usable RSA JWK ({type(error).__name__})"
                raise ValueError(msg) from None  # the cause may quote key material
            (signing if use == "sig" else decryption).append(key)
        if len(signing) != 1:
            msg = f'exactly one signing key ("use": "sig") is needed, found {len(signing)}'
            raise ValueError(msg)
        return cls(signing=signing[0], decryption=decryption)

    @classmethod
    def from_files(cls, *paths: str | os.PathLike[str]) -> ClientKeys:
        """From JSON files, each holding a private JWK or JWK set; their keys are merged."""
        if not paths:
            msg = "name at least one key file"
            raise ValueError(msg)
        keys: list[Mapping[str, Any]] = []
        for path in paths:
            source = Path(path)
            try:
                text = source.read_text(encoding="utf-8")
            except OSError as error:
                msg = f"cannot read key file {source}: {error.strerror}"
                raise ValueError(msg) from None
            keys.extend(_key_dicts(_parse(text, f"key file {source}")))
        return cls.from_jwks({"keys": keys})

    @classmethod
    def from_env(cls, *names: str, environ: Mapping[str, str] | None = None) -> ClientKeys:
        """From environment variables (default `REGFLOW_OIDC_CLIENT_JWKS`), each holding a private
        JWK or JWK set as JSON; their keys are merged."""
        env = os.environ if environ is None else environ
        keys: list[Mapping[str, Any]] = []
        for name in names or (ENV_CLIENT_JWKS,):
            text = env.get(name)
            if not text:
                msg = f"environment variable {name} is not set"
                raise ValueError(msg)
            keys.extend(_key_dicts(_parse(text, f"environment variable {name}")))
        return cls.from_jwks({"keys": keys})

    def public_jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public JWK set to register at the broker (or serve at the client's `jwks_uri`)."""
        signing = {**self.signing.as_dict(private=False), "use": "sig", "alg": SIGNING_ALG}
        decryption = [
            {**key.as_dict(private=False), "use": "enc", "alg": key.alg or "RSA-OAEP"}
            for key in self.decryption
        ]
        return {"keys": [signing, *decryption]}


def _parse(text: str, source: str) -> Mapping[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        msg = f"{source} is not JSON"
        raise ValueError(msg) from None  # the decoder's error keeps the whole document
    if not isinstance(data, dict):
        msg = f"{source} must hold a JWK or a JWK set (a JSON object)"
        raise ValueError(msg)
    return data


def _key_dicts(jwks: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if "keys" not in jwks:
        return [jwks]  # a single JWK
    keys = jwks["keys"]
    if not isinstance(keys, list) or not all(isinstance(key, dict) for key in keys):
        msg = "a JWK set's keys must be a list of JSON objects"
        raise ValueError(msg)
    return keys
