"""Backups before deletes, and ``restore``: the undo of ``remove``.

Before anything is deleted, ``remove`` journals the manifests' exact bytes and the
tag -> digest map (action ``remove-backup``). ``restore`` puts them back, children before
their index, as long as the registry still has the blobs (until its garbage collection).
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from typing import Any, Sequence

from ..errors import BadBackup, NotFound, Protected, RegistryError
from ..manifest import Manifest
from ..progress import ProgressCallback, ProgressEvent, emit
from ..registry import RegistryClient
from . import journal
from .clients import client_for
from .result import Result, Timer

BACKUP_ACTION = "remove-backup"

RepositoryBackup = tuple[str, Sequence[Manifest], Sequence[tuple[str, str]]]


def write_backup(registry: str, target: str, repositories: Sequence[RepositoryBackup]) -> str:
    """Journal the exact manifest bytes and the tags, before anything is deleted."""
    backup_id = uuid.uuid4().hex
    journal.append({
        "action": BACKUP_ACTION, "id": backup_id, "registry": registry, "target": target,
        "started": time.time(),
        "repositories": [{
            "repository": repository,
            "manifests": [{"digest": m.digest, "media_type": m.media_type,
                           "data": base64.b64encode(m.data).decode("ascii")} for m in manifests],
            # A list of pairs, not a dict: a tag may be called "token" or "auth".
            "tags": [{"tag": tag, "digest": digest} for tag, digest in tags],
        } for repository, manifests, tags in repositories],
    })
    return backup_id


def find_backup(record: str | Result | dict[str, Any]) -> dict[str, Any]:
    if isinstance(record, Result):
        record = record.to_dict()
    if isinstance(record, dict):
        if record.get("action") == BACKUP_ACTION:
            return record
        backup_id = (record.get("details") or {}).get("backup_id")
        if not backup_id:
            raise BadBackup(f"this {record.get('action') or 'journal'} record has no backup: only "
                            "an applied remove has one. Nothing was changed; pass the remove's "
                            "Result, its backup id, or its journal record",
                            reference=record.get("target"))
    else:
        backup_id = record
    for entry in journal.read():
        if entry.get("action") == BACKUP_ACTION and entry.get("id") == backup_id:
            return entry
    raise NotFound(f"no remove backup {backup_id!r} in the journal {journal.journal_path()}",
                   reference=str(backup_id))


def children_first(manifests: list[Manifest]) -> list[Manifest]:
    present = {m.digest for m in manifests}
    ordered: list[Manifest] = []
    done: set[str] = set()
    pending = list(manifests)
    while pending:
        ready = [m for m in pending
                 if all(c.digest in done or c.digest not in present for c in m.children)]
        ready = ready or pending  # a cycle cannot happen with digests; never loop forever
        for m in ready:
            ordered.append(m)
            done.add(m.digest)
        pending = [m for m in pending if m.digest not in done]
    return ordered


def restore(journal_record_or_id: str | Result | dict[str, Any], *, force: bool = False,
            dry_run: bool = False, progress: ProgressCallback | None = None) -> Result:
    """Undo a remove: put the backed-up manifests back (children first), then their tags.

    Pass the backup id, the remove's Result, or a journal record. Works while the registry
    still has the blobs, i.e. until its garbage collection runs. A tag that now points at
    another digest (someone pushed since) is not moved unless ``force=True``: Protected is
    raised first and nothing is changed.
    """
    backup = find_backup(journal_record_or_id)
    registry = backup["registry"]
    client = client_for(registry)
    result = Result(action="restore", target=backup.get("target"), details={
        "backup_id": backup["id"], "registry": registry, "manifests": [], "tags": []})
    with Timer() as timer:
        repos = []
        for repo in backup["repositories"]:
            manifests = [_decoded(backup, registry, repo["repository"], m)
                         for m in repo["manifests"]]
            by_digest = {m.digest: m for m in manifests}
            tags = [(t["tag"], t["digest"]) for t in repo["tags"]]
            moved = []
            for tag, digest in tags:
                head = client.head_manifest(repo["repository"], tag)
                if head is not None and head.digest != digest:
                    moved.append(f"{repo['repository']}:{tag} (now {head.digest})")
            repos.append((repo["repository"], children_first(manifests), tags, by_digest, moved))
        moved = [m for r in repos for m in r[4]]
        result.details["tags_moved_since"] = moved
        if moved and not force:
            raise Protected(f"restoring would move tags pushed since the remove: "
                            f"{', '.join(moved)}. Nothing was changed; pass force=True to "
                            "move them back", registry=registry, reference=backup.get("target"))
        for repository, manifests, tags, by_digest, _ in repos:
            result.details["manifests"] += [f"{repository}@{m.digest}" for m in manifests]
            result.details["tags"] += [f"{repository}:{t}" for t, _ in tags]
            if dry_run:
                continue
            for manifest in manifests:
                _put_back(client, repository, manifest.digest, manifest)
                emit(progress, ProgressEvent("restore", id=manifest.digest, status="restored",
                                             message=f"{repository}@{manifest.digest}"))
            for tag, digest in tags:
                _put_back(client, repository, tag, by_digest[digest])
    result.duration = timer.elapsed
    result.changed, result.dry_run = not dry_run, dry_run
    if not dry_run:
        journal.append(result)
    return result


def _decoded(backup: dict[str, Any], registry: str, repository: str,
             stored: dict[str, Any]) -> Manifest:
    """The backed-up manifest, checked against its digest before anything is sent."""
    problem = None
    try:
        manifest = Manifest(data=base64.b64decode(stored["data"], validate=True),
                            media_type=stored["media_type"])
    except (binascii.Error, ValueError) as e:
        problem = f"its data is not base64 ({e})"
    else:
        if manifest.digest != stored["digest"]:
            problem = f"its bytes have digest {manifest.digest}"
    if problem:
        raise BadBackup(f"backup {backup['id']} is corrupt: the manifest {repository}@"
                        f"{stored['digest']} in it cannot be trusted: {problem}. Nothing was "
                        f"changed; restore from an intact copy of the journal "
                        f"({journal.journal_path()})", registry=registry,
                        reference=f"{repository}@{stored['digest']}")
    return manifest


def _put_back(client: RegistryClient, repository: str, reference: str, manifest: Manifest) -> None:
    try:
        client.put_manifest(repository, reference, manifest)
    except RegistryError as e:
        if e.code in ("MANIFEST_BLOB_UNKNOWN", "BLOB_UNKNOWN", "MANIFEST_UNKNOWN"):
            raise NotFound(f"cannot restore {client.registry}/{repository}@{manifest.digest}: the "
                           f"registry no longer has what it needs ({e}); its garbage collection "
                           "has probably run since the remove", registry=client.registry,
                           reference=f"{repository}@{manifest.digest}", status=e.status,
                           code=e.code) from e
        raise
