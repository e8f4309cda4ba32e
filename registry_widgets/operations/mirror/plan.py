"""The plan of a sync, one repository at a time: what to copy, skip or replace.

``plan_repository(task)`` is a work unit (a top-level function of a small frozen dataclass,
so it pickles for a Dask worker): it opens its own clients where it runs, lists the source
repository's tags, keeps those the filters select, and compares each with the target. Only
what it needs is read: the target's tag list (a tag absent there needs no HEAD), one GET of
a source manifest that will be copied (for its size), a HEAD for the others, and the image
configs only for ``latest`` (the created time). Accessory tags and referrers of the
selected digests join the plan (``accessories``).

Layer 3: imports ``reference``, ``manifest``, ``registry`` (through ``clients``), ``errors``
and its siblings ``accessories`` and ``semver``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Sequence

from ...errors import NotFound, RegistryWidgetsError
from ...manifest import INDEX_TYPES, Manifest, same_platform
from ...reference import accessory_of
from ...registry import RegistryClient
from ..images import accessories as acc
from ..core.clients import client_for
from ..core.patterns import compile_pattern
from .semver import select as select_versions

# -- where a source repository lands under the target -----------------------------------------

def anchor_of(source_path: str, repositories: Sequence[str]) -> str:
    """The part of a source repository's path the target path replaces. A source that names
    a repository keeps its last component, as ``skopeo sync`` does (``a/ns/app`` into
    ``b/ns2`` is ``b/ns2/app``); a namespace is replaced whole (``a/ns/app`` with the source
    ``a/ns`` into ``b/mirror`` is ``b/mirror/app``)."""
    if source_path in repositories:
        return source_path.rpartition("/")[0]
    return source_path


def mirrored(repository: str, anchor: str, target_path: str) -> str:
    """The target repository of ``repository`` (see :func:`anchor_of`)."""
    rest = repository[len(anchor):].lstrip("/") if anchor else repository
    return f"{target_path}/{rest}" if rest else target_path


# -- what a work unit carries ---------------------------------------------------------------

@dataclass(frozen=True)
class RepositoryTask:
    """One repository to mirror: names and filters only (no credentials, no clients)."""

    source_registry: str
    source_repository: str
    target_registry: str
    target_repository: str
    tags: str | None = None
    semver: str | None = None
    latest: int | None = None
    platforms: str | tuple[str, ...] = "all"
    accessories: bool = True


@dataclass(frozen=True)
class PlannedImage:
    """One image (or accessory) of the plan, and what will be done with it."""

    repository: str  # the source repository
    reference: str  # the tag, or the digest of a referrer
    action: str  # "copy", "skip" or "replace"
    source_digest: str
    target_digest: str | None
    bytes: int  # the image's blobs (config and layers, every copied platform)
    kind: str = "image"  # or "signature", "attestation", "sbom", "referrers", "referrer"
    subject: str | None = None  # the digest an accessory belongs to
    source: str = ""
    target: str = ""
    reason: str = ""


@dataclass
class RepositoryPlan:
    """The plan of one repository. ``replaced`` holds the exact target manifests that a
    replace would overwrite (for the journal backup); ``error`` a repository that failed
    to plan (listed, reported, the others go on)."""

    task: RepositoryTask
    images: list[PlannedImage] = field(default_factory=list)
    replaced: list[tuple[str, str, str, bytes]] = field(default_factory=list)  # tag, digest, type, data
    error: str | None = None
    target_tags: set[str] = field(default_factory=set)


# -- phase 1: plan one repository (a work unit) -------------------------------------------

def plan_repository(task: RepositoryTask) -> RepositoryPlan:
    """The plan of one repository: a picklable work unit (opens its own clients)."""
    plan = RepositoryPlan(task=task)
    try:
        _plan_into(plan)
    except RegistryWidgetsError as e:
        plan.images, plan.replaced = [], []
        plan.error = str(e)
    return plan


def _plan_into(plan: RepositoryPlan) -> None:
    task = plan.task
    src, dst = client_for(task.source_registry), client_for(task.target_registry)
    all_tags = sorted(set(src.tags(task.source_repository)))
    images = [t for t in all_tags if not acc.is_accessory_tag(t)]
    images = select_tags(images, regex=task.tags, semver=task.semver)
    manifests: dict[str, Manifest] = {}  # source digest -> manifest, read once
    plan.target_tags = _tags_or_none(dst, task.target_repository)
    heads = {tag: _source_head(plan, src, tag, manifests) for tag in images}
    heads = {tag: head for tag, head in heads.items() if head is not None}  # deleted meanwhile
    if task.latest is not None:
        created = {tag: _created(src, task.source_repository, head[0], manifests)
                   for tag, head in heads.items()}
        newest = sorted(heads, key=lambda t: (created[t] or "", t), reverse=True)[:task.latest]
        heads = {tag: heads[tag] for tag in sorted(newest)}
    for tag, (digest, media_type) in heads.items():
        plan.images.append(_compare(plan, src, dst, tag, digest, media_type, manifests,
                                    kind="image"))
    if task.accessories:
        _plan_accessories(plan, src, dst, all_tags, manifests)


def _tags_or_none(client: RegistryClient, repository: str) -> set[str]:
    """The target's tags (empty when the repository does not exist there yet)."""
    try:
        return set(client.tags(repository))
    except NotFound:
        return set()


def _source_head(plan: RepositoryPlan, src: RegistryClient, tag: str,
                 manifests: dict[str, Manifest]) -> tuple[str, str] | None:
    """(digest, media type) of a source tag. A tag the target lacks is copied, and its
    manifest is needed for the size: one GET then, instead of a HEAD and a GET."""
    repository = plan.task.source_repository
    if tag not in plan.target_tags:
        try:
            manifest = src.get_manifest(repository, tag)
        except NotFound:
            return None
        manifests.setdefault(manifest.digest, manifest)
        return manifest.digest, manifest.media_type
    head = src.head_manifest(repository, tag)
    return (head.digest, head.media_type) if head is not None else None


def select_tags(tags: Sequence[str], *, regex: str | None = None,
                semver: str | None = None) -> list[str]:
    """The tags a regex (searched, as skopeo's ``images-by-tag-regex``) and an npm semver
    range (``^1.2``, see ``semver``) select, in their order."""
    if regex is not None:
        pattern = compile_pattern(regex, option="tags")  # linear time (RE2)
        tags = [t for t in tags if pattern.search(t)]
    if semver is not None:
        tags = select_versions(tags, semver)  # npm's ranges; tags that are no version go
    return list(tags)


def _manifest(client: RegistryClient, repository: str, digest: str,
              cache: dict[str, Manifest]) -> Manifest:
    if digest not in cache:
        cache[digest] = client.get_manifest(repository, digest)
    return cache[digest]


def _created(client: RegistryClient, repository: str, digest: str,
             cache: dict[str, Manifest]) -> str | None:
    """The image's created time from its config (an index: its newest platform)."""
    manifest = _manifest(client, repository, digest, cache)
    if manifest.is_index:
        times = [_created(client, repository, child.digest, cache) for child in manifest.children]
        return max((t for t in times if t), default=None)
    config = manifest.config
    if config is None or config.size > (4 << 20):
        return None
    try:
        value = json.loads(client.get_blob(repository, config.digest)).get("created")
    except (ValueError, AttributeError, NotFound):
        return None
    return value if isinstance(value, str) else None


def _wanted_children(manifest: Manifest, platforms: str | tuple[str, ...]) -> list[str]:
    children = manifest.children
    if platforms != "all":
        # As copy matches them: linux/arm64 is the index's linux/arm64/v8 (containerd's rules).
        children = [c for c in children
                    if any(same_platform(p, c.platform_name) for p in platforms)]
    return [c.digest for c in children]


def _size(client: RegistryClient, repository: str, manifest: Manifest,
          platforms: str | tuple[str, ...], cache: dict[str, Manifest]) -> int:
    if not manifest.is_index:
        return sum(b.size for b in manifest.blobs)
    return sum(_size(client, repository, _manifest(client, repository, d, cache), "all", cache)
               for d in _wanted_children(manifest, platforms))


def _compare(plan: RepositoryPlan, src: RegistryClient, dst: RegistryClient, reference: str,
             digest: str, media_type: str, manifests: dict[str, Manifest], *, kind: str,
             subject: str | None = None) -> PlannedImage:
    """copy, skip or replace: the target's digest at ``reference`` against the source's."""
    task = plan.task
    by_digest = reference.startswith("sha256:")
    # The target's tag list says which tags are absent there: no HEAD for those.
    absent = not by_digest and reference not in plan.target_tags
    target = None if absent else dst.head_manifest(task.target_repository, reference)
    platforms = task.platforms if kind == "image" else "all"
    action, reason = "copy", ""
    if target is not None and target.digest == digest:
        action = "skip"
    elif target is not None and platforms != "all" and media_type in INDEX_TYPES:
        # A platform subset rewrites the index (new digest): same children means done.
        wanted = _wanted_children(_manifest(src, task.source_repository, digest, manifests),
                                  platforms)
        there = dst.get_manifest(task.target_repository, target.digest)
        action = "skip" if there.is_index and [c.digest for c in there.children] == wanted \
            else "replace"
    elif target is not None:
        action = "replace"
    size = 0
    if action != "skip":
        manifest = _manifest(src, task.source_repository, digest, manifests)
        if platforms != "all" and manifest.is_index and not _wanted_children(manifest, platforms):
            action, reason = "skip", f"no platform {', '.join(platforms)}"
        else:
            size = _size(src, task.source_repository, manifest, platforms, manifests)
    if action == "replace" and not by_digest:
        old = dst.get_manifest(task.target_repository, target.digest)  # type: ignore[union-attr]
        plan.replaced.append((reference, old.digest, old.media_type, old.data))
    sep = "@" if by_digest else ":"
    return PlannedImage(
        repository=task.source_repository, reference=reference, action=action,
        source_digest=digest, target_digest=target.digest if target else None, bytes=size,
        kind=kind, subject=subject, reason=reason,
        source=f"{task.source_registry}/{task.source_repository}{sep}{reference}",
        target=f"{task.target_registry}/{task.target_repository}{sep}{reference}")


def _plan_accessories(plan: RepositoryPlan, src: RegistryClient, dst: RegistryClient,
                      all_tags: list[str], manifests: dict[str, Manifest]) -> None:
    task = plan.task
    subjects = {image.source_digest: image for image in plan.images if image.reason == ""}
    if not subjects:
        return
    tagged = [t for t in all_tags if acc.is_accessory_tag(t)]
    digests = set(subjects)
    if any(accessory_of(t)[0] not in digests for t in tagged):  # type: ignore[index]
        # Some accessory names another digest: perhaps a platform of a selected index.
        for image in list(subjects.values()):
            if image.kind == "image" and _is_index(src, task.source_repository, image, manifests):
                digests.update(acc.subjects(manifests[image.source_digest]))
    found = acc.by_tag(tagged, digests)
    if task.platforms == "all":
        found += acc.by_referrers(src, task.source_repository, sorted(subjects), dst,
                                  task.target_repository)
    for accessory in found:
        if accessory.tag:
            head = _source_head(plan, src, accessory.tag, manifests)
        else:
            found_head = src.head_manifest(task.source_repository, accessory.reference)
            head = (found_head.digest, found_head.media_type) if found_head else None
        if head is None:
            continue
        plan.images.append(_compare(plan, src, dst, accessory.reference, head[0], head[1],
                                    manifests, kind=accessory.kind, subject=accessory.subject))


def _is_index(client: RegistryClient, repository: str, image: PlannedImage,
              cache: dict[str, Manifest]) -> bool:
    return _manifest(client, repository, image.source_digest, cache).is_index


def plan_counts(images: list[PlannedImage]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for image in images:
        counts[image.action] = counts.get(image.action, 0) + 1
    counts["bytes"] = sum(image.bytes for image in images if image.action != "skip")
    return counts
