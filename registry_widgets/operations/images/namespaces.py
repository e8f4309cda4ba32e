"""Namespaces: the first path segment of repositories, as the IBM Cloud guide organises them.

A plain registry (CNCF distribution and most others) has no namespace object: a namespace
exists once an image is pushed under ``registry/<namespace>/...``. So that a namespace can be
planned before its first push (the guide's ``ibmcloud cr namespace-add``),
:func:`add_namespace` records it locally (the state store's ``namespaces`` document,
``{registry: [names]}``), and :func:`namespaces` shows it with zeros until images arrive.
Deleting a namespace's images is ``remove_namespace`` (``operations.remove``), not here.

Registries that refuse the catalog (Docker Hub, GHCR) can only be listed by naming the
repositories; ``repositories.remember_repositories`` (re-exported here) keeps those names per
registry (the ``repositories`` document), so the widgets and notebooks need them typed only
once, and every verb reads them where the catalog is refused.

Both documents live in ``core.state`` (SQLite, one transaction per change) and are keyed by
the registry's identity (``reference.registry_identity``), so every spelling of one registry finds the same names.

Layer 3: imports ``errors``, ``paths``, ``progress``, ``reference``, the sibling
``inventory`` and ``repositories``, ``journal`` and ``result``; never the widgets.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Iterable

from ... import paths
from ...progress import ProgressCallback
from ...reference import registry_identity, validate_registry
from ..core import journal, state
from ...reference import validate_namespace
from .ibm_cloud import ibm_add_namespace, is_ibm
from .inventory import inventory
# remember_repositories and remembered_repositories are re-exported from here, their old home.
from .repositories import merged, remember_repositories, remembered_repositories  # noqa: F401
from ..core.result import Result, Timer

if TYPE_CHECKING:  # annotations only: pandas is imported where a table is built
    import pandas as pd

log = logging.getLogger("registry_widgets.namespaces")

COLUMNS = ["namespace", "repositories", "tags", "size", "last_pushed", "declared"]


def _registry_key(registry: str) -> str:
    # One entry per registry however it is spelled (localhost:5000 is 127.0.0.1:5000).
    return registry_identity(registry)


def _read(name: str = "namespaces") -> dict[str, list[str]]:
    return merged(state.read(name))


def declared_namespaces(registry: str) -> list[str]:
    """The namespaces recorded for ``registry`` with :func:`add_namespace`, sorted."""
    return list(_read().get(_registry_key(registry), []))


def add_namespace(registry: str, namespace: str) -> Result:
    """Declare ``namespace`` on ``registry`` so it is listed (with zeros) before its first push.

    Similar to ``ibmcloud cr namespace-add``, but a plain registry has no namespace object,
    so the declaration is kept locally in the state store (``paths.state_db()``, under
    ``$REGISTRY_WIDGETS_STATE``, else ``$XDG_STATE_HOME/registry_widgets``). Nothing is
    sent to the registry. Raises BadReference unless ``namespace`` is one path component of
    the reference grammar. ``changed`` is False when it was already declared. Journaled.
    On IBM Cloud Container Registry the namespace is created in the account through IBM's
    API instead (``ibm_add_namespace``).
    """
    if is_ibm(registry):
        return ibm_add_namespace(registry, namespace)
    return _declare(registry, namespace, declared=True)


def forget_namespace(registry: str, namespace: str) -> Result:
    """Drop the declaration of ``namespace``; its images, if any, stay (deleting them is
    ``remove_namespace``). ``changed`` is False when it was not declared. Journaled."""
    return _declare(registry, namespace, declared=False)


def _declare(registry: str, namespace: str, *, declared: bool) -> Result:
    """Add (``declared``) or drop a namespace in the declarations file; journaled."""
    validate_registry(registry)
    validate_namespace(namespace)
    key = _registry_key(registry)
    shown = registry.rpartition("://")[2].rstrip("/")  # as the user wrote it
    result = Result(action="add_namespace" if declared else "forget_namespace",
                    target=f"{shown}/{namespace}")
    def change(saved: dict[str, Any]) -> dict[str, list[str]]:
        everything = merged(saved)
        names = set(everything.get(key, []))
        result.changed = (namespace in names) != declared
        everything[key] = sorted(names | {namespace} if declared else names - {namespace})
        return everything

    with Timer() as timer:
        state.update("namespaces", change)  # one transaction: no other kernel's change is lost
    result.duration = timer.elapsed
    result.details = {"registry": shown, "namespace": namespace,
                      "file": str(paths.state_db())}
    journal.record(result)
    return result


def namespaces(registry: str, *, repositories: str | Iterable[str] | None = None,
               max_age: float | None = None, workers: int | None = None,
               progress: ProgressCallback | None = None,
               page_size: int | None = None,
               cancel: threading.Event | None = None) -> pd.DataFrame:
    """One row per namespace: like ``ibmcloud cr namespace-list`` with counts and sizes.

    Columns: ``namespace`` (first path segment; ``""`` gathers one-segment repositories),
    ``repositories`` and ``tags`` (those with at least one tag), ``size`` (bytes stored: the
    union of config and layer blobs of its images, so a layer shared by several images or
    tags counts once), ``last_pushed`` and ``declared`` (recorded with :func:`add_namespace`).

    ``last_pushed`` is the newest ``created`` time of the namespace's images: the registry
    API records no push date, so the image creation time stands in (an old image pushed
    today shows its old date). The listing is that of ``images()`` and shares its index:
    ``repositories`` and ``max_age`` mean what they mean there (``attrs["as_of"]`` says how
    current the table is), and ``cancel`` stops it as it stops ``images()``. Where the
    registry refuses its catalog, the repositories remembered for it are read and
    ``attrs["notes"]`` says so.
    """
    import pandas as pd  # here, not at the top: a headless copy never loads it
    listing = inventory(registry, repositories=repositories, max_age=max_age, workers=workers,
                        progress=progress, page_size=page_size, cancel=cancel)
    declared = set(declared_namespaces(registry))
    groups: dict[str, dict[str, Any]] = {}
    for row in listing.rows:
        group = groups.setdefault(row["namespace"], {"repositories": set(), "tags": 0,
                                                     "blobs": {}, "created": []})
        group["repositories"].add(row["repository"])
        group["tags"] += 1
        group["blobs"].update(listing.details[row["digest"]]["blobs"])
        if row["created"]:
            group["created"].append(row["created"])
    rows = []
    for name in sorted(set(groups) | declared):
        group = groups.get(name, {"repositories": set(), "tags": 0, "blobs": {}, "created": []})
        created = pd.to_datetime(pd.Series(group["created"], dtype=object), utc=True,
                                 format="ISO8601", errors="coerce")
        rows.append({"namespace": name, "repositories": len(group["repositories"]),
                     "tags": group["tags"], "size": sum(group["blobs"].values()),
                     "last_pushed": created.max() if len(created) else None,
                     "declared": name in declared})
    table = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("repositories", "tags", "size"):
        table[column] = table[column].astype("int64")
    table["declared"] = table["declared"].astype(bool)
    table["last_pushed"] = pd.to_datetime(table["last_pushed"].astype(object), utc=True,
                                          errors="coerce").astype("datetime64[us, UTC]")
    table.attrs["registry"] = listing.registry
    table.attrs["as_of"] = pd.Timestamp(min(listing.verified), unit="s", tz="UTC") \
        if listing.verified else pd.Timestamp.now(tz="UTC")
    table.attrs["from_index"] = listing.from_index
    table.attrs["notes"] = list(listing.notes)
    return table
