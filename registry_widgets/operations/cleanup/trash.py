"""``trash``: what this package deleted, from the journal, and ``restore_from_trash``.

Every ``remove`` and ``remove_namespace`` journals a backup first (``backup.write_backup``:
the manifests' exact bytes and the tags that pointed at them). ``trash()`` lists those
backups one row per deleted image (repository and digest) with its tags, when, and whether
it can still be restored: the registry still has every blob the manifest needs (until its
garbage collection runs) and the registry answers. ``restore_from_trash(ref)`` puts one row
back, by tag (``reg/repo:tag``) or digest (``reg/repo@sha256:...``): it is ``restore(ref)``
(``core.undo``, one implementation), so a tag that now points elsewhere is not moved
without ``force=True``. A damaged backup in the journal is a row of its own, whose ``why``
names the journal line and what is wrong with it.

Similar to a desktop's trash: nothing here deletes; restoring needs the blobs, which a
registry keeps until garbage collection.

Imports ``errors``, ``manifest``, ``reference`` and the core's ``backup``, ``clients``,
``journal``, ``result`` and ``undo``.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from ...errors import RegistryError, RegistryWidgetsError
from ...manifest import Manifest
from ...reference import Reference, validate_registry
from ..core import journal, undo
from ..core.backup import BACKUP_ACTION, checked_entries
from ..core.clients import client_for
from ..core.result import Result

if TYPE_CHECKING:  # annotations only: pandas is imported where a table is built
    import pandas as pd

COLUMNS = ["reference", "registry", "repository", "digest", "tags", "deleted_at", "restorable",
           "live", "why", "backup_id"]


def _entries(registry: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One entry per (backup, repository, manifest digest), newest backup first; and one
    row per damaged backup line (a torn line, or a backup record that does not decode)."""
    wanted = validate_registry(registry) if registry else None
    rows, damaged = [], []
    for number, record, text in journal.lines():
        if record is None:
            if BACKUP_ACTION in text and (not wanted or wanted in text):
                damaged.append({"registry": wanted or "", "why": f"damaged backup: "
                                f"{journal.where(number)}: {journal.damage(text)}"})
            continue
        if record.get("action") != BACKUP_ACTION:
            continue
        if wanted and not journal.on_registry(record, wanted):
            continue
        try:
            checked_entries(record, number)
        except RegistryWidgetsError as e:
            damaged.append({"registry": record.get("registry") or "", "why": str(e),
                            "backup_id": record.get("id")})
            continue
        for repo in record["repositories"]:
            tags_by_digest: dict[str, list[str]] = {}
            for pair in repo["tags"]:
                tags_by_digest.setdefault(pair["digest"], []).append(pair["tag"])
            for stored in repo["manifests"]:
                rows.append({"record": record, "repository": repo["repository"],
                             "stored": stored, "tags": tags_by_digest.get(stored["digest"], [])})
    rows.sort(key=lambda r: r["record"].get("started") or 0, reverse=True)
    return rows, damaged


def _state(entry: dict[str, Any]) -> tuple[bool, bool, str]:
    """(restorable, live, why) for one entry, asking the registry (HEAD only)."""
    registry = entry["record"]["registry"]
    repository = entry["repository"]
    manifest = Manifest(data=base64.b64decode(entry["stored"]["data"]),
                        media_type=entry["stored"]["media_type"])
    try:
        client = client_for(registry)
        live_tags = [t for t in entry["tags"]
                     if (head := client.head_manifest(repository, t)) is not None
                     and head.digest == manifest.digest]
        here = client.head_manifest(repository, manifest.digest) is not None
        live = here and len(live_tags) == len(entry["tags"])
        missing = [b.digest for b in manifest.blobs
                   if client.head_blob(repository, b.digest) is None]
        # An index needs its platforms' manifests: in the backup with it, or still there.
        missing += [c.digest for c in manifest.children
                    if client.head_manifest(repository, c.digest) is None
                    and not _in_backup(entry["record"], repository, c.digest)]
    except RegistryError as e:
        return False, False, f"cannot ask {registry}: {e}"
    if live:
        return False, True, "already there: nothing to restore"
    if missing:
        return False, False, (f"{len(missing)} blob(s) gone (garbage collected?), e.g. "
                              f"{missing[0]}")
    return True, False, ""


def _in_backup(record: dict[str, Any], repository: str, digest: str) -> bool:
    return any(m["digest"] == digest for repo in record.get("repositories") or []
               if repo["repository"] == repository for m in repo.get("manifests") or [])


def trash(registry: str | None = None, *, check: bool = True) -> pd.DataFrame:
    """What this package deleted (per the journal), newest first: like a desktop trash.

    Columns: ``reference`` (``registry/repository@digest``), ``registry``, ``repository``,
    ``digest``, ``tags`` (that pointed at it and were removed), ``deleted_at`` (UTC),
    ``restorable`` (every blob it needs is still in the registry, and it is not back
    already), ``live`` (it is back: the digest and all its tags are there), ``why`` (what
    stops a restore) and ``backup_id``. ``registry`` keeps one registry's rows; ``check=False``
    asks no registry (``restorable`` and ``live`` are then unknown, None).
    """
    import pandas as pd  # here, not at the top: a headless copy never loads it
    rows = []
    entries, damaged = _entries(registry)
    for entry in entries:
        record, stored = entry["record"], entry["stored"]
        restorable, live, why = _state(entry) if check else (None, None, "")
        rows.append({
            "reference": str(Reference(record["registry"], entry["repository"], None,
                                       stored["digest"])),
            "registry": record["registry"], "repository": entry["repository"],
            "digest": stored["digest"], "tags": list(entry["tags"]),
            "deleted_at": pd.to_datetime(record.get("started"), unit="s", utc=True),
            "restorable": restorable, "live": live, "why": why, "backup_id": record["id"]})
    for bad in damaged:  # not restorable, and it says which line and why
        rows.append({"reference": "", "registry": bad["registry"], "repository": "",
                     "digest": "", "tags": [], "deleted_at": None, "restorable": False,
                     "live": False, "why": bad["why"], "backup_id": bad.get("backup_id")})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["deleted_at"] = pd.to_datetime(frame["deleted_at"], utc=True)
    return frame


def restore_from_trash(ref: str | Reference, *, force: bool = False,
                       dry_run: bool = False, backup_id: str | None = None) -> Result:
    """Put one deleted image back: ``reg/repo:tag`` restores that tag (and the manifest it
    pointed at), ``reg/repo@sha256:...`` the manifest and every tag removed with it.

    The same as ``restore(ref)``: the newest backup holding it is used (or ``backup_id``). A
    tag that now points at another digest is not moved unless ``force=True`` (Protected,
    nothing changed). Raises NotFound when the journal has no such deletion, or when the
    registry no longer has the blobs (its garbage collection ran).
    """
    if not isinstance(ref, (str, Reference)) or isinstance(ref, str) and "/" not in ref:
        raise TypeError(f"restore_from_trash takes a reference such as "
                        f"registry/namespace/repository:tag, not {ref!r}; nothing was changed")
    return undo.restore(ref, force=force, dry_run=dry_run, backup_id=backup_id)
