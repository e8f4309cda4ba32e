"""Hosts and origins: what credentials are bound to, and which hosts are loopback.

Part of ``transport``; imports nothing of the package.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def hostname(host: str) -> str:
    """The host without its port: ``[::1]:5000`` -> ``::1``, ``a.b:443`` -> ``a.b``."""
    if host.startswith("["):
        return host[1:host.index("]")]
    return host.split(":")[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (a port is ignored)."""
    name = hostname(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, the port made explicit: what credentials are bound to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1  # not a port: matches no origin
    return scheme, (parts.hostname or "").lower(), port or (443 if scheme == "https" else 80)
