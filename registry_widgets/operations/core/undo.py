"""``restore``: the change engine applying the inverse of a backup.

A backup (``backup.write_backup``) holds manifests' exact bytes and the tags that pointed
at them. Restoring is a plan like any other: put each missing manifest back by digest
(platforms before the indexes listing them), then point each tag back; the engine re-reads,
backs up what it would replace, applies, verifies and journals. What to restore:

- a Result (of remove, retention, prune, remove_namespace, a copy over a tag), its backup
  id, or its journal record: the whole backup;
- a reference, as IBM's ``ibmcloud cr image-restore``: ``reg/ns/repo:tag`` or
  ``reg/ns/repo@sha256:...``: the newest backup in the journal that holds that tag (or that
  digest) in that repository of that registry, narrowed to that one image (its platforms,
  its tags, and for a digest its signature and attestation tags); nothing else.

A tag that moved since the backup is not moved back without ``force=True`` (Protected,
nothing changed). Restoring what is already there is a no-op that says so. A damaged
journal line is named (file, line number, what is wrong) rather than skipped in silence.

Imports ``errors``, ``manifest``, ``paths``, ``progress``, ``reference`` and the core's
``arguments``, ``backup``, ``changes``, ``clients``, ``journal`` and ``result``.
"""

from __future__ import annotations

from typing import Any

from ... import paths
from ...errors import BadBackup, JournalError, NotFound, Protected, RegistryError
from ...manifest import Manifest
from ...progress import ProgressCallback
from ...reference import Reference, accessory_tags, parse_reference
from ...registry import RegistryClient
from . import changes, journal
from .arguments import check_bool
from .backup import BACKUP_ACTION, checked_entries
from .clients import client_for
from .result import Result

Entry = dict[str, Any]


def restore(what: Any, *, force: bool = False, dry_run: bool = False,
            progress: ProgressCallback | None = None, backup_id: str | None = None) -> Result:
    """Put back what a backup holds: pass a Result, a backup id or a journal record (the
    whole backup), or a reference ``reg/ns/repo:tag`` / ``reg/ns/repo@sha256:...`` (that one
    image, from the newest backup holding it; ``backup_id`` picks another backup).

    Manifests go back children first, then tags. Works while the registry still has the
    blobs (until its garbage collection; NotFound says so otherwise). A tag that now points
    at another digest (pushed since; for a copy, other than the digest it copied) is not
    moved unless ``force=True``: Protected is raised first and nothing is changed. When
    everything is back already, ``changed`` is False and ``details["already_restored"]``.
    """
    check_bool("force", force)
    check_bool("dry_run", dry_run)
    if isinstance(what, Reference) or (isinstance(what, str) and "/" in what):
        record, entries = by_reference(parse_reference(what), backup_id=backup_id)
    else:
        record, line = locate(what)
        entries = checked_entries(record, line)
    return _restore(record, entries, force=force, dry_run=dry_run, progress=progress)


def _damaged_note(damaged: list[tuple[int, str]]) -> str:
    if not damaged:
        return ""
    listed = "; ".join(f"{journal.where(n)}: {why}" for n, why in damaged[:5])
    return f". The journal has damaged lines that may have held it: {listed}"


def locate(what: Any) -> tuple[dict[str, Any], int | None]:
    """The backup record of a Result, a journal record or a backup id, with its journal
    line number (None for a record passed in). A Result (or record) whose write was made by
    another program (a push) says what digest it wrote: the backup learns it, so a tag still
    on that digest counts as not moved since."""
    record, line = _locate(what)
    written = ((what.to_dict() if isinstance(what, Result) else what).get("details") or {}
               ).get("written") if isinstance(what, (Result, dict)) else None
    if not isinstance(written, dict) or not written:
        return record, line
    patched = {**record, "repositories": [_learn(repo, written)
                                          for repo in record.get("repositories", [])]}
    return patched, line


def _learn(repo: dict[str, Any], written: dict[str, str]) -> dict[str, Any]:
    """``repo`` of a backup, each tag that a write moved knowing the digest it moved to."""
    tags = []
    for tag in repo.get("tags", []):
        key = f"{repo.get('repository')}:{tag.get('tag')}" if isinstance(tag, dict) else ""
        if key in written and not tag.get("replaced_by"):
            tag = {**tag, "replaced_by": written[key]}
        tags.append(tag)
    return {**repo, "tags": tags}


def _locate(what: Any) -> tuple[dict[str, Any], int | None]:
    if isinstance(what, Result):
        what = what.to_dict()
    if isinstance(what, dict):
        if what.get("action") == BACKUP_ACTION:
            return what, None
        several = (what.get("details") or {}).get("backup_ids")
        if isinstance(several, list) and several:
            # A sync backs up each tag it replaces as that copy replaces it: one undo for all.
            parts = [locate(str(one))[0] for one in several]
            return {"action": BACKUP_ACTION, "id": ",".join(p["id"] for p in parts),
                    "registry": parts[0]["registry"], "target": what.get("target"),
                    "repositories": [repo for p in parts for repo in p["repositories"]]}, None
        backup_id = (what.get("details") or {}).get("backup_id")
        if not backup_id:
            raise BadBackup(
                f"this {what.get('action') or 'journal'} record has no backup: only an applied "
                "remove, retention, prune or copy over a tag has one. Nothing was changed; pass "
                "that Result, its backup id, or its journal record",
                reference=what.get("target"))
    elif isinstance(what, str) and what.strip():
        backup_id = what.strip()
    else:
        raise TypeError(f"restore takes a Result, a backup id, a journal record or a reference "
                        f"such as registry/namespace/repository:tag, not {what!r}; nothing was "
                        "changed")
    damaged = []
    for number, record, text in journal.lines():
        if record is None:
            if backup_id in text:
                raise JournalError(f"backup {backup_id} is on a damaged line of the journal, "
                                   f"{journal.where(number)}: {journal.damage(text)}; nothing "
                                   "was restored", reference=backup_id)
            if BACKUP_ACTION in text:
                damaged.append((number, journal.damage(text)))
        elif record.get("action") == BACKUP_ACTION and record.get("id") == backup_id:
            return record, number
    raise NotFound(f"no backup {backup_id!r} in the journal {paths.journal_file()}"
                   + _damaged_note(damaged), reference=str(backup_id))


def by_reference(ref: Reference, *, backup_id: str | None = None
                 ) -> tuple[dict[str, Any], list[Entry]]:
    """The newest backup holding ``ref`` (a tag, or a digest: the digest must match the
    manifest's own), narrowed to that image."""
    found: tuple[dict[str, Any], Entry, Manifest] | None = None
    damaged: list[tuple[int, str]] = []
    for number, record, text in journal.lines():
        if record is None:  # a torn backup of this registry may have held it
            if BACKUP_ACTION in text and ref.registry in text:
                damaged.append((number, journal.damage(text)))
            continue
        # however the registry was spelled when it was removed (localhost:5000 is 127.0.0.1:5000)
        if record.get("action") != BACKUP_ACTION or not journal.on_registry(record, ref.registry):
            continue
        if backup_id and record.get("id") != backup_id:
            continue
        try:
            entries = checked_entries(record, number)
        except (JournalError, RegistryError) as e:
            if ref.repository in str(record.get("repositories")):
                damaged.append((number, str(e)))
            continue
        for entry in entries:
            if entry["repository"] != ref.repository:
                continue
            for manifest in entry["manifests"]:
                if ref.digest is not None:
                    hit = manifest.digest == ref.digest
                else:
                    hit = (ref.tag, manifest.digest) in entry["tags"]
                if hit:
                    found = (record, entry, manifest)  # the journal is oldest first
    if found is None:
        raise NotFound(f"{ref} is not in the trash: the journal {paths.journal_file()} has no "
                       "backup of it by this package. trash() lists what can be restored"
                       + _damaged_note(damaged), registry=ref.registry, reference=str(ref))
    record, entry, manifest = found
    return {**record, "target": str(ref)}, [_narrowed(entry, manifest, ref)]


def _narrowed(entry: Entry, manifest: Manifest, ref: Reference) -> Entry:
    """One image of a backup's repository: the manifest, the platforms stored with it, and
    the tag asked for (a tag) or every tag and accessory tag it had (a digest)."""
    by_digest = {m.digest: m for m in entry["manifests"]}
    wanted = [manifest.digest]
    for digest in wanted:  # platforms of an index, to any depth, as stored
        m = by_digest.get(digest)
        wanted += [c.digest for c in (m.children if m else []) if c.digest not in wanted]
    if ref.digest is None:
        tags = [(ref.tag, manifest.digest)]
    else:
        tags = [(t, d) for t, d in entry["tags"] if d == manifest.digest]
        accessories = [(t, d) for t, d in entry["tags"] if t in accessory_tags(manifest.digest)]
        tags += accessories
        wanted += [d for _, d in accessories if d not in wanted]
    return {"repository": entry["repository"], "tags": tags,
            "manifests": [by_digest[d] for d in wanted if d in by_digest],
            "expected": {t: d for t, d in entry["expected"].items()
                         if any(t == k for k, _ in tags)}}


def _current_tags(client: RegistryClient, repository: str) -> dict[str, str]:
    try:
        names = list(client.tags(repository))
    except NotFound:
        return {}
    heads = {t: client.head_manifest(repository, t) for t in names}
    return {t: h.digest for t, h in heads.items() if h is not None}


def _missing_parts(client: RegistryClient, repository: str, manifest: Manifest,
                   stored: set[str]) -> list[str]:
    missing = [b.digest for b in manifest.blobs if client.head_blob(repository, b.digest) is None]
    missing += [c.digest for c in manifest.children if c.digest not in stored
                and client.head_manifest(repository, c.digest) is None]
    return missing


def _restore(record: dict[str, Any], entries: list[Entry], *, force: bool, dry_run: bool,
             progress: ProgressCallback | None) -> Result:
    registry = record["registry"]
    client = client_for(registry)
    snapshot: dict[str, dict[str, str]] = {}
    change_list: list[changes.Change] = []
    moved: list[str] = []
    details: dict[str, Any] = {"registry": registry, "manifests": [], "tags": []}
    for entry in entries:
        repository = entry["repository"]
        now = snapshot.setdefault(repository, _current_tags(client, repository))
        by_digest = {m.digest: m for m in entry["manifests"]}
        for tag, digest in entry["tags"]:
            there = now.get(tag)
            if there is not None and there not in (digest, entry["expected"].get(tag)):
                moved.append(f"{repository}:{tag} (now {there})")
        for manifest in entry["manifests"]:
            details["manifests"].append(f"{repository}@{manifest.digest}")
            if client.head_manifest(repository, manifest.digest) is not None:
                continue
            missing = _missing_parts(client, repository, manifest, set(by_digest))
            if missing:
                raise NotFound(f"cannot restore {registry}/{repository}@{manifest.digest}: the "
                               f"registry no longer has what it needs ({len(missing)} blob(s) "
                               f"or platform(s) gone, e.g. {missing[0]}); its garbage collection "
                               "has probably run since. Nothing was changed", registry=registry,
                               reference=f"{repository}@{manifest.digest}")
            change_list.append(changes.Change(repository, manifest.digest, None, manifest.digest,
                                              reason="put back", manifest=manifest))
        for tag, digest in entry["tags"]:
            details["tags"].append(f"{repository}:{tag}")
            if now.get(tag) != digest:
                change_list.append(changes.Change(repository, tag, now.get(tag), digest,
                                                  reason="tag put back",
                                                  manifest=by_digest[digest]))
    details["tags_moved_since"] = moved
    target = record.get("target")
    if moved and not force:
        raise Protected(f"restoring would move tags pushed since the backup: "
                        f"{', '.join(moved)}. Nothing was changed; pass force=True to "
                        "move them back", registry=registry, reference=target)
    plan = changes.Plan(action="restore", registry=registry, target=str(target or registry),
                        changes=changes.unique(change_list), snapshot=snapshot, force=force)
    details["restores_backup_id"] = record["id"]
    if not plan.changes:
        details.update(already_restored=True, backup_id=record["id"],
                       note="already restored: everything in the backup is there; nothing "
                            "to do")
        return Result(action="restore", target=target, changed=False, dry_run=dry_run,
                      details=details)
    if dry_run:
        result = changes.preview(plan)
    else:
        result = changes.apply(plan, progress=progress)
    engine = result.details
    result.details = {**engine, **details, "undo_backup_id": engine.get("backup_id"),
                      "backup_id": record["id"]}
    return result
