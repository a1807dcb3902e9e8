"""Which URLs an adapter may call: https anywhere, plain http only on this host.

Shared by the OIDC broker adapter and the HTTP customer directory (neither imports the other's
optional dependencies through this module: it needs only the standard library).
"""

from __future__ import annotations

import ipaddress
from typing import Final
from urllib.parse import urlsplit

_LOOPBACK_NAMES: Final = frozenset({"localhost"})


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (`localhost`, 127.0.0.0/8, ::1)."""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_allowed_url(value: str) -> bool:
    """Whether `value` is an https URL, or a plain http one on loopback (a sidecar or a test
    server on this host: nothing crosses a network)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))
