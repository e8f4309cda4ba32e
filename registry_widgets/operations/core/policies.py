"""Saved per-namespace policies: retention settings, protected tags and usage limits.

One document, ``policies``, in the state store (``state``: SQLite, one transaction per
change), keyed ``registry/namespace``::

    {"127.0.0.1:5000/team": {"retention": {"keep": 5, "older_than": "90d"},
                             "protected_tags": ["latest", "release-.*"],
                             "limit": 5000000000}}

like ``ibmcloud cr retention-policy-set`` and ``cr quota-set``, kept locally because a plain
registry has no place for them. The registry part is its identity
(``reference.registry_identity``): ``localhost:5000``, ``[::1]:5000`` and ``127.0.0.1:5000``
share one entry, so a tag protected through one spelling is protected through all. A document
saved with other spellings (older versions) is read as if keyed by identities (merged).

Each module owns its own key (``retention``, ``protection``, ``usage``); this one only reads
and changes the document, each change in one transaction, so two kernels saving at once
both keep their change.

Layer 3 helper: imports ``errors``, ``reference`` (the namespace grammar and the registry
identity) and the sibling ``state``.
"""

from __future__ import annotations

import logging
from typing import Any

from ...errors import BadReference
from ...reference import registry_identity, validate_namespace, validate_registry
from ...reference import validate_repository
from . import state

log = logging.getLogger("registry_widgets.policies")


def registry_key(registry: str) -> str:
    """What entries are keyed by: the registry's identity, however it was spelled."""
    return registry_identity(registry)


def _as_given(registry: str) -> str:
    # host[:port] as the user wrote it (any URL scheme dropped): what requests go to.
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
    registry = _as_given(registry)
    namespace, _, rest = path.partition("/")
    validate_namespace(namespace)
    if rest and not repository_allowed:
        raise BadReference(f"{verb}: {target!r} is a repository, but {verb} settings are kept "
                           f"per namespace: use {registry}/{namespace}; nothing was done",
                           reference=target)
    repository = validate_repository(path) if rest else None
    return registry, namespace, repository


def _canonical(name: str) -> str:
    """``registry/namespace`` with the registry part as its identity; a key that names no
    registry is kept as it is (it matches nothing, and is not lost on the next write)."""
    registry, slash, namespace = name.rpartition("://")[2].partition("/")
    try:
        return f"{registry_identity(registry)}{slash}{namespace}"
    except BadReference:
        return name


def _merge(entry: dict[str, Any], other: dict[str, Any], name: str) -> None:
    """Fold ``other`` (the same namespace under another spelling) into ``entry``. Lists
    (protected patterns) are joined, so no protection is lost; otherwise the first wins."""
    for key, value in other.items():
        if key not in entry:
            entry[key] = value
        elif isinstance(entry[key], list) and isinstance(value, list):
            entry[key] = entry[key] + [v for v in value if v not in entry[key]]
        elif entry[key] != value:
            log.warning("%s: %s saved twice under different spellings of the registry; "
                        "keeping %r, not %r", name, key, entry[key], value)


def _read() -> dict[str, dict[str, Any]]:
    return _normalised(state.read("policies"))


def _normalised(value: dict[str, Any]) -> dict[str, dict[str, Any]]:
    entries = [(str(k), dict(v)) for k, v in value.items() if isinstance(v, dict)]
    # Keys already canonical first: their values win a conflict with an older spelling.
    entries.sort(key=lambda item: _canonical(item[0]) != item[0])
    merged: dict[str, dict[str, Any]] = {}
    for name, entry in entries:
        key = _canonical(name)
        if key in merged:
            _merge(merged[key], entry, key)
        else:
            merged[key] = entry
    return merged


def get(registry: str, namespace: str, key: str, default: Any = None) -> Any:
    """The saved ``key`` of ``registry/namespace`` (``default`` when there is none)."""
    return _read().get(f"{registry_key(registry)}/{namespace}", {}).get(key, default)


def put(registry: str, namespace: str, key: str, value: Any) -> None:
    """Save ``value`` under ``key`` for ``registry/namespace``; ``None`` deletes the key."""
    name = f"{registry_key(registry)}/{namespace}"

    def change(saved: dict[str, Any]) -> dict[str, Any]:
        everything = _normalised(saved)
        entry = everything.setdefault(name, {})
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
        return everything

    # One transaction: another kernel saving at the same time keeps its change too.
    state.update("policies", change)


def every(key: str) -> dict[str, Any]:
    """``{"registry/namespace": value}`` for every namespace that has ``key`` saved."""
    return {name: entry[key] for name, entry in sorted(_read().items()) if key in entry}
