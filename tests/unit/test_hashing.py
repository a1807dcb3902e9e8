"""The argon2id hasher's cost: read from "m=KiB,t=passes,p=lanes", never under OWASP's minimum."""

from __future__ import annotations

import pytest

from regflow import Argon2Hasher
from regflow.hashing import OWASP_CONFIGURATIONS


def test_rfc_9106s_second_choice_is_read_and_hashes_with_its_cost() -> None:
    """RFC 9106's "m=65536,t=3,p=4": the hash carries those parameters and verifies."""
    hasher = Argon2Hasher.from_parameters("m=65536, t=3, p=4")
    assert (hasher.memory_cost, hasher.time_cost, hasher.parallelism) == (65536, 3, 4)
    assert hasher.parameters == "m=65536,t=3,p=4"
    password_hash = hasher.hash("Kesäkuu-2024")
    assert password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert hasher.verify(password_hash, "Kesäkuu-2024")
    assert Argon2Hasher().needs_rehash(password_hash)


@pytest.mark.parametrize(("memory", "passes"), OWASP_CONFIGURATIONS)
def test_each_of_owasps_configurations_is_the_floor(memory: int, passes: int) -> None:
    """Each of OWASP's five configurations is accepted; a KiB less of memory is refused, and
    a pass less too where no other configuration covers it."""
    assert Argon2Hasher.from_parameters(f"m={memory},t={passes},p=1").meets_owasp()
    with pytest.raises(ValueError, match="under OWASP's minimum"):
        Argon2Hasher.from_parameters(f"m={memory - 1},t={passes},p=1")
    if passes > 1:
        with pytest.raises(ValueError, match="under OWASP's minimum"):
            Argon2Hasher.from_parameters(f"m={memory},t={passes - 1},p=1")


def test_the_default_is_owasps_minimum_and_the_test_hasher_is_not() -> None:
    assert Argon2Hasher().parameters == "m=19456,t=2,p=1"
    assert Argon2Hasher().meets_owasp()
    assert not Argon2Hasher.insecure_fast().meets_owasp()


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "must read"),
        ("m=19456,t=2", "must read"),
        ("t=2,m=19456,p=1", "must read"),
        ("m=-1,t=2,p=1", "must read"),
        ("m=19456,t=0,p=1", "1 <= t"),
        ("m=19456,t=65,p=1", "1 <= t"),
        ("m=19456,t=2,p=0", "1 <= p"),
        ("m=19456,t=2,p=65", "1 <= p"),
        ("m=100,t=64,p=13", "8 KiB per lane"),
        ("m=1048577,t=1,p=1", "at most 1048576 KiB"),
    ],
)
def test_other_text_is_refused_naming_the_rule(text: str, rule: str) -> None:
    with pytest.raises(ValueError, match=rule):
        Argon2Hasher.from_parameters(text)
