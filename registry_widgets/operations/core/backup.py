"""Backups before deletes, and ``restore``: the undo of ``remove``.

Before anything is deleted, ``remove`` journals the manifests' exact bytes and the
tag -> digest map (action ``remove-backup``). ``restore`` puts them back, children before
their index, as long as the registry still has the blobs (until its garbage collection).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from typing import Any, Sequence

from ... import paths
from ...errors import BadBackup, JournalError, NotFound, Protected, RegistryError
from ...manifest import Manifest
from ...progress import ProgressCallback, ProgressEvent, emit
from ...registry import RegistryClient
from . import journal
from .arguments import check_bool
from .clients import client_for
from .result import Result, Timer

BACKUP_ACTION = "remove-backup"

# (tag, digest) pairs, or (tag, digest, the digest a put moves the tag to) triples
RepositoryBackup = tuple[str, Sequence[Manifest], Sequence[tuple[str, ...]]]


def write_backup(registry: str, target: str, repositories: Sequence[RepositoryBackup], *,
                 replaced_by: str | None = None, undone: str = "nothing was deleted") -> str:
    """Journal the exact manifest bytes and the tags, before anything is deleted or moved.

    The record is on disk (fsync) and read back before this returns; otherwise JournalError
    is raised, ending with ``undone`` (what the caller therefore did not do). ``replaced_by``:
    the digest the tags are about to point at (a copy over them), so :func:`restore` knows
    that tags pointing there have not moved since.
    """
    backup_id = uuid.uuid4().hex
    record = {
        "action": BACKUP_ACTION, "id": backup_id, "registry": registry, "target": target,
        "started": time.time(),
        "repositories": [{
            "repository": repository,
            "manifests": [{"digest": m.digest, "media_type": m.media_type,
                           "data": base64.b64encode(m.data).decode("ascii")} for m in manifests],
            # A list of pairs, not a dict: a tag may be called "token" or "auth".
            "tags": [{"tag": tag[0], "digest": tag[1]} | _replaced_by(tag, replaced_by)
                     for tag in tags],
        } for repository, manifests, tags in repositories],
    }
    start = journal.size()
    try:
        journal.append(record, durable=True)
    except OSError as e:
        raise JournalError(f"cannot write the backup of {target} to the journal "
                           f"{paths.journal_file()} ({e.strerror or e}), so there would be no "
                           f"undo: {undone}. Fix the state folder (${paths.STATE_ENV}) and "
                           "run it again", registry=registry, reference=target) from e
    stored = journal.check_readable(
        lambda r: r.get("action") == BACKUP_ACTION and r.get("id") == backup_id,
        f"{undone}. Fix the state folder (${paths.STATE_ENV}) and run it again",
        start=start)
    if stored != json.loads(json.dumps(record)):
        raise JournalError(f"the backup of {target} read back from {paths.journal_file()} "
                           f"differs from what was written: {undone}", registry=registry,
                           reference=target)
    return backup_id


def _replaced_by(tag: Sequence[str | None], default: str | None) -> dict[str, str]:
    after = tag[2] if len(tag) > 2 else default
    return {"replaced_by": after} if isinstance(after, str) and after.startswith("sha256:") \
        else {}


def find_backup(record: str | Result | dict[str, Any]) -> dict[str, Any]:
    if isinstance(record, Result):
        record = record.to_dict()
    if isinstance(record, dict):
        if record.get("action") == BACKUP_ACTION:
            return record
        several = (record.get("details") or {}).get("backup_ids")
        if isinstance(several, list) and several:
            # A sync backs up each tag it replaces as that copy replaces it: one undo for all.
            parts = [find_backup(str(one)) for one in several]
            return {"action": BACKUP_ACTION, "id": ",".join(p["id"] for p in parts),
                    "registry": parts[0]["registry"], "target": record.get("target"),
                    "repositories": [repo for p in parts for repo in p["repositories"]]}
        backup_id = (record.get("details") or {}).get("backup_id")
        if not backup_id:
            raise BadBackup(f"this {record.get('action') or 'journal'} record has no backup: only "
                            "an applied remove, or a copy that replaced a tag, has one. Nothing "
                            "was changed; pass that Result, its backup id, or its journal record",
                            reference=record.get("target"))
    else:
        backup_id = record
    for entry in journal.read():
        if entry.get("action") == BACKUP_ACTION and entry.get("id") == backup_id:
            return entry
    raise NotFound(f"no backup {backup_id!r} in the journal {paths.journal_file()}",
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
    """Undo a remove, or a copy over a tag: put the backed-up manifests back (children
    first), then their tags.

    Pass the backup id, the remove's (or copy's) Result, or a journal record. Works while the
    registry still has the blobs, i.e. until its garbage collection runs. A tag that now
    points at another digest (someone pushed since; for a copy, other than the digest it
    copied) is not moved unless ``force=True``: Protected is raised first and nothing is
    changed.
    """
    check_bool("force", force)
    check_bool("dry_run", dry_run)
    backup = find_backup(journal_record_or_id)
    registry = backup["registry"]
    client = client_for(registry)
    result = Result(action="restore", target=backup.get("target"), details={
        "backup_id": backup["id"], "registry": registry, "manifests": [], "tags": []})
    with Timer() as timer:
        repos = []
        for repo in _entries(backup):
            manifests, tags, expected = repo["manifests"], repo["tags"], repo["expected"]
            by_digest = {m.digest: m for m in manifests}
            moved = []
            for tag, digest in tags:
                head = client.head_manifest(repo["repository"], tag)
                if head is not None and head.digest not in (digest, expected.get(tag)):
                    moved.append(f"{repo['repository']}:{tag} (now {head.digest})")
            repos.append((repo["repository"], children_first(manifests), tags, by_digest, moved))
        moved = [m for r in repos for m in r[4]]
        result.details["tags_moved_since"] = moved
        if moved and not force:
            raise Protected(f"restoring would move tags pushed since the backup: "
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
        journal.record(result)
    return result


def _entries(backup: dict[str, Any]) -> list[dict[str, Any]]:
    """The backup's repositories as manifests and tags, checked: a damaged record (edited,
    or from another program) is one clear error before anything is put back."""
    name = backup.get("id", "?")
    try:
        out = []
        for repo in backup["repositories"]:
            manifests = [Manifest(data=base64.b64decode(m["data"], validate=True),
                                  media_type=m["media_type"]) for m in repo["manifests"]]
            for m, stored in zip(manifests, repo["manifests"]):
                if m.digest != stored["digest"]:
                    raise BadBackup(f"backup {name} is corrupt: {stored['digest']} decodes to "
                                    f"{m.digest}; nothing was restored",
                                    registry=backup.get("registry"), reference=stored["digest"])
            present = {m.digest for m in manifests}
            tags = [(t["tag"], t["digest"]) for t in repo["tags"]]
            for tag, digest in tags:
                if digest not in present:
                    raise BadBackup(f"backup {name} is corrupt: tag {tag} points at {digest}, "
                                    "which it does not hold; nothing was restored",
                                    registry=backup.get("registry"), reference=digest)
            out.append({"repository": repo["repository"], "manifests": manifests, "tags": tags,
                        # older records have no "replaced_by"
                        "expected": {t["tag"]: t["replaced_by"] for t in repo["tags"]
                                     if t.get("replaced_by")}})
        return out
    except (KeyError, TypeError, binascii.Error) as e:
        raise JournalError(f"backup {name} in the journal {paths.journal_file()} is damaged "
                           f"({type(e).__name__}: {e}); nothing was restored",
                           registry=backup.get("registry"),
                           reference=backup.get("target")) from None


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
