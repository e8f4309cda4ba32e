"""``trash``: what this package deleted, from the journal, and ``restore_from_trash``.

Every ``remove`` and ``remove_namespace`` journals a backup first (``backup.write_backup``:
the manifests' exact bytes and the tags that pointed at them). ``trash()`` lists those
backups one row per deleted image (repository and digest) with its tags, when, and whether
it can still be restored: the registry still has every blob the manifest needs (until its
garbage collection runs) and the registry answers. ``restore_from_trash(ref)`` puts one row
back, by tag (``reg/repo:tag``) or digest (``reg/repo@sha256:...``), through
``backup.restore`` on a backup narrowed to that row, so a tag that now points elsewhere is
not moved without ``force=True``.

Similar to a desktop's trash: nothing here deletes; restoring needs the blobs, which a
registry keeps until garbage collection.

Imports ``errors``, ``manifest``, ``reference`` and the sibling ``backup``, ``clients``,
``journal`` and ``result``.
"""

from __future__ import annotations

import base64
from typing import Any

import pandas as pd

from ... import paths
from ...errors import NotFound, RegistryError
from ...manifest import Manifest
from ...reference import Reference, parse_reference, validate_registry
from ..core import journal
from ..core.backup import BACKUP_ACTION, restore
from ..core.clients import client_for
from ..core.result import Result

COLUMNS = ["reference", "registry", "repository", "digest", "tags", "deleted_at", "restorable",
           "live", "why", "backup_id"]


def _entries(registry: str | None) -> list[dict[str, Any]]:
    """One entry per (backup, repository, manifest digest), newest backup first."""
    wanted = validate_registry(registry) if registry else None
    rows = []
    for record in journal.read():
        if record.get("action") != BACKUP_ACTION:
            continue
        if wanted and not journal.on_registry(record, wanted):
            continue
        for repo in record.get("repositories") or []:
            tags_by_digest: dict[str, list[str]] = {}
            for pair in repo.get("tags") or []:
                tags_by_digest.setdefault(pair["digest"], []).append(pair["tag"])
            for stored in repo.get("manifests") or []:
                rows.append({"record": record, "repository": repo["repository"],
                             "stored": stored, "tags": tags_by_digest.get(stored["digest"], [])})
    rows.sort(key=lambda r: r["record"].get("started") or 0, reverse=True)
    return rows


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
    rows = []
    for entry in _entries(registry):
        record, stored = entry["record"], entry["stored"]
        restorable, live, why = _state(entry) if check else (None, None, "")
        rows.append({
            "reference": str(Reference(record["registry"], entry["repository"], None,
                                       stored["digest"])),
            "registry": record["registry"], "repository": entry["repository"],
            "digest": stored["digest"], "tags": list(entry["tags"]),
            "deleted_at": pd.to_datetime(record.get("started"), unit="s", utc=True),
            "restorable": restorable, "live": live, "why": why, "backup_id": record["id"]})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["deleted_at"] = pd.to_datetime(frame["deleted_at"], utc=True)
    return frame


def restore_from_trash(ref: str | Reference, *, force: bool = False,
                       dry_run: bool = False, backup_id: str | None = None) -> Result:
    """Put one deleted image back: ``reg/repo:tag`` restores that tag (and the manifest it
    pointed at), ``reg/repo@sha256:...`` the manifest and every tag removed with it.

    The newest backup holding it is used (or ``backup_id``). A tag that now points at
    another digest is not moved unless ``force=True`` (Protected, nothing changed). Raises
    NotFound when the journal has no such deletion, or when the registry no longer has the
    blobs (its garbage collection ran).
    """
    ref = parse_reference(ref)
    for entry in _entries(ref.registry):
        if entry["repository"] != ref.repository:
            continue
        if backup_id and entry["record"]["id"] != backup_id:
            continue
        digest = entry["stored"]["digest"]
        if ref.digest and ref.digest != digest:
            continue
        if ref.digest is None and ref.tag not in entry["tags"]:
            continue
        tags = entry["tags"] if ref.digest else [ref.tag]
        return restore(_narrowed(entry, tags), force=force, dry_run=dry_run)
    raise NotFound(f"{ref} is not in the trash: the journal {paths.journal_file()} has no "
                   "deletion of it by this package. trash() lists what can be restored",
                   registry=ref.registry, reference=str(ref))


def _narrowed(entry: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    """The backup record cut down to one manifest (and, for an index, the platforms stored
    with it) and ``tags``: what ``restore`` should put back, nothing more."""
    record, stored = entry["record"], entry["stored"]
    repository = entry["repository"]
    manifest = Manifest(data=base64.b64decode(stored["data"]), media_type=stored["media_type"])
    wanted = {stored["digest"]} | {c.digest for c in manifest.children}
    repo = next(r for r in record["repositories"] if r["repository"] == repository)
    return {**record, "target": str(Reference(record["registry"], repository, None,
                                                stored["digest"])),
            "repositories": [{
                "repository": repository,
                "manifests": [m for m in repo["manifests"] if m["digest"] in wanted],
                "tags": [{"tag": t, "digest": stored["digest"]} for t in tags]}]}
