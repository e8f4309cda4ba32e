"""``remove``: take a tag or an image out of a registry, safely, plan first.

Layer 3 (a verb): imports ``errors``, ``manifest``, ``progress``, ``reference``, and the
operations' ``clients``, ``journal`` and ``result``; it never builds URLs (the client does).

Facts it relies on (REGISTRY-NOTES.md, "Delete"):

- ``DELETE /v2/<name>/manifests/<digest>`` removes the manifest and so EVERY tag on it (its
  co-tags). That is what removing a *digest* means here, and the plan lists those tags.
- Removing one *tag* must keep its co-tags. Distribution 3 and OCI 1.1 allow
  ``DELETE .../manifests/<tag>``; distribution 2.x does not, and answers it (measured on 2.8.2)
  with ``400 DIGEST_INVALID`` when deletes are enabled (``405 UNSUPPORTED`` when they are not).
  So we try the tag DELETE and, on that answer, fall back to the safe 2.x method: point the tag
  at a tiny unique placeholder manifest, then delete the placeholder by digest. Some registries
  have deleted the whole manifest on a tag DELETE; after one we check the image and its co-tags
  survived and put them back (from the backup) if not, and never try it on that registry again.
- Deletes answer 405 when the registry runs with ``delete: enabled: false`` (distribution's
  default). Before moving any tag we probe with a DELETE of a digest that cannot exist
  (405: disabled, 404: enabled), so a tag is never left on the placeholder.
- Storage is only freed by the registry's offline garbage collection.

Before anything is deleted, the manifests' exact bytes and the tag -> digest map go to the
journal (action ``remove-backup``), so :func:`restore` can put them back as long as the
registry still has the blobs (until garbage collection runs).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Literal, Sequence, TypeVar

from ..errors import (ConfirmationRequired, DeleteDisabled, NotFound, Protected, RegistryError)
from ..manifest import OCI_MANIFEST, Manifest, digest_of
from ..progress import ProgressCallback, ProgressEvent, emit
from ..reference import Reference, parse_reference, validate_repository
from ..registry import RegistryClient
from . import journal
from .clients import client_for
from .result import Result, Timer

log = logging.getLogger("registry_widgets.remove")

HEAD_WORKERS = 8  # concurrent HEAD/GET requests while reading a repository
BACKUP_ACTION = "remove-backup"
PLACEHOLDER_LABEL = "io.github.registry-widgets.placeholder"
# Answers to DELETE .../manifests/<tag> that mean "no tag delete here" once the probe has shown
# deletes are enabled: distribution 2.x says 400 DIGEST_INVALID; others 404, 405 or 501.
_NO_TAG_DELETE = frozenset({400, 404, 405, 501})

# What each registry answered to a tag DELETE, so a 2.x registry is not asked again and a
# registry that deleted more than the tag is never asked again. Only a hint: the placeholder
# method is safe on every registry.
_tag_delete_supported: dict[str, bool] = {}
_memo_lock = threading.Lock()

T = TypeVar("T")
R = TypeVar("R")


# -- plans ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexRef:
    """A multi-arch index (or manifest list) of the repository, with its tags."""

    digest: str
    tags: tuple[str, ...] = ()

    def __str__(self) -> str:
        tags = f" (tags: {', '.join(self.tags)})" if self.tags else " (untagged)"
        return f"{self.digest}{tags}"


@dataclass(frozen=True)
class RemovalPlan:
    """What :func:`remove` would do; pure data, built by :func:`plan_remove`.

    ``kind`` is ``"tag"`` (only that tag goes; ``co_tags_kept`` are the other tags on the same
    digest, which survive) or ``"digest"`` (the manifest goes, and with it every tag in
    ``tags_removed``).

    ``blocked_by`` lists the multi-arch indexes of the repository that reference the digest as
    a platform: deleting it would break them, so :func:`remove` refuses unless ``force``. Only
    a digest delete is ever blocked. Removing a tag, even the last tag of an index's platform
    manifest, never deletes a manifest: the index keeps resolving, exactly as it does for
    platforms pushed by digest only (the usual case). Those indexes are still listed, in
    ``referenced_by``. Indexes are found through the repository's tags: distribution offers no
    way to list untagged manifests, so an untagged index that is not itself a platform of a
    tagged index cannot be seen.

    ``bytes_freed_estimate`` is the size of the manifest plus the blobs that no other manifest
    of the repository (that we can see) references. Nothing is freed when the delete returns:
    storage is only reclaimed by the registry's garbage collection (distribution:
    ``registry garbage-collect``, run by its operator, registry stopped or read-only), and only
    for blobs no other repository links too, so it is an upper bound. For a tag it is 0 while
    co-tags or an index keep the image; for a last tag, the image becomes untagged and only
    ``garbage-collect --delete-untagged`` reclaims it. Deleting an index frees only the index:
    its platform manifests stay in the repository.
    """

    registry: str
    repository: str
    kind: Literal["tag", "digest"]
    digest: str
    tags_removed: tuple[str, ...]
    co_tags_kept: tuple[str, ...]
    method: Literal["tag-delete", "placeholder", "manifest-delete"]
    blocked_by: tuple[IndexRef, ...]
    bytes_freed_estimate: int
    tag: str | None = None
    media_type: str = ""
    referenced_by: tuple[IndexRef, ...] = ()
    force: bool = False

    @property
    def target(self) -> str:
        """The reference being removed, as a string."""
        return str(Reference(self.registry, self.repository, self.tag,
                             None if self.kind == "tag" else self.digest))

    @property
    def allowed(self) -> bool:
        """False when an index would break and ``force`` was not given."""
        return self.force or not self.blocked_by

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """The plan for a person: what goes, what stays, how, and what would block it."""
        repo = f"{self.registry}/{self.repository}"
        kind = self.media_type or "manifest"
        lines = []
        if self.kind == "tag":
            lines.append(f"Remove tag {repo}:{self.tag}")
            lines.append(f"  digest:   {self.digest} ({kind})")
            lines.append(f"  removes:  tag {self.tag} only")
            kept = (f"tags {', '.join(self.co_tags_kept)} (same digest), "
                    if self.co_tags_kept else "")
            lines.append(f"  keeps:    {kept}the image itself (still pullable by digest)")
            if self.method == "tag-delete":
                lines.append("  method:   DELETE of the tag where the registry supports it "
                             "(distribution 3, OCI 1.1); otherwise point it at a tiny unique "
                             "placeholder manifest and delete that by digest")
            else:
                lines.append(f"  method:   point {self.tag} at a tiny unique placeholder manifest, "
                             "then delete the placeholder by digest (this registry has no tag "
                             "DELETE)")
            for index in self.referenced_by:
                lines.append(f"  note:     platform of index {index}, which keeps working")
        else:
            lines.append(f"Delete image {repo}@{self.digest}")
            lines.append(f"  type:     {kind}")
            if self.tags_removed:
                lines.append(f"  removes:  the manifest and every tag on it: "
                             f"{', '.join(self.tags_removed)}")
            else:
                lines.append("  removes:  the manifest (it has no tags)")
            lines.append(f"  method:   DELETE /v2/{self.repository}/manifests/{self.digest}")
            for index in self.blocked_by:
                lines.append(f"  BLOCKED:  a platform of multi-arch index {index}, which would "
                             f"break; {'forced' if self.force else 'refused unless force=True'}")
        lines.append(f"  frees:    up to {_size(self.bytes_freed_estimate)} once the registry's "
                     "garbage collection runs (nothing before)")
        return "\n".join(lines)


@dataclass
class _Inventory:
    """A repository as its tags show it: tag -> digest, and every manifest reachable."""

    tags: dict[str, str]
    manifests: dict[str, Manifest]

    def tags_of(self, digest: str) -> tuple[str, ...]:
        return tuple(sorted(t for t, d in self.tags.items() if d == digest))

    def referrers(self, digest: str) -> tuple[IndexRef, ...]:
        return tuple(IndexRef(d, self.tags_of(d)) for d, m in sorted(self.manifests.items())
                     if d != digest and any(c.digest == digest for c in m.children))

    def bytes_freed(self, digest: str) -> int:
        target = self.manifests.get(digest)
        if target is None:
            return 0
        others = {b.digest for d, m in self.manifests.items() if d != digest for b in m.blobs}
        own = {b.digest: b.size for b in target.blobs if b.digest not in others}
        return target.size + sum(own.values())


def _parallel(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(HEAD_WORKERS, len(items)),
                            thread_name_prefix="remove") as pool:
        return list(pool.map(fn, items))


def _inventory(client: RegistryClient, repository: str, extra: Iterable[str] = ()) -> _Inventory:
    """HEAD every tag (concurrently, bounded), then GET every manifest they reach."""
    try:
        tags = list(client.tags(repository))
    except NotFound:  # a repository that never existed, or lost its last tag
        tags = []
    heads = _parallel(lambda tag: client.head_manifest(repository, tag), tags)
    tag_map = {tag: head.digest for tag, head in zip(tags, heads) if head is not None}

    def get(digest: str) -> Manifest | None:
        try:
            return client.get_manifest(repository, digest)
        except NotFound:
            return None

    manifests: dict[str, Manifest] = {}
    seen: set[str] = set()
    wanted = sorted(set(tag_map.values()) | set(extra))
    while wanted:  # tagged manifests, then the children of indexes, level by level
        seen.update(wanted)
        children: set[str] = set()
        for digest, manifest in zip(wanted, _parallel(get, wanted)):
            if manifest is not None:
                manifests[digest] = manifest
                children.update(c.digest for c in manifest.children)
        wanted = sorted(children - seen)
    return _Inventory(tag_map, manifests)


def _plan(client: RegistryClient, ref: Reference, force: bool) -> tuple[RemovalPlan, _Inventory]:
    where = f"{ref.registry}/{ref.repository}"
    if ref.tag is not None:
        head = client.head_manifest(ref.repository, ref.tag)
        if head is None:
            raise NotFound(f"tag {where}:{ref.tag} not found on {ref.registry}: nothing to "
                           "remove and nothing was changed; check the tag list",
                           registry=ref.registry, reference=str(ref))
        if ref.digest is not None and head.digest != ref.digest:
            raise ConfirmationRequired(
                f"{where}:{ref.tag} now points at {head.digest}, not {ref.digest} as asked: "
                "nothing was changed; check what the tag holds before removing it",
                registry=ref.registry, reference=str(ref))
        inventory = _inventory(client, ref.repository, [head.digest])
        digest = inventory.tags.get(ref.tag)
        if digest is None:
            raise NotFound(f"tag {where}:{ref.tag} disappeared while it was being read: nothing "
                           "was changed", registry=ref.registry, reference=str(ref))
        co_tags = tuple(t for t in inventory.tags_of(digest) if t != ref.tag)
        referenced_by = inventory.referrers(digest)
        method = "placeholder" if _tag_delete_supported.get(ref.registry) is False else "tag-delete"
        freed = 0 if co_tags or referenced_by else inventory.bytes_freed(digest)
        plan = RemovalPlan(ref.registry, ref.repository, "tag", digest, (ref.tag,), co_tags,
                           method, (), freed, tag=ref.tag, media_type=head.media_type,
                           referenced_by=referenced_by, force=force)
        return plan, inventory
    assert ref.digest is not None
    head = client.head_manifest(ref.repository, ref.digest)
    if head is None:
        raise NotFound(f"image {where}@{ref.digest} not found on {ref.registry}: nothing to "
                       "remove and nothing was changed", registry=ref.registry,
                       reference=str(ref))
    inventory = _inventory(client, ref.repository, [ref.digest])
    referenced_by = inventory.referrers(ref.digest)
    plan = RemovalPlan(ref.registry, ref.repository, "digest", ref.digest,
                       inventory.tags_of(ref.digest), (), "manifest-delete", referenced_by,
                       inventory.bytes_freed(ref.digest), media_type=head.media_type,
                       referenced_by=referenced_by, force=force)
    return plan, inventory


def plan_remove(ref: str | Reference, *, force: bool = False) -> RemovalPlan:
    """What removing ``ref`` would do. Reads the registry (HEAD and GET only); changes nothing.

    ``registry/repo:tag`` removes that tag only; ``registry/repo@sha256:...`` deletes the
    image and every tag on it; ``registry/repo:tag@sha256:...`` removes the tag only if it
    still points at that digest. Raises NotFound if the tag or digest does not exist.
    """
    ref = parse_reference(ref)
    return _plan(client_for(ref.registry), ref, force)[0]


def _key(plan: RemovalPlan) -> tuple[Any, ...]:
    return (plan.registry, plan.repository, plan.kind, plan.tag, plan.digest,
            tuple(sorted(plan.tags_removed)), tuple(sorted(i.digest for i in plan.blocked_by)))


def _check_drift(approved: RemovalPlan, current: RemovalPlan) -> None:
    if (approved.registry, approved.repository, approved.kind, approved.tag) != \
            (current.registry, current.repository, current.kind, current.tag):
        raise ValueError(f"the plan is for {approved.target}, not {current.target}")
    if _key(approved) == _key(current):
        return
    changes = []
    if approved.digest != current.digest:
        changes.append(f"the tag now points at {current.digest}, the plan had {approved.digest}")
    if sorted(approved.tags_removed) != sorted(current.tags_removed):
        changes.append(f"it would now remove tags {', '.join(current.tags_removed) or 'none'}, "
                       f"the plan had {', '.join(approved.tags_removed) or 'none'}")
    if _key(approved)[-1] != _key(current)[-1]:
        changes.append("the indexes that use it changed: "
                       f"{', '.join(map(str, current.blocked_by)) or 'none'} now")
    raise ConfirmationRequired(
        f"the registry changed since the plan for {approved.target} was made: "
        f"{'; '.join(changes)}. Nothing was changed: make a new plan with plan_remove() and "
        "check it", registry=current.registry, reference=current.target)


# -- remove --------------------------------------------------------------------------------


def remove(ref: str | Reference, *, force: bool = False, dry_run: bool = False,
           plan: RemovalPlan | None = None, progress: ProgressCallback | None = None) -> Result:
    """Remove a tag (``repo:tag``: only that tag; its co-tags stay) or delete an image
    (``repo@digest``: the manifest and every tag on it). Similar to ``crane delete`` for a
    digest, and to ``regctl tag delete`` for a tag.

    ``dry_run=True`` returns the plan as the Result and sends no DELETE or PUT. ``plan``: a
    plan from :func:`plan_remove` that the user approved; the registry is read again and if it
    no longer matches (the tag moved, the digest gained tags, an index appeared), nothing is
    done and ConfirmationRequired is raised. Refuses (Protected) to delete a platform of a
    multi-arch index unless ``force=True``. Raises DeleteDisabled (nothing changed) when the
    registry does not allow deletes and NotFound when the tag or digest does not exist.

    ``result.details``: ``tags_removed``, ``co_tags`` (the other tags on that digest: kept for
    a tag, removed with a digest), ``co_tags_kept``, ``method``, ``plan`` (text) and
    ``backup_id`` (for :func:`restore`).
    """
    ref = parse_reference(ref)
    client = client_for(ref.registry)
    force = force or (plan.force if plan is not None else False)
    with Timer() as timer:
        current, inventory = _plan(client, ref, force)
        if plan is not None:
            _check_drift(plan, current)
        result = Result(action="remove", target=current.target, digest=current.digest,
                        details=_details(current))
        if dry_run:
            result.changed, result.dry_run = False, True
        else:
            _apply(client, current, inventory, result, progress)
    result.duration = timer.elapsed
    if not dry_run:
        journal.append(result)
    return result


def _details(plan: RemovalPlan) -> dict[str, Any]:
    co_tags = plan.co_tags_kept if plan.kind == "tag" else plan.tags_removed
    return {"registry": plan.registry, "repository": plan.repository, "kind": plan.kind,
            "tags_removed": list(plan.tags_removed), "co_tags": list(co_tags),
            "co_tags_kept": list(plan.co_tags_kept), "method": plan.method,
            "blocked_by": [str(i) for i in plan.blocked_by],
            "forced": bool(plan.blocked_by) and plan.force,
            "bytes_freed_estimate": plan.bytes_freed_estimate, "plan": plan.describe()}


def _apply(client: RegistryClient, plan: RemovalPlan, inventory: _Inventory, result: Result,
           progress: ProgressCallback | None) -> None:
    if not plan.allowed:
        indexes = "; ".join(str(i) for i in plan.blocked_by)
        raise Protected(f"{plan.target} is a platform of the multi-arch index {indexes} in "
                        f"{plan.registry}/{plan.repository}; deleting it would break that index. "
                        "Nothing was changed. Remove the index first, or pass force=True to "
                        "delete it anyway", registry=plan.registry, reference=plan.target)
    _ensure_deletes_enabled(client, plan.repository, plan.target)
    original = inventory.manifests.get(plan.digest) or client.get_manifest(plan.repository,
                                                                          plan.digest)
    tags = [(t, plan.digest) for t in plan.tags_removed]
    backup_id = _backup(plan.registry, plan.target, [(plan.repository, [original], tags)])
    result.details["backup_id"] = backup_id
    emit(progress, ProgressEvent("remove", id=plan.digest, status="removing", message=plan.target))
    if plan.kind == "digest":
        client.delete_manifest(plan.repository, plan.digest)
        method = "manifest-delete"
    else:
        method = _untag(client, plan, original, backup_id, result)
    result.details["method"] = method
    _verify(client, plan, original)
    emit(progress, ProgressEvent("remove", id=plan.digest, status="removed", message=plan.target))


def _ensure_deletes_enabled(client: RegistryClient, repository: str, target: str) -> None:
    """DELETE a well-formed digest that cannot exist: 404 means deletes are enabled, 405 that
    they are not. Nothing can be deleted by it, and it runs before any tag is moved."""
    probe = digest_of(b"registry-widgets delete probe " + os.urandom(16))
    try:
        client.delete_manifest(repository, probe)
    except NotFound:
        return
    except DeleteDisabled as e:
        raise DeleteDisabled(
            f"{client.registry} does not allow deletes (it answered HTTP 405), so {target} was "
            "not removed: nothing was changed. Its operator must enable them (CNCF "
            "distribution: storage: delete: enabled: true)", registry=client.registry,
            reference=target, status=e.status, code=e.code) from e


def _untag(client: RegistryClient, plan: RemovalPlan, original: Manifest, backup_id: str,
           result: Result) -> str:
    assert plan.tag is not None
    if _tag_delete_supported.get(plan.registry) is not False:
        try:
            client.delete_manifest(plan.repository, plan.tag)
        except RegistryError as e:
            if e.status not in _NO_TAG_DELETE:
                raise
            # distribution 2.x: 400 DIGEST_INVALID ("provided digest did not match").
            result.details["tag_delete_answer"] = f"{e.status} {e.code or ''}".strip()
            _remember(plan.registry, False)
        else:
            if client.head_manifest(plan.repository, plan.tag) is None:
                if _repair(client, plan, original):
                    result.details["repaired"] = ("the registry's tag DELETE removed more than "
                                                  "the tag; the image and its co-tags were put "
                                                  "back")
                    _remember(plan.registry, False)
                else:
                    _remember(plan.registry, True)
                return "tag-delete"
    return _untag_with_placeholder(client, plan, original, backup_id)


def _remember(registry: str, supported: bool) -> None:
    with _memo_lock:
        if _tag_delete_supported.get(registry) is not False:  # "unsafe" is never forgotten
            _tag_delete_supported[registry] = supported


def _repair(client: RegistryClient, plan: RemovalPlan, original: Manifest) -> bool:
    """After a tag DELETE: put back the image and any co-tag that went with it."""
    repaired = False
    if client.head_manifest(plan.repository, plan.digest) is None:
        log.warning("%s: the tag DELETE removed the image %s too; putting it back",
                    plan.registry, plan.digest)
        client.put_manifest(plan.repository, plan.digest, original)
        repaired = True
    for tag in plan.co_tags_kept:
        head = client.head_manifest(plan.repository, tag)
        if head is None or head.digest != plan.digest:
            client.put_manifest(plan.repository, tag, original)
            repaired = True
    return repaired


def _placeholder(client: RegistryClient, repository: str, tag: str) -> Manifest:
    """A tiny manifest no one else can have: a unique config blob and no layers."""
    config = json.dumps({
        "architecture": "none", "os": "none", "rootfs": {"type": "layers", "diff_ids": []},
        "config": {"Labels": {PLACEHOLDER_LABEL: f"removing tag {tag}",
                              f"{PLACEHOLDER_LABEL}.nonce": uuid.uuid4().hex}},
    }, separators=(",", ":"), sort_keys=True).encode()
    config_digest = digest_of(config)
    client.upload_blob(repository, config_digest, config, len(config))
    body = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [],
    }, separators=(",", ":")).encode()
    return Manifest(data=body, media_type=OCI_MANIFEST)


def _untag_with_placeholder(client: RegistryClient, plan: RemovalPlan, original: Manifest,
                            backup_id: str) -> str:
    """Move the tag to a placeholder, then delete the placeholder by digest: its only tag is
    this one, so that delete takes no other tag. Any failure puts the tag back."""
    assert plan.tag is not None
    placeholder = _placeholder(client, plan.repository, plan.tag)
    try:
        client.put_manifest(plan.repository, plan.tag, placeholder)
        client.delete_manifest(plan.repository, placeholder.digest)
    except BaseException as e:
        try:
            client.put_manifest(plan.repository, plan.tag, original)
        except Exception as again:
            raise RegistryError(
                f"removing {plan.target} failed ({e}), and putting the tag back on "
                f"{plan.digest} failed too ({again}): the tag may point at the placeholder "
                f"{placeholder.digest}. Run restore({backup_id!r}, force=True) to put it back",
                registry=plan.registry, reference=plan.target) from e
        if isinstance(e, RegistryError):
            raise type(e)(f"removing {plan.target} failed: {e}. The tag was put back on "
                          f"{plan.digest}, so no tag changed (an untagged placeholder manifest "
                          f"{placeholder.digest} may stay until garbage collection)",
                          registry=plan.registry,
                          reference=plan.target, status=e.status, code=e.code) from e
        raise
    return "placeholder"


def _verify(client: RegistryClient, plan: RemovalPlan, original: Manifest) -> None:
    """Check the registry now shows what the plan promised."""
    for tag in plan.tags_removed:
        head = client.head_manifest(plan.repository, tag)
        if head is not None and head.digest == plan.digest:  # another digest: pushed since
            raise RegistryError(f"{plan.registry} still lists {plan.repository}:{tag} on "
                                f"{plan.digest} after the delete", registry=plan.registry,
                                reference=plan.target)
    if plan.kind == "tag" and _repair(client, plan, original):
        raise RegistryError(f"{plan.registry} removed more than {plan.target}; the image and its "
                            "co-tags were put back", registry=plan.registry,
                            reference=plan.target)


# -- backups and restore -------------------------------------------------------------------


_RepositoryBackup = tuple[str, Sequence[Manifest], Sequence[tuple[str, str]]]


def _backup(registry: str, target: str, repositories: Sequence[_RepositoryBackup]) -> str:
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


def _find_backup(record: str | Result | dict[str, Any]) -> dict[str, Any]:
    if isinstance(record, Result):
        record = record.to_dict()
    if isinstance(record, dict):
        if record.get("action") == BACKUP_ACTION:
            return record
        backup_id = (record.get("details") or {}).get("backup_id")
        if not backup_id:
            raise ValueError("this record has no backup: only applied removes have one")
    else:
        backup_id = record
    for entry in journal.read():
        if entry.get("action") == BACKUP_ACTION and entry.get("id") == backup_id:
            return entry
    raise NotFound(f"no remove backup {backup_id!r} in the journal {journal.journal_path()}",
                   reference=str(backup_id))


def _children_first(manifests: list[Manifest]) -> list[Manifest]:
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
    backup = _find_backup(journal_record_or_id)
    registry = backup["registry"]
    client = client_for(registry)
    result = Result(action="restore", target=backup.get("target"), details={
        "backup_id": backup["id"], "registry": registry, "manifests": [], "tags": []})
    with Timer() as timer:
        repos = []
        for repo in backup["repositories"]:
            manifests = [Manifest(data=base64.b64decode(m["data"]), media_type=m["media_type"])
                         for m in repo["manifests"]]
            for m, stored in zip(manifests, repo["manifests"]):
                if m.digest != stored["digest"]:
                    raise ValueError(f"backup {backup['id']} is corrupt: {stored['digest']} "
                                     f"decodes to {m.digest}")
            by_digest = {m.digest: m for m in manifests}
            tags = [(t["tag"], t["digest"]) for t in repo["tags"]]
            moved = []
            for tag, digest in tags:
                head = client.head_manifest(repo["repository"], tag)
                if head is not None and head.digest != digest:
                    moved.append(f"{repo['repository']}:{tag} (now {head.digest})")
            repos.append((repo["repository"], _children_first(manifests), tags, by_digest, moved))
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


# -- remove_namespace ----------------------------------------------------------------------


@dataclass(frozen=True)
class RepositoryContents:
    """One repository of a namespace: its tags and its manifests in deletion order."""

    repository: str
    tags: tuple[tuple[str, str], ...]  # (tag, digest)
    digests: tuple[str, ...]  # indexes before the manifests they reference


@dataclass(frozen=True)
class NamespacePlan:
    """What :func:`remove_namespace` would delete (pure data)."""

    registry: str
    namespace: str
    repositories: tuple[RepositoryContents, ...] = ()
    bytes_freed_estimate: int = 0

    @property
    def tag_count(self) -> int:
        return sum(len(r.tags) for r in self.repositories)

    @property
    def digest_count(self) -> int:
        return sum(len(r.digests) for r in self.repositories)

    def describe(self) -> str:
        head = (f"Delete namespace {self.registry}/{self.namespace}/: "
                f"{len(self.repositories)} repositories, {self.tag_count} tags, "
                f"{self.digest_count} manifests (up to {_size(self.bytes_freed_estimate)} freed "
                "once the registry's garbage collection runs)")
        lines = [head]
        for repo in self.repositories:
            tags = ", ".join(t for t, _ in repo.tags) or "none"
            lines.append(f"  {repo.repository}: tags {_capped(tags.split(', '))}; "
                         f"manifests {_capped([d[:19] for d in repo.digests]) or 'none'}")
        return "\n".join(lines)


def _capped(items: list[str], limit: int = 10) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _deletion_order(manifests: dict[str, Manifest]) -> list[str]:
    """Indexes before their children, so no delete breaks an index that is still there."""
    return [m.digest for m in reversed(_children_first(list(manifests.values())))]


def plan_remove_namespace(registry: str, namespace: str) -> NamespacePlan:
    """Every repository under ``namespace/`` with its tags and manifests. Changes nothing.

    Manifests are those reachable from tags (and the platforms of tagged indexes):
    distribution has no API that lists untagged manifests.
    """
    return _plan_namespace(client_for(registry), namespace)[0]


def _plan_namespace(client: RegistryClient, namespace: str
                    ) -> tuple[NamespacePlan, dict[str, dict[str, Manifest]]]:
    namespace = validate_repository(namespace.strip("/"))
    names = sorted(r for r in client.catalog() if r.startswith(namespace + "/"))
    repos, manifests, freed = [], {}, 0
    for name in names:
        inventory = _inventory(client, name)
        order = _deletion_order(inventory.manifests)
        repos.append(RepositoryContents(name, tuple(sorted(inventory.tags.items())), tuple(order)))
        manifests[name] = inventory.manifests
        blobs = {b.digest: b.size for m in inventory.manifests.values() for b in m.blobs}
        freed += sum(blobs.values()) + sum(m.size for m in inventory.manifests.values())
    return NamespacePlan(client.registry, namespace, tuple(repos), freed), manifests


def remove_namespace(registry: str, namespace: str, *, confirm: str | None = None,
                     dry_run: bool = False, progress: ProgressCallback | None = None) -> Result:
    """Delete every image of every repository under ``namespace/`` on ``registry``.

    Refuses (ConfirmationRequired, showing the plan) unless ``confirm`` equals the namespace,
    like typing a repository's name to delete it on GitHub. ``dry_run=True`` returns the plan
    and needs no confirmation. Indexes go before their platforms. Everything is backed up to
    the journal first; ``restore(result)`` puts it back until garbage collection runs.
    """
    client = client_for(registry)
    with Timer() as timer:
        plan, manifests = _plan_namespace(client, namespace)
        target = f"{plan.registry}/{plan.namespace}/"
        result = Result(action="remove_namespace", target=target, details={
            "registry": plan.registry, "namespace": plan.namespace,
            "repositories": [r.repository for r in plan.repositories],
            "tags_removed": [f"{r.repository}:{t}" for r in plan.repositories for t, _ in r.tags],
            "digests": [f"{r.repository}@{d}" for r in plan.repositories for d in r.digests],
            "bytes_freed_estimate": plan.bytes_freed_estimate, "plan": plan.describe()})
        if dry_run:
            result.changed, result.dry_run = False, True
            result.duration = timer.elapsed
            return result
        if confirm != plan.namespace:
            said = "no confirmation" if confirm is None else f"confirm={confirm!r}"
            raise ConfirmationRequired(
                f"{plan.describe()}\nNothing was changed ({said}). To delete all of this, pass "
                f'confirm="{plan.namespace}"', registry=plan.registry, reference=target)
        if plan.digest_count == 0:
            result.changed = False
        else:
            _delete_namespace(client, plan, manifests, result, progress)
    result.duration = timer.elapsed
    journal.append(result)
    return result


def _delete_namespace(client: RegistryClient, plan: NamespacePlan,
                      manifests: dict[str, dict[str, Manifest]], result: Result,
                      progress: ProgressCallback | None) -> None:
    target = f"{plan.registry}/{plan.namespace}/"
    first = next(r for r in plan.repositories if r.digests)
    _ensure_deletes_enabled(client, first.repository, target)
    result.details["backup_id"] = _backup(plan.registry, target, [
        (r.repository, [manifests[r.repository][d] for d in r.digests], r.tags)
        for r in plan.repositories])
    deleted: list[str] = []
    result.details["deleted"] = deleted
    total = plan.digest_count
    try:
        for repo in plan.repositories:
            for digest in repo.digests:
                try:
                    client.delete_manifest(repo.repository, digest)
                except NotFound:  # deleted meanwhile by someone else: the goal holds
                    pass
                deleted.append(f"{repo.repository}@{digest}")
                emit(progress, ProgressEvent("remove", id=digest, status="deleted",
                                             current=len(deleted), total=total,
                                             message=f"{repo.repository}@{digest}"))
    except RegistryError as e:
        result.details["failed"] = str(e)
        journal.append(result)
        raise type(e)(f"deleting {target} stopped after {len(deleted)} of {total} manifests: "
                      f"{e}. restore({result.details['backup_id']!r}) puts them back",
                      registry=plan.registry, reference=target, status=e.status,
                      code=e.code) from e


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"
