"""Saved per-namespace policies: retention settings, protected tags and usage limits.

One small JSON file, ``paths.policies_file()`` (``<state_dir()>/policies.json``), keyed
``registry/namespace``::

    {"127.0.0.1:5000/team": {"retention": {"keep": 5, "older_than": "90d"},
                             "protected_tags": ["latest", "release-.*"],
                             "limit": 5000000000}}

like ``ibmcloud cr retention-policy-set`` and ``cr quota-set``, kept locally because a plain
registry has no place for them. Each module owns its own key (``retention``,
``protection``, ``usage``); this one only reads and writes the file, atomically (a temporary
file then ``os.replace``), so a reader never sees half of it.

Layer 3 helper: imports ``errors``, ``paths`` (for the file), ``reference`` (the namespace
grammar) and the sibling ``state``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ... import paths
from ...errors import BadReference
from ...reference import validate_registry, validate_repository
from . import state
from ...reference import validate_namespace

log = logging.getLogger("registry_widgets.policies")
_lock = threading.RLock()


def registry_key(registry: str) -> str:
    # As clients.client_for keys registries: host[:port], any URL scheme dropped.
    return validate_registry(registry).rpartition("://")[2].rstrip("/")


def split_target(target: str, *, verb: str, repository_allowed: bool = True
                 ) -> tuple[str, str, str | None]:
    """``registry/namespace`` or ``registry/namespace/repository`` -> (registry, namespace,
    repository or None). A tag or digest is refused: these verbs work on whole namespaces and
    repositories (``remove`` takes a single tag). Raises BadReference before any request."""
    form = "registry/namespace" + (" or registry/namespace/repository" if repository_allowed
                                   else "")
    if not isinstance(target, str) or "/" not in target.strip("/"):
        raise BadReference(f"{verb}: {target!r} is not a {form} (e.g. 127.0.0.1:5000/team"
                           f"{'/app' if repository_allowed else ''}); nothing was done",
                           reference=str(target))
    registry, _, path = target.strip().rstrip("/").partition("/")
    if "@" in path or ":" in path:
        raise BadReference(f"{verb}: {target!r} names a tag or a digest, but {verb} works on a "
                           f"{form}; nothing was done. To remove one tag use remove({target!r})",
                           reference=target)
    registry = registry_key(registry)
    namespace, _, rest = path.partition("/")
    validate_namespace(namespace)
    if rest and not repository_allowed:
        raise BadReference(f"{verb}: {target!r} is a repository, but {verb} settings are kept "
                           f"per namespace: use {registry}/{namespace}; nothing was done",
                           reference=target)
    repository = validate_repository(path) if rest else None
    return registry, namespace, repository


def _read() -> dict[str, dict[str, Any]]:
    value = state.read_object(paths.policies_file())
    return {str(k): dict(v) for k, v in value.items() if isinstance(v, dict)}


def _write(value: dict[str, dict[str, Any]]) -> None:
    state.write_object(paths.policies_file(), value)


def get(registry: str, namespace: str, key: str, default: Any = None) -> Any:
    """The saved ``key`` of ``registry/namespace`` (``default`` when there is none)."""
    with _lock:
        return _read().get(f"{registry_key(registry)}/{namespace}", {}).get(key, default)


def put(registry: str, namespace: str, key: str, value: Any) -> None:
    """Save ``value`` under ``key`` for ``registry/namespace``; ``None`` deletes the key."""
    name = f"{registry_key(registry)}/{namespace}"
    with _lock:
        everything = _read()
        entry = everything.setdefault(name, {})
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
        _write(everything)


def every(key: str) -> dict[str, Any]:
    """``{"registry/namespace": value}`` for every namespace that has ``key`` saved."""
    with _lock:
        return {name: entry[key] for name, entry in sorted(_read().items()) if key in entry}
