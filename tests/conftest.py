"""Shared test configuration: Hypothesis profiles and the fast-hashing demo ports."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from regflow import Argon2Hasher, Ports
from regflow.adapters.memory import demo_ports

# `dev` is quick for local runs; `ci` (set by .ci/run) runs the state machine for 100 000+ steps.
settings.register_profile("dev", max_examples=60, deadline=None)
# `tasks.py mutate`: each mutant reruns the tests that cover it; fewer examples keep it bounded
settings.register_profile("mutation", max_examples=15, deadline=None, derandomize=True)
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def ports() -> Ports:
    """Demo ports with a cheap argon2id, for tests that hash often."""
    return demo_ports(hasher=Argon2Hasher.insecure_fast())
