"""``sync``: mirror whole repositories, or a namespace, from one registry to another.

Like ``skopeo sync``, regclient's ``regsync`` or ``gcrane cp -r``, in two phases:

1. **Plan.** For each source repository (the catalog's repositories under the source path),
   list its tags, keep those the filters select (``tags`` regex, ``semver`` range, the
   ``latest`` N by created time), and compare each with the target: *copy* (absent there),
   *skip* (same digest) or *replace* (another digest), with the bytes it holds. Accessory
   tags (``sha256-<hex>.sig`` ...) and referrers of the selected digests join the plan.
2. **Apply.** The replaced manifests are backed up in the journal (``restore(result)`` puts
   them back), then each repository with work left is copied by the ``copy`` verb
   (digest-exact, blobs the target has are skipped). A failed image is reported and the
   others go on; a rerun finds the copied ones to skip and does only what is missing.

Both phases run as per-repository work units on any ``concurrent.futures.Executor``: a
thread pool by default, or a Dask cluster's ``Client.get_executor()``. A unit is a
top-level function of a small frozen dataclass (picklable) that opens its own clients
where it runs, with ``client_for``: credentials come from that process's own Docker config
(``DOCKER_CONFIG``) or ``configure()`` there, never from the task's arguments.

Layer 3: imports ``reference``, ``manifest``, ``errors``, ``progress`` and its sibling
operations; never the widgets.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from ..errors import (BadReference, Denied, NotFound, RegistryWidgetsError, SyncIncomplete,
                      Unauthorized)
from ..manifest import Manifest
from ..progress import ProgressCallback, ProgressEvent, emit
from ..reference import Reference, accessory_of, parse_reference
from ..registry import RegistryClient
from . import accessories as acc
from . import journal
from .arguments import check_bool, check_optional_positive_int
from .backup import write_backup
from .clients import client_for
from .copy import copy
from .result import Result, Timer

log = logging.getLogger("registry_widgets.sync")

DEFAULT_REPOSITORIES = 8  # repositories at a time on the default thread pool
TAGS_AT_ONCE = 2  # images of one repository copied at a time (each copies 4 blobs at a time)


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


@dataclass
class RepositoryOutcome:
    """What applying one repository's plan did; ``worker`` names the process that did it."""

    task: RepositoryTask
    images: list[dict[str, Any]] = field(default_factory=list)
    worker: str = ""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# -- the verb -------------------------------------------------------------------------------

def sync(source: str, target: str, *, tags: str | None = None, semver: str | None = None,
         latest: int | None = None, platforms: str | Sequence[str] = "all",
         accessories: bool = True, dry_run: bool = False, executor: Executor | None = None,
         progress: ProgressCallback | None = None) -> Result:
    """Mirror every repository under ``source`` to ``target``, plan first.

    ``source`` and ``target`` are ``registry/namespace`` or ``registry/namespace/repository``:
    every repository at or under the source path is copied to the same place under the
    target path (``a/ns/app`` to ``b/mirror/app`` for ``a/ns`` -> ``b/mirror``). Similar to
    ``skopeo sync --all`` with a YAML source listing the repositories, or ``regsync``.

    Filters, all optional and combined: ``tags``, a regular expression searched in each tag
    (as ``skopeo sync``'s ``images-by-tag-regex``: anchor it with ``^...$``); ``semver``, a
    version range such as ``">=1.2,<2"`` (tags read as versions, a leading ``v`` allowed;
    tags that are no version are left out); ``latest``, the newest N tags by the image's
    created time. Accessories (signature, attestation and SBOM tags of a selected digest,
    and its OCI referrers where both registries have the API) come along unless
    ``accessories=False``. ``platforms`` is as in ``copy``.

    ``dry_run=True`` returns the plan only (``details["images"]``: each tag's action and
    bytes). Otherwise replaced tags are backed up in the journal first (``restore(result)``
    undoes them), then repositories are copied on ``executor`` (default: a thread pool
    here; a Dask ``Client.get_executor()`` runs them on the cluster, whose workers read
    their own Docker config for credentials). A failed image does not stop the others:
    ``details["images"]`` lists every outcome (``copied``, ``replaced``, ``skipped``,
    ``failed`` with its error) and ``details["counts"]`` sums them. A rerun skips what is
    there and does only what is missing.
    """
    tasks = _tasks(source, target, tags=tags, semver=semver, latest=latest, platforms=platforms,
                   accessories=accessories, dry_run=dry_run, executor=executor)
    result = Result(action="sync", source=str(source), target=str(target), dry_run=dry_run)
    own_pool = executor is None
    pool = executor or ThreadPoolExecutor(max_workers=DEFAULT_REPOSITORIES,
                                          thread_name_prefix="sync")
    with Timer() as timer:
        try:
            plans = _run(pool, plan_repository, [(task,) for task in tasks], progress, "planned")
            images = [image for plan in plans for image in plan.images]
            failed_plans = [plan for plan in plans if plan.error]
            result.details = {"repositories": len(tasks), "filters": _filters(tasks[0]),
                              "plan": _plan_counts(images)}
            if dry_run:
                result.changed = False
                result.details["images"] = [_row(image, status=image.action) for image in images]
                result.details["images"] += [_plan_failure(plan) for plan in failed_plans]
                result.details["counts"] = _counts(result.details["images"])
            else:
                backup_id = _backup(tasks[0].target_registry, str(target), plans)
                if backup_id:
                    result.details["backup_id"] = backup_id
                work = [(plan.task, tuple(i for i in plan.images if i.action != "skip"))
                        for plan in plans if not plan.error]
                for task, todo in work:
                    if not todo:
                        emit(progress, ProgressEvent("sync", id=task.source_repository,
                                                     status="up to date", current=1, total=1))
                work = [(task, todo) for task, todo in work if todo]
                outcomes = _run(pool, apply_repository, work, progress, "copied")
                done = {(o.task.source_repository, row["reference"]): row
                        for o in outcomes for row in o.images}
                rows = [done.get((image.repository, image.reference))
                        or _row(image, status="skipped") for image in images]
                rows += [_plan_failure(plan) for plan in failed_plans]
                result.details["images"] = rows
                result.details["counts"] = _counts(rows)
                result.details["workers"] = sorted({o.worker for o in outcomes})
                result.bytes_moved = sum(row.get("bytes_moved", 0) for row in rows)
                result.changed = any(row["status"] in ("copied", "replaced") for row in rows)
        finally:
            if own_pool:
                pool.shutdown(wait=True)
    result.duration = timer.elapsed
    counts = result.details["counts"]
    emit(progress, ProgressEvent("sync", status="done", current=counts.get("copied", 0),
                                 total=len(result.details["images"]),
                                 message=summary_line(result)))
    journal.append(result)
    return result


def by_status(result: Result) -> dict[str, list[str]]:
    """The images of a sync's result by outcome: ``{"copied": [source refs], "skipped":
    [...], "failed": ["ref: error", ...]}`` (a dry run: by planned action)."""
    out: dict[str, list[str]] = {}
    for row in result.details.get("images", []):
        text = row["source"] + (f": {row['error']}" if row.get("error") else "")
        out.setdefault(row["status"], []).append(text)
    return out


def raise_for_failures(result: Result) -> Result:
    """``result`` itself, or SyncIncomplete naming the images that failed (for scripts and
    headless notebooks, which must exit non-zero when a mirror is incomplete)."""
    failed = [row for row in result.details.get("images", []) if row["status"] == "failed"]
    if failed:
        names = "; ".join(f"{row['source']}: {row.get('error')}" for row in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        raise SyncIncomplete(f"sync {result.source} -> {result.target}: {len(failed)} of "
                             f"{len(result.details['images'])} images failed ({names}{more}); "
                             "the others are done. Fix the cause and run sync again: it does "
                             "only what is missing", reference=result.source)
    return result


def summary_line(result: Result) -> str:
    """``12 copied, 3 replaced, 40 skipped, 1 failed`` (or the plan's counts for a dry run)."""
    counts = result.details.get("counts", {})
    order = ("copy", "replace", "skip", "copied", "replaced", "skipped", "failed")
    return ", ".join(f"{counts[k]} {k}" for k in order if counts.get(k)) or "nothing to do"


# -- arguments, checked before anything is sent ------------------------------------------

def _tasks(source: str, target: str, *, tags: str | None, semver: str | None,
           latest: int | None, platforms: str | Sequence[str], accessories: bool,
           dry_run: bool, executor: Executor | None) -> list[RepositoryTask]:
    check_bool("accessories", accessories)
    check_bool("dry_run", dry_run)
    check_optional_positive_int("latest", latest)
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor (a thread pool, or a "
                        f"Dask Client(...).get_executor()), not {type(executor).__name__}; "
                        "nothing was done")
    if tags is not None:
        if not isinstance(tags, str):
            raise TypeError(f"tags must be a regular expression (a str), not {tags!r}; "
                            "nothing was done")
        try:
            re.compile(tags)
        except re.error as e:
            raise ValueError(f"tags={tags!r} is not a regular expression ({e}); "
                             "nothing was done") from None
    if semver is not None:
        _specifier(semver)
    platforms = _platforms(platforms)
    src_registry, src_path = _location("source", source)
    dst_registry, dst_path = _location("target", target)
    if (src_registry, src_path) == (dst_registry, dst_path):
        raise ValueError(f"source and target are the same ({source}); nothing was done")
    client = client_for(src_registry)
    repositories = _repositories(client, src_path)
    if not repositories:
        raise NotFound(f"{src_registry} has no repository at or under {src_path}: nothing to "
                       "sync; check the namespace with namespaces() or images()",
                       registry=src_registry, reference=f"{src_registry}/{src_path}")
    return [RepositoryTask(src_registry, repo, dst_registry, dst_path + repo[len(src_path):],
                           tags=tags, semver=semver, latest=latest, platforms=platforms,
                           accessories=accessories) for repo in repositories]


def _location(what: str, text: str) -> tuple[str, str]:
    """``registry/namespace[/repository]`` -> (registry, path); a tag or digest is refused."""
    if not isinstance(text, (str, Reference)):
        raise TypeError(f"{what} must be registry/namespace or registry/namespace/repository, "
                        f"not {text!r}; nothing was done")
    ref = parse_reference(text)
    if ref.digest or str(text).rstrip().endswith(f":{ref.tag}"):
        raise BadReference(f"{what} {text!r} names an image; sync takes registry/namespace or "
                           "registry/namespace/repository (select tags with tags=, semver= or "
                           "latest=); nothing was done", registry=ref.registry,
                           reference=str(text))
    return ref.registry, ref.repository


def _platforms(platforms: Any) -> str | tuple[str, ...]:
    if platforms == "all":
        return "all"
    if isinstance(platforms, str):
        return (platforms,)
    if isinstance(platforms, (list, tuple)) and platforms and \
            all(isinstance(p, str) and p for p in platforms):
        return tuple(platforms)
    raise TypeError(f'platforms must be "all" or a list such as ["linux/amd64"], not '
                    f"{platforms!r}; nothing was done")


def _specifier(semver: Any) -> SpecifierSet:
    if not isinstance(semver, str):
        raise TypeError(f"semver must be a version range such as '>=1.2,<2', not {semver!r}; "
                        "nothing was done")
    text = ",".join(part for part in re.split(r"[\s,]+", semver.strip()) if part)
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise ValueError(f"semver={semver!r} is not a version range; write comparisons joined "
                         "by commas, such as '>=1.2,<2' or '==1.4.*'; nothing was done") from None


def _repositories(client: RegistryClient, path: str) -> list[str]:
    """The repositories at or under ``path``. Without a catalog (Docker Hub, GHCR) a
    two-segment path is taken as the one repository it names."""
    try:
        names = list(client.catalog())
    except (NotFound, Unauthorized, Denied) as e:
        if "/" not in path:
            raise type(e)(f"{client.registry} will not list its repositories (the catalog, HTTP "
                          f"{e.status}), so the namespace {path} cannot be read: sync its "
                          f"repositories one by one, {client.registry}/{path}/<repository>. {e}",
                          registry=client.registry, status=e.status, code=e.code) from e
        return [path]
    return sorted(n for n in set(names) if n == path or n.startswith(path + "/"))


def _filters(task: RepositoryTask) -> dict[str, Any]:
    return {"tags": task.tags, "semver": task.semver, "latest": task.latest,
            "platforms": task.platforms if task.platforms == "all" else list(task.platforms),
            "accessories": task.accessories}


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
    """The tags a regex (searched, as skopeo's ``images-by-tag-regex``) and a semver range
    select, in their order."""
    if regex is not None:
        pattern = re.compile(regex)
        tags = [t for t in tags if pattern.search(t)]
    if semver is not None:
        spec = _specifier(semver)
        # A pre-release is in a range only when the range names one (as npm and pip do).
        tags = [t for t in tags if (v := _version(t)) is not None
                and spec.contains(v, prereleases=bool(spec.prereleases))]
    return list(tags)


def _version(tag: str) -> Version | None:
    try:
        return Version(tag[1:] if tag[:1] in "vV" else tag)
    except InvalidVersion:
        return None


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
        children = [c for c in children if c.platform_name in platforms]
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
    elif target is not None and platforms != "all" and media_type in _INDEX_TYPES:
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


_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json")


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


# -- phase 2: apply one repository's plan (a work unit) -----------------------------------

def apply_repository(task: RepositoryTask, images: tuple[PlannedImage, ...]) -> RepositoryOutcome:
    """Copy one repository's planned images: a picklable work unit (opens its own clients).

    Images first, a few at a time, one tag per digest before its co-tags (they then find
    every blob there); accessories after their images. A failure is recorded and the rest
    goes on.
    """
    outcome = RepositoryOutcome(task=task, worker=worker_name())
    first: list[PlannedImage] = []
    later: list[PlannedImage] = []
    seen: set[str] = set()
    for image in images:
        if image.kind == "image" and image.source_digest not in seen:
            seen.add(image.source_digest)
            first.append(image)
        else:
            later.append(image)
    rows: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def one(image: PlannedImage) -> None:
        row = _apply_one(task, image)
        with lock:
            rows[image.reference] = row

    with ThreadPoolExecutor(max_workers=TAGS_AT_ONCE, thread_name_prefix="sync-tags") as pool:
        list(pool.map(one, first))
        list(pool.map(one, later))
    outcome.images = [rows[image.reference] for image in images]
    return outcome


def _apply_one(task: RepositoryTask, image: PlannedImage) -> dict[str, Any]:
    try:
        if image.action == "replace":
            # The backup holds what the plan saw; a tag moved since is not overwritten.
            now = client_for(task.target_registry).head_manifest(task.target_repository,
                                                                 image.reference)
            if now is None or now.digest != image.target_digest:
                raise _Changed(f"{image.target} changed since the plan (now "
                               f"{now.digest if now else 'absent'}); not overwritten: sync again")
        platforms = task.platforms if image.kind == "image" else "all"
        done = copy(image.source, image.target,
                    platforms=platforms if platforms == "all" else list(platforms))
    except (RegistryWidgetsError, _Changed) as e:
        log.warning("sync: %s failed: %s", image.source, e)
        return _row(image, status="failed", error=str(e))
    status = {"copy": "copied", "replace": "replaced"}[image.action]
    if not done.changed:
        status = "skipped"
    return _row(image, status=status, digest=done.digest, bytes_moved=done.bytes_moved)


class _Changed(Exception):
    pass


# -- running units, backups, rows --------------------------------------------------------

def _run(pool: Executor, unit: Any, calls: list[tuple], progress: ProgressCallback | None,
         status: str) -> list[Any]:
    """``unit(*args)`` for each call on the executor; results in call order. A unit that
    raises (a bug, a worker lost) fails its repository only."""
    futures: list[Future] = [pool.submit(unit, *args) for args in calls]
    results = []
    for done, (args, future) in enumerate(zip(calls, futures), 1):
        task: RepositoryTask = args[0]
        try:
            value = future.result()
        except Exception as e:  # noqa: BLE001 - reported as that repository's failure
            log.warning("sync: %s of %s failed: %s", unit.__name__, task.source_repository, e)
            value = _unit_failure(unit, args, e)
        results.append(value)
        # One bar per repository (filled when copied), and the whole operation's count.
        failed = bool(getattr(value, "error", None)) or any(
            row["status"] == "failed" for row in getattr(value, "images", ()) if isinstance(row, dict))
        emit(progress, ProgressEvent("sync", id=task.source_repository,
                                     status="failed" if failed else status,
                                     current=0 if status == "planned" else 1, total=1,
                                     message=f"{task.source_repository}: {_unit_summary(value)}"))
        emit(progress, ProgressEvent("sync", status=status, current=done, total=len(calls),
                                     message=f"{done}/{len(calls)} repositories {status}"))
    return results


def _unit_failure(unit: Any, args: tuple, error: Exception) -> Any:
    message = f"{type(error).__name__}: {error}"
    if unit is plan_repository:
        return RepositoryPlan(task=args[0], error=message)
    return RepositoryOutcome(task=args[0], images=[
        _row(image, status="failed", error=message) for image in args[1]])


def _unit_summary(value: Any) -> str:
    if isinstance(value, RepositoryPlan):
        if value.error:
            return f"failed to plan: {value.error}"
        return ", ".join(f"{n} {a}" for a, n in _plan_counts(value.images).items()) or "no tags"
    statuses = [row["status"] for row in value.images]
    return ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))


def _backup(registry: str, target: str, plans: list[RepositoryPlan]) -> str | None:
    """Journal the manifests that replaces will overwrite, before any is overwritten."""
    repos = []
    for plan in plans:
        if plan.replaced:
            manifests = {digest: Manifest(data=data, media_type=media_type)
                         for _, digest, media_type, data in plan.replaced}
            repos.append((plan.task.target_repository, list(manifests.values()),
                          [(tag, digest) for tag, digest, _, _ in plan.replaced]))
    return write_backup(registry, target, repos) if repos else None


def _row(image: PlannedImage, *, status: str, digest: str | None = None, bytes_moved: int = 0,
         error: str | None = None) -> dict[str, Any]:
    row = {"repository": image.repository, "reference": image.reference, "kind": image.kind,
           "source": image.source, "target": image.target, "action": image.action,
           "status": status, "digest": digest or image.source_digest,
           "target_digest_before": image.target_digest, "bytes": image.bytes,
           "bytes_moved": bytes_moved}
    if image.subject:
        row["subject"] = image.subject
    if image.reason:
        row["reason"] = image.reason
    if error:
        row["error"] = error
    return row


def _plan_failure(plan: RepositoryPlan) -> dict[str, Any]:
    task = plan.task
    return {"repository": task.source_repository, "reference": "", "kind": "repository",
            "source": f"{task.source_registry}/{task.source_repository}",
            "target": f"{task.target_registry}/{task.target_repository}", "action": "plan",
            "status": "failed", "digest": None, "bytes": 0, "bytes_moved": 0,
            "error": plan.error}


def _plan_counts(images: list[PlannedImage]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for image in images:
        counts[image.action] = counts.get(image.action, 0) + 1
    counts["bytes"] = sum(image.bytes for image in images if image.action != "skip")
    return counts


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts
