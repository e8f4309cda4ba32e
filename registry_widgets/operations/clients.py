"""Which client talks to which registry: one pooled ``RegistryClient`` per registry.

``configure()`` is the in-memory counterpart of ``docker login``: it records credentials
and TLS options for a registry, and every verb afterwards uses them. Without it, a
registry's credentials come from Docker's config file.
"""

from __future__ import annotations

import threading
from typing import Any

from ..reference import validate_registry
from ..registry import RegistryClient

_lock = threading.Lock()
_options: dict[str, dict[str, Any]] = {}
_clients: dict[str, RegistryClient] = {}


def _key(registry: str) -> str:
    return registry.rpartition("://")[2]


def configure(registry: str, *, credentials: Any = None, **options: Any) -> None:
    """Set credentials and client options (``ca_bundle``, ``insecure``, ``timeout``,
    ``retries``...) for a registry; later verbs on it use them.

    ``credentials`` may be a ``Credentials``, a ``(user, password)`` tuple or a dict; they
    stay in memory only.
    """
    registry = validate_registry(registry)  # a typo fails here, before any request
    key = _key(registry)
    with _lock:
        _options[key] = {**options, "credentials": credentials, "_url": registry}
        old = _clients.pop(key, None)
    if old is not None:
        old.close()


def client_for(registry: str) -> RegistryClient:
    """The shared client for a registry (``host[:port]`` as in a reference). Raises
    BadReference, before any request, when ``registry`` cannot name one."""
    registry = validate_registry(registry)
    key = _key(registry)
    with _lock:
        client = _clients.get(key)
        if client is None:
            options = dict(_options.get(key, {}))
            url = options.pop("_url", registry)
            client = _clients[key] = RegistryClient(url, **options)
        return client


def reset() -> None:
    """Forget every configuration and close every client (tests, or a fresh login)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
        _options.clear()
    for client in clients:
        client.close()
