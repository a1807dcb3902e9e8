"""Fixtures for the web example's tests: a fresh app in memory per test."""

from __future__ import annotations

import pytest

from tests.web.site import Site


@pytest.fixture
def site() -> Site:
    """The demo app on in-memory storage, a cheap argon2 and a manual clock, and one browser."""
    return Site()
