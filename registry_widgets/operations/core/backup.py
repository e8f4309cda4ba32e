"""Backups before deletes: the manifests' exact bytes and the tags, in the journal.

Before anything is deleted or replaced, the change engine (and a copy over a tag) journals
the manifests' exact bytes and the tag -> digest map (action ``remove-backup``).
``restore`` (:mod:`.undo`) puts them back through the engine, as long as the registry
still has the blobs (until its garbage collection). Imports ``errors``, ``manifest``,
``paths``, ``progress`` and the core's ``journal`` and ``result``.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from typing import Any, Sequence

from ... import paths
from ...errors import BadBackup, JournalError
from ...manifest import Manifest
from ...progress import ProgressCallback
from . import journal
from .result import Result

BACKUP_ACTION = "remove-backup"

# (repository, manifests, tags): a tag is (tag, digest) or (tag, digest, the digest it is
# about to point at), so restore knows a tag still there has not moved since.
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


def restore(what: Any, *, force: bool = False, dry_run: bool = False,
            progress: ProgressCallback | None = None) -> Result:
    """Undo a remove, a retention or prune run, a namespace removal, or a copy over a tag;
    or bring back one deleted image by reference. See :func:`.undo.restore`."""
    # Imported here: the change engine that restore applies through imports this module.
    from .undo import restore as run
    return run(what, force=force, dry_run=dry_run, progress=progress)


def checked_entries(backup: dict[str, Any], line: int | None = None) -> list[dict[str, Any]]:
    """The backup's repositories as manifests and tags, checked: a damaged record (edited,
    or from another program) is one clear error, naming its journal line, before anything is
    put back."""
    name = backup.get("id", "?")
    where = f" ({journal.where(line)})" if line else ""
    try:
        out = []
        for repo in backup["repositories"]:
            manifests = [Manifest(data=base64.b64decode(m["data"], validate=True),
                                  media_type=m["media_type"]) for m in repo["manifests"]]
            for m, stored in zip(manifests, repo["manifests"]):
                if m.digest != stored["digest"]:
                    raise BadBackup(f"backup {name}{where} is corrupt: {stored['digest']} "
                                    f"decodes to {m.digest}; nothing was restored",
                                    registry=backup.get("registry"), reference=stored["digest"])
            present = {m.digest for m in manifests}
            tags = [(t["tag"], t["digest"]) for t in repo["tags"]]
            for tag, digest in tags:
                if digest not in present:
                    raise BadBackup(f"backup {name}{where} is corrupt: tag {tag} points at "
                                    f"{digest}, which it does not hold; nothing was restored",
                                    registry=backup.get("registry"), reference=digest)
            out.append({"repository": repo["repository"], "manifests": manifests, "tags": tags,
                        # older records have no "replaced_by"
                        "expected": {t["tag"]: t["replaced_by"] for t in repo["tags"]
                                     if t.get("replaced_by")}})
        return out
    except (KeyError, TypeError, ValueError, binascii.Error) as e:
        place = where or f" in the journal {paths.journal_file()}"
        raise JournalError(f"backup {name}{place} is damaged ({type(e).__name__}: {e}); nothing was restored",
                           registry=backup.get("registry"),
                           reference=backup.get("target")) from None
