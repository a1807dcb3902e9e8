"""`Config.digest_key`: the login throttle's and the rate limits' digests of emails and client
addresses are HMACs under the deployment's key, so that reading the tables does not give the
email or the address back by trying candidates; without a key, plain SHA-256 as before."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from regflow import LoginFailed
from regflow.bootstrap import Config, ConfigError, bootstrap
from regflow.login import address_key, throttle_key

if TYPE_CHECKING:
    from pathlib import Path

KEY = b"k" * 32
ADDRESS = "203.0.113.7"
EMAIL = "nobody@example.fi"


@pytest.mark.parametrize("key", [KEY, b""], ids=["keyed", "unkeyed"])
def test_the_stored_digests_are_under_the_configured_key(tmp_path: Path, key: bytes) -> None:
    """A failed login and a started flow from one address: the rows hold the keyed digests."""
    url = f"sqlite:///{tmp_path / 'digests.sqlite3'}"
    with bootstrap(Config(database_url=url, demo=True, digest_key=key)) as app:
        with pytest.raises(LoginFailed):
            app.service.authenticate(EMAIL, "Wrong-Password-1", client_address=ADDRESS)
        app.service.start(client_address=ADDRESS)
    engine = sa.create_engine(url)
    with engine.connect() as db:
        attempts = db.execute(sa.text("SELECT account, address FROM regflow_login_attempts")).all()
        counters = db.scalars(sa.text("SELECT key FROM regflow_rate_limits")).all()
    engine.dispose()
    assert attempts == [(throttle_key(EMAIL, key), address_key(ADDRESS, key))]
    expected = address_key(ADDRESS, key)
    assert expected is not None
    assert counters
    assert all(expected in counter for counter in counters)


def test_a_short_key_is_refused_at_startup() -> None:
    """Under 32 bytes is no key to rely on: a config error, in code and from the environment."""
    with pytest.raises(ConfigError, match="at least 32"):
        Config(digest_key=b"short")
    with pytest.raises(ConfigError, match="REGFLOW_DIGEST_KEY"):
        Config.from_env({"REGFLOW_DIGEST_KEY": "short"})
    assert Config.from_env({"REGFLOW_DIGEST_KEY": "s" * 32}).digest_key == b"s" * 32
    assert Config.from_env({}).digest_key == b""
