"""Removal plans: exactly what ``remove`` would take out of a registry, computed first.

Two halves. Reading (:func:`read_index`: one HEAD, then the repository as its tags show it,
HEAD and GET only) takes a :class:`RepositoryIndex` snapshot and changes nothing. Deciding
(:func:`compute_plan`) is a pure function of the reference and that snapshot: no client, no
clock, the same answer every time, so it is tested on hand-built snapshots. Each plan
carries its change set (``changes``: a ``core.changes.Plan`` with the whole repository's
tags as its snapshot), which ``remove`` hands to the change engine; the engine refuses it
when the registry drifted since it was shown. Indexes are found through tags only:
distribution has no way to list untagged manifests.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence, TypeVar

from ...errors import ConfirmationRequired, NotFound
from ...manifest import Manifest
from ...reference import Reference, accessory_tags, parse_reference
from ...registry import RegistryClient
from ..core import untag
from ..core.arguments import check_bool
from ..core.changes import Change, Plan
from ..core.clients import client_for
from ..core.result import human_size

HEAD_WORKERS = 8  # concurrent HEAD/GET requests while reading a repository

T = TypeVar("T")
R = TypeVar("R")

# The per-registry memory of tag DELETE support lives with the code that uses it (the
# engine's untag step); these names are this module's API too.
tag_delete_known_unsupported = untag.tag_delete_known_unsupported
remember_tag_delete = untag.remember_tag_delete
_tag_delete_supported = untag._tag_delete_supported


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
    accessories: tuple[str, ...] = ()  # signature/attestation tags that go with a digest
    changes: Plan | None = field(default=None, compare=False, repr=False)

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
        out = asdict(replace(self, changes=None))
        out.pop("changes")
        return out

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
            if self.accessories:
                lines.append(f"  with:     its signatures and attestations: "
                             f"{', '.join(self.accessories)}")
            lines.append(f"  method:   DELETE /v2/{self.repository}/manifests/{self.digest}")
            for index in self.blocked_by:
                lines.append(f"  BLOCKED:  a platform of multi-arch index {index}, which would "
                             f"break; {'forced' if self.force else 'refused unless force=True'}")
        lines.append(f"  frees:    up to {human_size(self.bytes_freed_estimate)} once the registry's "
                     "garbage collection runs (nothing before)")
        return "\n".join(lines)


@dataclass(frozen=True)
class RepositoryIndex:
    """A snapshot of a repository as its tags show it: tag -> digest, and every manifest
    reachable from those tags (plus any digest asked for), by digest. Plain data: build one
    by hand to ask :func:`compute_plan` a question without a registry."""

    tags: Mapping[str, str]
    manifests: Mapping[str, Manifest]

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


def parallel(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(HEAD_WORKERS, len(items)),
                            thread_name_prefix="remove") as pool:
        return list(pool.map(fn, items))


# -- reading (I/O: HEAD and GET only) ------------------------------------------------------


def read_repository(client: RegistryClient, repository: str, extra: Iterable[str] = ()) -> RepositoryIndex:
    """HEAD every tag (concurrently, bounded), then GET every manifest they reach."""
    try:
        tags = list(client.tags(repository))
    except NotFound:  # a repository that never existed, or lost its last tag
        tags = []
    heads = parallel(lambda tag: client.head_manifest(repository, tag), tags)
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
        for digest, manifest in zip(wanted, parallel(get, wanted)):
            if manifest is not None:
                manifests[digest] = manifest
                children.update(c.digest for c in manifest.children)
        wanted = sorted(children - seen)
    return RepositoryIndex(tag_map, manifests)


def read_index(client: RegistryClient, ref: Reference) -> RepositoryIndex:
    """The snapshot :func:`compute_plan` needs for ``ref``: one HEAD of the tag (or digest),
    so that a missing one fails fast, then the whole repository, including that digest even
    when no tag reaches it."""
    head = client.head_manifest(ref.repository, ref.tag if ref.tag is not None else ref.reference)
    if head is None:
        raise _missing(ref)
    return read_repository(client, ref.repository, [head.digest])


# -- deciding (pure) -----------------------------------------------------------------------


def _missing(ref: Reference, *, vanished: bool = False) -> NotFound:
    where = f"{ref.registry}/{ref.repository}"
    what = f"tag {where}:{ref.tag}" if ref.tag is not None else f"image {where}@{ref.digest}"
    if vanished:
        return NotFound(f"{what} disappeared while it was being read: nothing was changed; "
                        "look at the repository again (images()) and retry",
                        registry=ref.registry, reference=str(ref))
    return NotFound(f"{what} not found on {ref.registry}: nothing to remove and nothing was "
                    "changed; check the tag list (images())", registry=ref.registry,
                    reference=str(ref))


def compute_plan(ref: str | Reference, index: RepositoryIndex, *,
                 tag_delete_unsupported: bool = False, force: bool = False) -> RemovalPlan:
    """Exactly what removing ``ref`` takes out of the repository ``index`` shows. Pure.

    A tag (``repo:tag``) goes alone: its co-tags stay, and ``method`` is ``"placeholder"``
    when ``tag_delete_unsupported`` (the registry is known to lack a tag DELETE), else
    ``"tag-delete"``. A digest (``repo@digest``) takes its manifest and every tag on it, and
    is ``blocked_by`` the indexes that list it as a platform (``allowed`` only with
    ``force``). ``repo:tag@digest`` is a tag removal that insists the tag still points at
    that digest (ConfirmationRequired otherwise). Raises NotFound when the snapshot lacks
    the tag or the manifest.
    """
    ref = parse_reference(ref)
    where = f"{ref.registry}/{ref.repository}"
    if ref.tag is not None:
        digest = index.tags.get(ref.tag)
        if digest is None:
            raise _missing(ref)
        if ref.digest is not None and digest != ref.digest:
            raise ConfirmationRequired(
                f"{where}:{ref.tag} now points at {digest}, not {ref.digest} as asked: "
                "nothing was changed; check what the tag holds before removing it",
                registry=ref.registry, reference=str(ref))
        manifest = index.manifests.get(digest)
        if manifest is None:
            raise _missing(ref, vanished=True)
        co_tags = tuple(t for t in index.tags_of(digest) if t != ref.tag)
        referenced_by = index.referrers(digest)
        method = "placeholder" if tag_delete_unsupported else "tag-delete"
        freed = 0 if co_tags or referenced_by else index.bytes_freed(digest)
        plan = RemovalPlan(ref.registry, ref.repository, "tag", digest, (ref.tag,), co_tags,
                           method, (), freed, tag=ref.tag, media_type=manifest.media_type,
                           referenced_by=referenced_by, force=force)
        return replace(plan, changes=change_set(plan, index))
    assert ref.digest is not None
    manifest = index.manifests.get(ref.digest)
    if manifest is None:
        raise _missing(ref)
    referenced_by = index.referrers(ref.digest)
    accessories = tuple(sorted(t for t in accessory_tags(ref.digest) if t in index.tags))
    plan = RemovalPlan(ref.registry, ref.repository, "digest", ref.digest,
                       index.tags_of(ref.digest), (), "manifest-delete", referenced_by,
                       index.bytes_freed(ref.digest), media_type=manifest.media_type,
                       referenced_by=referenced_by, force=force, accessories=accessories)
    return replace(plan, changes=change_set(plan, index))


def accessory_changes(repository: str, subject: str, index: RepositoryIndex,
                      gone: Iterable[str] = ()) -> list[Change]:
    """The changes that take ``subject``'s signature, attestation and SBOM tags with it: the
    accessory's manifest by digest when nothing else tags it, else just the tag. ``gone``:
    tags that go anyway (they do not keep an accessory's manifest)."""
    out: list[Change] = []
    going = set(accessory_tags(subject)) | set(gone)
    for tag in sorted(t for t in accessory_tags(subject) if t in index.tags):
        digest = index.tags[tag]
        if all(t in going for t in index.tags_of(digest)):
            if all(c.reference != digest for c in out):
                out.append(Change(repository, digest, digest, None,
                                  reason=f"accessory of {subject[:19]}, which goes"))
        else:
            out.append(Change(repository, tag, digest, None,
                              reason=f"accessory of {subject[:19]}, which goes"))
    return out


def change_set(plan: RemovalPlan, index: RepositoryIndex) -> Plan:
    """The removal as the change engine applies it: one change (a tag, or a digest and its
    accessories), and the whole repository's tags as the snapshot the engine re-checks."""
    if plan.kind == "tag":
        assert plan.tag is not None
        changes = [Change(plan.repository, plan.tag, plan.digest, None, reason="remove tag",
                          size=plan.bytes_freed_estimate)]
    else:
        changes = [Change(plan.repository, plan.digest, plan.digest, None,
                          reason=f"delete image (tags: {', '.join(plan.tags_removed) or 'none'})",
                          size=plan.bytes_freed_estimate)]
        changes += accessory_changes(plan.repository, plan.digest, index)
    return Plan(action="remove", registry=plan.registry, target=plan.target, changes=changes,
                snapshot={plan.repository: dict(index.tags)}, notes=[plan.describe()],
                force=plan.force)


def plan_remove(ref: str | Reference, *, force: bool = False) -> RemovalPlan:
    """What removing ``ref`` would do. Reads the registry (HEAD and GET only); changes nothing.

    ``registry/repo:tag`` removes that tag only; ``registry/repo@sha256:...`` deletes the
    image and every tag on it; ``registry/repo:tag@sha256:...`` removes the tag only if it
    still points at that digest. Raises NotFound if the tag or digest does not exist.
    """
    check_bool("force", force)
    ref = parse_reference(ref)
    index = read_index(client_for(ref.registry), ref)
    return compute_plan(ref, index, force=force,
                        tag_delete_unsupported=tag_delete_known_unsupported(ref.registry))


@dataclass(frozen=True)
class RemovalsPlan:
    """Several removals on one registry as ONE change set (:func:`plan_remove_many`).

    ``plans``: each reference's own :class:`RemovalPlan`, in the order given (blocked ones
    too, for the person reading them); ``changes``: the engine plan that applies every
    allowed one at once (:func:`merge_removals`), so one re-check, one backup, one journal
    record, and ``restore(result)`` undoes them all."""

    registry: str
    plans: tuple[RemovalPlan, ...]
    changes: Plan = field(compare=False, repr=False)

    @property
    def skipped(self) -> tuple[RemovalPlan, ...]:
        """The plans left out: blocked (an index still lists the image) and not forced."""
        return tuple(p for p in self.plans if not p.allowed)


def merge_removals(plans: Sequence[RemovalPlan]) -> Plan:
    """One engine plan from removal plans of one registry: the changes of every allowed plan
    (blocked ones are left out), one snapshot per repository. Pure.

    The plans of one repository must come from the same read of it (one snapshot), or the
    merged plan could not be re-checked as a whole: ValueError. A tag whose digest another
    plan deletes goes with that digest, so it is not a change of its own."""
    allowed = [p for p in plans if p.allowed and p.changes is not None]
    registries = sorted({p.registry for p in plans})
    if len(registries) > 1:
        raise ValueError(f"one plan acts on one registry, not on {', '.join(registries)}; "
                         "nothing was done")
    snapshot: dict[str, dict[str, str]] = {}
    for plan in allowed:
        assert plan.changes is not None
        for repository, tags in plan.changes.snapshot.items():
            if snapshot.setdefault(repository, dict(tags)) != dict(tags):
                raise ValueError(f"the plans for {plan.registry}/{repository} were made from "
                                 "different reads of it; plan them together "
                                 "(plan_remove_many); nothing was done")
    deleted = {(c.repository, c.reference) for p in allowed for c in p.changes.changes
               if c.after is None and c.reference.startswith("sha256:")}
    merged: list[Change] = []
    seen: set[tuple[str, str]] = set()
    for plan in allowed:
        for change in plan.changes.changes:
            key = (change.repository, change.reference)
            if key in seen or (not change.reference.startswith("sha256:")
                               and (change.repository, change.before) in deleted):
                continue
            seen.add(key)
            merged.append(change)
    return Plan(action="remove", registry=registries[0] if registries else "",
                target=", ".join(p.target for p in allowed), changes=merged,
                snapshot=snapshot, notes=[p.describe() for p in allowed],
                force=bool(allowed) and all(p.force for p in allowed))


def plan_remove_many(refs: Iterable[str | Reference], *, force: bool = False) -> RemovalsPlan:
    """What removing every one of ``refs`` (one registry; tags and digests as in
    :func:`plan_remove`) would do, as one plan. Each repository is read once (HEAD and GET
    only), and every reference in it is planned from that one snapshot. Changes nothing.
    Raises NotFound if a tag or digest does not exist."""
    check_bool("force", force)
    parsed = list(dict.fromkeys(parse_reference(r) for r in refs))
    if not parsed:
        raise ValueError("plan_remove_many: give at least one reference; nothing was done")
    registries = sorted({r.registry for r in parsed})
    if len(registries) > 1:
        raise ValueError(f"plan_remove_many: one registry per plan, not {', '.join(registries)}; "
                         "nothing was done")
    client = client_for(registries[0])
    indexes = {}
    for repository in dict.fromkeys(r.repository for r in parsed):
        digests = [r.digest for r in parsed if r.repository == repository and r.digest]
        indexes[repository] = read_repository(client, repository, digests)
    unsupported = tag_delete_known_unsupported(registries[0])
    plans = tuple(compute_plan(r, indexes[r.repository], force=force,
                               tag_delete_unsupported=unsupported) for r in parsed)
    return RemovalsPlan(registries[0], plans, merge_removals(plans))


def _plan_key(plan: RemovalPlan) -> tuple[Any, ...]:
    return (plan.registry, plan.repository, plan.kind, plan.tag, plan.digest,
            tuple(sorted(plan.tags_removed)), tuple(sorted(i.digest for i in plan.blocked_by)))


def check_drift(approved: RemovalPlan, current: RemovalPlan) -> None:
    if (approved.registry, approved.repository, approved.kind, approved.tag) != \
            (current.registry, current.repository, current.kind, current.tag):
        raise ValueError(f"the plan is for {approved.target}, not {current.target}")
    if _plan_key(approved) == _plan_key(current):
        return
    changes = []
    if approved.digest != current.digest:
        changes.append(f"the tag now points at {current.digest}, the plan had {approved.digest}")
    if sorted(approved.tags_removed) != sorted(current.tags_removed):
        changes.append(f"it would now remove tags {', '.join(current.tags_removed) or 'none'}, "
                       f"the plan had {', '.join(approved.tags_removed) or 'none'}")
    if _plan_key(approved)[-1] != _plan_key(current)[-1]:
        changes.append("the indexes that use it changed: "
                       f"{', '.join(map(str, current.blocked_by)) or 'none'} now")
    raise ConfirmationRequired(
        f"the registry changed since the plan for {approved.target} was made: "
        f"{'; '.join(changes)}. Nothing was changed: make a new plan with plan_remove() and "
        "check it", registry=current.registry, reference=current.target)
