"""Which client talks to which registry: one pooled ``RegistryClient`` per registry.

``configure()`` is the in-memory counterpart of ``docker login``: it records credentials
and TLS options for a registry, and every verb afterwards uses them. Without it, a
registry's credentials come from Docker's config file (read again once when the registry
refuses them, so ``docker login`` and then a Refresh works without a kernel restart).

Options and credentials are kept per registry identity (``reference.registry_identity``):
``configure("127.0.0.1:5000", ...)`` also serves ``localhost:5000``, and ``Registry.io`` is
``registry.io``. Clients are kept per scheme and identity, plus the host as written: each
client talks to the host the user named (a key is never turned into an address), so
``images("https://r.io")`` after ``images("r.io")`` (which may have settled on plain HTTP)
gets its own client, and so does ``localhost:5000`` next to ``127.0.0.1:5000``.
"""

from __future__ import annotations

import difflib
import os
import threading
from typing import Any

from ...credentials import credentials_from
from ...errors import ConfigurationError
from ...reference import registry_identity, validate_registry
from ...registry import RegistryClient
from ...registry import check_ca_file, check_timeout

_lock = threading.Lock()
_options: dict[str, dict[str, Any]] = {}
_clients: dict[tuple[str, str, str], RegistryClient] = {}  # (scheme, identity, host)

# RegistryClient's keyword arguments besides credentials, with what each must be.
OPTIONS = {
    "ca_bundle": "a path to a PEM CA file",
    "insecure": "True or False",
    "insecure_hosts": "a list of host[:port] strings",
    "timeout": "seconds, or a (connect, read) pair",
    "retries": "a whole number >= 0",
    "backoff": "seconds >= 0",
    "pool_size": "a whole number >= 1",
    "config_dir": "a directory path (instead of $DOCKER_CONFIG or ~/.docker)",
}


def _split(registry: str) -> tuple[str, str]:
    scheme, _, host = registry.rpartition("://")
    return scheme, host


def _option_problem(name: str, value: Any) -> str | None:
    def whole(minimum: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= minimum

    if name == "insecure" and not isinstance(value, bool):
        return f"insecure must be True or False, not {type(value).__name__}"
    if name == "insecure_hosts" and (isinstance(value, (str, bytes)) or not isinstance(
            value, (list, tuple, set, frozenset)) or not all(isinstance(h, str) for h in value)):
        return f"insecure_hosts must be {OPTIONS[name]}, not {type(value).__name__}"
    if name in ("retries", "pool_size") and not whole(0 if name == "retries" else 1):
        return f"{name} must be {OPTIONS[name]}, not {value!r}"
    if name == "backoff" and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or value < 0):
        return f"backoff must be {OPTIONS[name]}, not {value!r}"
    if name == "config_dir" and not isinstance(value, (str, os.PathLike)):
        return f"config_dir must be {OPTIONS[name]}, not {type(value).__name__}"
    try:
        if name == "timeout":
            check_timeout(value)
        elif name == "ca_bundle":
            check_ca_file(value, "ca_bundle")
    except ConfigurationError as e:
        return str(e)
    return None


def configure(registry: str, *, credentials: Any = None, **options: Any) -> None:
    """Set credentials and client options for a registry; later verbs on it use them.

    Options: ``ca_bundle`` (PEM file), ``insecure`` (allow plain HTTP to this host),
    ``insecure_hosts``, ``timeout`` (``(connect, read)`` seconds), ``retries``, ``backoff``,
    ``pool_size``, ``config_dir``. ``credentials`` may be a ``Credentials``, a
    ``(user, password)`` tuple or a dict; they stay in memory only.

    An option given as None keeps its default. Everything is checked here, at once, before any request: an unknown option, a value of
    the wrong type, a missing or non-PEM CA file or a malformed credentials value raises
    one :class:`ConfigurationError` listing every problem, and the old configuration stays.
    """
    registry = validate_registry(registry)  # a typo fails here, before any request
    _, host = _split(registry)
    # None is "the default" for every option (notebook parameters pass ca_bundle=None).
    options = {name: value for name, value in options.items() if value is not None}
    problems = []
    for name in sorted(options):
        if name not in OPTIONS:
            close = difflib.get_close_matches(name, list(OPTIONS) + ["credentials"], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown option {name!r}{hint}")
        elif (problem := _option_problem(name, options[name])) is not None:
            problems.append(problem)
    creds = None
    if credentials is not None:
        try:
            creds = credentials_from(credentials, host)
        except (TypeError, ValueError) as e:  # their messages name fields, never values
            problems.append(f"credentials: {e}")
    if problems:
        raise ConfigurationError(
            f"configure({registry!r}) was not applied: " + "; ".join(problems)
            + f". Options are {', '.join(OPTIONS)}, plus credentials=(user, password)",
            registry=host)
    identity = registry_identity(registry)
    with _lock:
        # Only the scheme of the URL is kept: another spelling's client still talks to the
        # host it names.
        _options[identity] = {**options, "credentials": creds, "_scheme": _split(registry)[0]}
        old = [_clients.pop(key) for key in list(_clients) if key[1] == identity]
    for client in old:
        client.close()


def configured(registry: str) -> tuple[str, dict[str, Any]]:
    """What ``configure()`` set for ``registry`` besides credentials: the registry as it was
    configured (with its scheme, if one was given) and its options (``{}`` when none). A
    new login passes them on, so that logging in keeps a CA file configured before."""
    registry = validate_registry(registry)
    with _lock:
        options = dict(_options.get(registry_identity(registry), {}))
    options.pop("credentials", None)
    scheme = options.pop("_scheme", "") or _split(registry)[0]
    host = _split(registry)[1]
    return (f"{scheme}://{host}" if scheme else host), options


def client_for(registry: str) -> RegistryClient:
    """The shared client for a registry (``host[:port]`` as in a reference, or a URL with a
    scheme). Raises BadReference, before any request, when ``registry`` cannot name one."""
    registry = validate_registry(registry)
    scheme, host = _split(registry)
    identity = registry_identity(registry)
    with _lock:
        options = dict(_options.get(identity, {}))
        # An explicit scheme wins over the configured one.
        scheme = scheme or options.pop("_scheme", "")
        options.pop("_scheme", None)
        url = f"{scheme}://{host}" if scheme else host
        key = (scheme, identity, host)
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = RegistryClient(url, **options)
        return client


def refresh_credentials(registry: str) -> bool:
    """Re-read the credentials of ``registry``'s shared client now, from Docker's config and
    helpers: what a Refresh the user pressed does first, so ``docker login`` then Refresh
    works at once (automatic retries re-read at most every few seconds)."""
    return client_for(registry).refresh_credentials()


def reset() -> None:
    """Forget every configuration and close every client (tests, or a fresh login)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
        _options.clear()
    for client in clients:
        client.close()
