"""``sync``: mirror whole repositories, or a namespace, from one registry to another.

Like ``skopeo sync``, regclient's ``regsync`` or ``gcrane cp -r``, in two phases:

1. **Plan.** For each source repository (the catalog's repositories under the source path),
   list its tags, keep those the filters select (``tags`` regex, ``semver`` range, the
   ``latest`` N by created time), and compare each with the target: *copy* (absent there),
   *skip* (same digest) or *replace* (another digest), with the bytes it holds. Accessory
   tags (``sha256-<hex>.sig`` ...) and referrers of the selected digests join the plan.
2. **Apply.** Each repository with work left is copied by the ``copy`` verb (digest-exact,
   blobs the target has are skipped), held to the plan: a tag that moved since is not
   overwritten. Its manifest writes go through the change engine, which backs up a tag it
   replaces (once; ``restore(result)`` puts every replaced tag back). A failed image is
   reported and the others go on; a rerun finds the copied ones to skip and does only what
   is missing.

Both phases run as per-repository work units: on the cancellable worker pool by default
(``core.workers``: Ctrl-C or a set ``cancel`` event stops every repository and image within
about a second), or on any ``concurrent.futures.Executor``, e.g. a Dask cluster's
``Client.get_executor()`` (a stop then cancels the units not started; running ones finish,
and their backups are in the journal of the process that ran them). A unit is a
top-level function of a small frozen dataclass (picklable) that opens its own clients
where it runs, with ``client_for``: credentials come from that process's own Docker config
(``DOCKER_CONFIG``) or ``configure()`` there, never from the task's arguments.

``sync(..., plan=dry_run_result)`` skips phase 1: the reviewed plan is read back
(``reviewed``) and applied as it is, so what was shown is what is copied.

The plan unit lives in ``plan``, syncs to and from a layout file in ``layouts``; this
module has the verb, its argument checks, the apply unit and the rows of the result.
Layer 3: imports ``reference``, ``manifest``,
``errors``, ``progress`` and its sibling operations; never the widgets.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ...errors import (BadReference, Cancelled, Denied, DigestMismatch, InvalidArgument,
                       NotFound, RegistryWidgetsError, SyncIncomplete, Unauthorized,
                       Unreachable)
from ...progress import ProgressCallback, ProgressEvent, emit
from ...reference import Reference, parse_reference
from ...registry import RegistryClient
from ..core import journal
from ..core.arguments import check_bool, check_optional_positive_int
from ..core.clients import client_for
from ..core.patterns import compile_pattern
from ..core.workers import POLL, Pool, Stop
from ..images.copy import copy_planned
from ..images.transports import is_file_location, parse_location
from ..images.repositories import REMEMBERED, repositories_to_read
from ..core.result import Result, Timer
from .plan import (PlannedImage, RepositoryPlan, RepositoryTask, anchor_of, mirrored,
                   plan_counts, plan_repository, select_tags)
from .semver import npm_range
from .layouts import sync_from_layout, sync_to_layout
from .reviewed import reviewed_plans

__all__ = ["sync", "by_status", "raise_for_failures", "summary_line", "plan_repository",
           "apply_repository", "select_tags", "RepositoryTask", "PlannedImage"]

log = logging.getLogger("registry_widgets.sync")

DEFAULT_REPOSITORIES = 8  # repositories at a time on the default thread pool
TAGS_AT_ONCE = 2  # images of one repository copied at a time (each copies 4 blobs at a time)
RETRY_PAUSE = 0.5  # seconds before an image that failed in passing is tried once more


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
         accessories: bool = True, dry_run: bool = False,
         plan: Result | Mapping[str, Any] | None = None, executor: Executor | None = None,
         cancel: threading.Event | None = None,
         progress: ProgressCallback | None = None,
         repositories: str | Sequence[str] | None = None) -> Result:
    """Mirror every repository under ``source`` to ``target``, plan first.

    ``source`` and ``target`` are ``registry/namespace`` or ``registry/namespace/repository``:
    every repository at or under the source path is copied under the target path, named
    as ``skopeo sync`` names it: a source repository keeps its last component
    (``a/ns/app`` -> ``b/ns2`` writes ``b/ns2/app``), a source namespace is replaced by
    the target (``a/ns`` -> ``b/mirror`` writes ``a/ns/app`` to ``b/mirror/app``). Similar to
    ``skopeo sync --all`` with a YAML source listing the repositories, or ``regsync``.

    ``repositories``: the source repositories to read instead of the catalog's (Docker Hub
    and GHCR refuse it); without them, where the catalog is refused, the repositories
    remembered for the source registry are read and ``details["notes"]`` says so.

    Filters, all optional and combined: ``tags``, a regular expression searched in each tag
    (as ``skopeo sync``'s ``images-by-tag-regex``: anchor it with ``^...$``); ``semver``, an
    npm-style range: ``"^1.2"``, ``"~1.2.3"``, ``">=1.2.0 <2.0.0"``, ``"1.x"``,
    ``"1.2 - 1.4"``, alternatives joined by ``||`` (tags read as ``MAJOR.MINOR.PATCH``
    versions, a leading ``v`` allowed; tags that are no version are left out; a pre-release
    only when the range names one, as in npm); ``latest``, the newest N tags by the image's
    created time. Accessories (signature, attestation and SBOM tags of a selected digest,
    and its OCI referrers where both registries have the API) come along unless
    ``accessories=False``. ``platforms`` is as in ``copy``.

    ``dry_run=True`` returns the plan only (``details["images"]``: each tag's action and
    bytes). ``plan=`` that dry run's Result (or its ``details``) applies exactly it, as
    reviewed: the images it lists and nothing else (an image pushed since is not copied),
    each from the source digest the plan showed; no new plan is made. A plan of another
    source or target, made with other options, or that is not a sync dry run is refused
    (InvalidArgument, nothing written). Without ``plan=``, a sync plans and then applies.

    Into or out of one OCI layout (``layouts``): a target ``oci:DIR`` or
    ``oci-archive:FILE`` receives every selected tag, each named ``REPOSITORY:TAG`` in its
    index.json; a source layout goes into ``registry/path`` (``REPOSITORY:TAG`` to
    ``path/REPOSITORY:TAG``), checked whole before anything is sent; ``dry_run`` and
    ``plan=`` work as here (``latest`` and ``executor`` do not apply).

    Repositories are copied on ``executor`` (default: the cancellable pool here; a Dask
    ``Client.get_executor()`` runs them on the cluster, whose workers read their own Docker
    config for credentials). Each copy is held to the plan (a target tag that moved since
    is not overwritten: that image fails, "changed since the plan") and backs up the tag it
    replaces; ``restore(result)`` puts every replaced tag back. ``cancel``: a
    ``threading.Event``; setting it, or Ctrl-C, stops the sync within about a second
    (Cancelled, or KeyboardInterrupt); a rerun completes it. A failed image does not stop
    the others: ``details["images"]`` lists every outcome (``copied``, ``replaced``, ``skipped``,
    ``failed`` with its error) and ``details["counts"]`` sums them. A rerun skips what is
    there and does only what is missing.
    """
    if is_file_location(source) or is_file_location(target):
        return _sync_files(source, target, tags=tags, semver=semver, latest=latest,
                           platforms=platforms, accessories=accessories, dry_run=dry_run,
                           plan=plan, executor=executor, cancel=cancel, progress=progress,
                           repositories=repositories)
    stop = Stop(cancel, f"sync {source} -> {target}")
    where, filters = _arguments(source, target, tags=tags, semver=semver, latest=latest,
                                platforms=platforms, accessories=accessories, dry_run=dry_run,
                                executor=executor)
    src, dst = where
    if plan is not None:
        if dry_run:
            raise InvalidArgument("plan= applies a plan made by a dry run: drop dry_run=True "
                                  "(the plan is the dry run); nothing was done")
        # The reviewed plan, and nothing else: no catalog, no tag list, no new plan.
        names, plans = reviewed_plans(plan, source=src, target=dst, filters=filters)
        notes: list[str] = []
    else:
        names, notes = _source_repositories(src, repositories)
    anchor = anchor_of(src[1], names)
    tasks = [_task(src, dst, name, filters, anchor) for name in names]
    result = Result(action="sync", source=str(source), target=str(target), dry_run=dry_run)
    with Timer() as timer:
        try:
            if plan is None:
                plans = _run(executor, plan_repository, [(task,) for task in tasks], progress,
                             "planned", stop)
            images = [image for one in plans for image in one.images]
            failed_plans = [one for one in plans if one.error]
            result.details = {"source": "/".join(src), "target": "/".join(dst),
                              "repositories": len(tasks), "source_repositories": names,
                              "filters": filters, "plan": plan_counts(images), "notes": notes}
            if dry_run:
                result.changed = False
                result.details["dry_run"] = True  # what plan= takes back
                result.details["images"] = [_row(image, status=image.action) for image in images]
                result.details["images"] += [_plan_failure(one) for one in failed_plans]
                result.details["counts"] = _counts(result.details["images"])
            else:
                if plan is not None:
                    result.details["from_plan"] = True  # applied as reviewed, not re-planned
                work = [(one.task, tuple(i for i in one.images if i.action != "skip"))
                        for one in plans if not one.error]
                for task, todo in work:
                    if not todo:
                        emit(progress, ProgressEvent("sync", id=task.source_repository,
                                                     status="up to date", current=1, total=1))
                work = [(task, todo) for task, todo in work if todo]
                outcomes = _run(executor, apply_repository, work, progress, "copied", stop)
                done = {(o.task.source_repository, row["reference"]): row
                        for o in outcomes for row in o.images}
                rows = [done.get((image.repository, image.reference))
                        or _row(image, status="skipped") for image in images]
                rows += [_plan_failure(one) for one in failed_plans]
                result.details["images"] = rows
                result.details["counts"] = _counts(rows)
                result.details["workers"] = sorted({o.worker for o in outcomes})
                result.bytes_moved = sum(row.get("bytes_moved", 0) for row in rows)
                result.changed = any(row["status"] in ("copied", "replaced") for row in rows)
                # Each replaced tag was backed up once, by the engine, as its copy replaced
                # it: restore(result) puts them all back.
                backups = [row["backup_id"] for row in rows if row.get("backup_id")]
                if backups:
                    result.details["backup_ids"] = backups
        except Cancelled:
            raise Cancelled(_stopped(source, target, "was cancelled"), reference=str(target)) \
                from None
        except KeyboardInterrupt as e:
            e.add_note(_stopped(source, target, "was interrupted"))
            raise
    result.duration = timer.elapsed
    emit(progress, ProgressEvent("sync", status="done", current=len(tasks), total=len(tasks),
                                 message=summary_line(result)))
    journal.append(result)
    return result


def _stopped(source: str, target: str, how: str) -> str:
    return (f"sync {source} -> {target} {how}; the images copied so far are in the journal, "
            "each tag it did not reach was not moved. Run the same sync again to complete it: "
            "what is there is skipped.")


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


def _sync_files(source: str, target: str, **options: Any) -> Result:
    """A sync into one OCI layout or out of one (``layouts``), on this process's threads."""
    src_file, dst_file = is_file_location(source), is_file_location(target)
    if src_file == dst_file:
        raise InvalidArgument(f"sync {source} -> {target}: one side must be a registry path "
                              "(copy a layout to another with copy()); nothing was done")
    if options.pop("executor") is not None:
        raise InvalidArgument("executor= runs repositories on a cluster; a sync to or from one "
                              "layout file runs here (drop executor=). Nothing was done")
    check_bool("accessories", options["accessories"])
    check_bool("dry_run", options["dry_run"])
    if options["tags"] is not None:
        compile_pattern(options["tags"], option="tags")
    if options["semver"] is not None:
        npm_range(options["semver"])
    platforms = _platforms(options["platforms"])
    filters = {"tags": options["tags"], "semver": options["semver"], "latest": options["latest"],
               "platforms": platforms if platforms == "all" else list(platforms),
               "accessories": options["accessories"]}
    if dst_file:
        location = parse_location(target, what="target")
        if location.ref:  # type: ignore[union-attr]
            raise BadReference(f"target {target!r} names one image; a sync writes every tag "
                               "into the layout, each named REPOSITORY:TAG. Drop the :REF; "
                               "nothing was done", reference=target)
        if options["plan"] is not None:
            raise InvalidArgument("plan= applies a reviewed plan into a registry; a sync into "
                                  "a layout writes a new file: drop plan=. Nothing was done")
        registry, path = _location("source", source)
        names, _ = _source_repositories((registry, path), options["repositories"])
        return sync_to_layout(registry, names, anchor_of(path, names), location,
                              filters=filters, dry_run=options["dry_run"],
                              cancel=options["cancel"], progress=options["progress"],
                              source=f"{registry}/{path}")
    location = parse_location(source, what="source")
    if location.transport == "docker-archive" or location.ref:  # type: ignore[union-attr]
        raise BadReference(f"source {source!r}: sync reads a whole OCI layout (oci:DIR or "
                           "oci-archive:FILE, without :REF); copy() takes one image. Nothing "
                           "was done", reference=source)
    registry, path = _location("target", target)
    return sync_from_layout(location, registry, path, filters=filters,  # type: ignore[arg-type]
                            dry_run=options["dry_run"], plan=options["plan"],
                            cancel=options["cancel"], progress=options["progress"],
                            target=f"{registry}/{path}")


# -- arguments, checked before anything is sent ------------------------------------------

def _arguments(source: str, target: str, *, tags: str | None, semver: str | None,
               latest: int | None, platforms: str | Sequence[str], accessories: bool,
               dry_run: bool, executor: Executor | None
               ) -> tuple[tuple[tuple[str, str], tuple[str, str]], dict[str, Any]]:
    """((source registry, path), (target registry, path)) and the options as a plan
    records them (``details["filters"]``); every check here sends nothing."""
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
        compile_pattern(tags, option="tags")  # linear-time (RE2): no pattern hangs a sync
    if semver is not None:
        npm_range(semver)  # InvalidArgument naming semver, before any request
    platforms = _platforms(platforms)
    src_registry, src_path = _location("source", source)
    dst_registry, dst_path = _location("target", target)
    if (src_registry, src_path) == (dst_registry, dst_path):
        raise ValueError(f"source and target are the same ({source}); nothing was done")
    if src_registry == dst_registry and dst_path.startswith(src_path + "/"):
        # Every run would mirror the previous runs' mirror again, one level deeper.
        raise ValueError(f"sync: the target {target} is inside the source {source}, so each "
                         "run would copy the mirror into itself again; choose a target outside "
                         f"{src_registry}/{src_path}. Nothing was done")
    filters = {"tags": tags, "semver": semver, "latest": latest,
               "platforms": platforms if platforms == "all" else list(platforms),
               "accessories": accessories}
    return ((src_registry, src_path), (dst_registry, dst_path)), filters


def _source_repositories(src: tuple[str, str], named: str | Sequence[str] | None
                         ) -> tuple[list[str], list[str]]:
    """The source repositories and the notes saying where they came from."""
    registry, path = src
    repositories, notes = _repositories(client_for(registry), path, named)
    if not repositories:
        raise NotFound(f"{registry} has no repository at or under {path}: nothing to "
                       "sync; check the namespace with namespaces() or images()",
                       registry=registry, reference=f"{registry}/{path}")
    return repositories, notes


def _task(src: tuple[str, str], dst: tuple[str, str], repository: str,
          filters: dict[str, Any], anchor: str) -> RepositoryTask:
    """The unit of one source repository: mirrored under the target as ``skopeo sync``
    names it (``plan.anchor_of``)."""
    platforms = filters["platforms"]
    return RepositoryTask(src[0], repository, dst[0], mirrored(repository, anchor, dst[1]),
                          tags=filters["tags"], semver=filters["semver"],
                          latest=filters["latest"],
                          platforms="all" if platforms == "all" else tuple(platforms),
                          accessories=filters["accessories"])


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


def _repositories(client: RegistryClient, path: str, named: str | Sequence[str] | None = None
                  ) -> tuple[list[str], list[str]]:
    """The repositories at or under ``path``: those named, else the catalog's, else those
    remembered for the registry (``images.repositories``). Where none of those answers, a
    two-segment path is taken as the one repository it names."""
    try:
        chosen = repositories_to_read(
            client.registry, named=named, catalog=client.catalog, under=path,
            credentials_refused=lambda e: client.transport.auth.has_credentials)
    except (NotFound, Unauthorized, Denied):
        if "/" not in path:
            raise  # a namespace cannot be read without a list: the error says what to do
        return [path], []
    if not chosen.names and chosen.source == REMEMBERED and "/" in path:
        return [path], []  # a repository named in full, though not among those remembered
    return chosen.names, chosen.notes


# -- phase 2: apply one repository's plan (a work unit) -----------------------------------

def apply_repository(task: RepositoryTask, images: tuple[PlannedImage, ...], *,
                     cancel: threading.Event | Stop | None = None) -> RepositoryOutcome:
    """Copy one repository's planned images: a picklable work unit (opens its own clients).
    ``cancel`` (in this process only; a Dask unit gets none) stops it between requests.

    The first image alone (it brings the layers the others usually share), then the other
    images a few at a time, one tag per digest before its co-tags (they then find every
    blob there), then the accessories. Why not all at once: two uploads of the same blob
    into one repository of distribution 2.8 race on its link file, and a manifest PUT that
    reads the link meanwhile is refused with DIGEST_INVALID. A failure is recorded and the
    rest goes on.
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
    stop = Stop(cancel, f"sync of {task.source_repository}")

    def one(image: PlannedImage) -> None:
        row = _apply_one(task, image, stop)
        with lock:
            rows[image.reference] = row

    with Pool(TAGS_AT_ONCE, "sync-tags", stop) as pool:
        for batch in (first[:1], first[1:], later):
            pool.map(one, batch)
    outcome.images = [rows[image.reference] for image in images]
    return outcome


def _apply_one(task: RepositoryTask, image: PlannedImage, stop: Stop) -> dict[str, Any]:
    platforms = task.platforms if image.kind == "image" else "all"
    wanted = platforms if platforms == "all" else list(platforms)

    # The image the plan showed, by its digest: a source tag that moved since the plan
    # does not bring another image in.
    shown = f"{task.source_registry}/{task.source_repository}@{image.source_digest}"

    def attempt() -> Result:
        # Held to the plan: a target tag that moved since (or appeared) is not overwritten.
        return copy_planned(shown, image.target, before=image.target_digest,
                            platforms=wanted, cancel=stop)

    try:
        try:
            done = attempt()
        except (DigestMismatch, Unreachable) as e:
            stop.check()
            # Passing trouble (a connection lost, a link read while another upload wrote
            # it): once more, which skips whatever the first attempt stored.
            log.info("sync: %s failed (%s); trying it once more", image.source, e)
            time.sleep(RETRY_PAUSE)
            done = attempt()
    except Cancelled:
        raise
    except RegistryWidgetsError as e:
        log.warning("sync: %s failed: %s", image.source, e)
        return _row(image, status="failed", error=str(e))
    status = {"copy": "copied", "replace": "replaced"}[image.action]
    if not done.changed:
        status = "skipped"
    row = _row(image, status=status, digest=done.digest, bytes_moved=done.bytes_moved)
    if done.details.get("backup_id"):
        row["backup_id"] = done.details["backup_id"]
    return row


# -- running units, backups, rows --------------------------------------------------------

def _run(executor: Executor | None, unit: Any, calls: list[tuple],
         progress: ProgressCallback | None, status: str, stop: Stop) -> list[Any]:
    """``unit(*args)`` for each call; results in call order. A unit that raises (a bug, a
    worker lost) fails its repository only; a stop (Cancelled, KeyboardInterrupt) ends all.

    Without an executor the units run on the cancellable pool and each apply unit is
    given the stop; with one (Dask), the calling thread waits in short slices and cancels
    the units not started when stopped."""
    counted = {"done": 0}
    lock = threading.Lock()

    def report(args: tuple, value: Any) -> None:
        task: RepositoryTask = args[0]
        # One bar per repository (filled when copied), and the whole operation's count.
        failed = bool(getattr(value, "error", None)) or any(
            row["status"] == "failed" for row in getattr(value, "images", ())
            if isinstance(row, dict))
        with lock:
            counted["done"] += 1
            done = counted["done"]
        emit(progress, ProgressEvent("sync", id=task.source_repository,
                                     status="failed" if failed else status,
                                     current=0 if status == "planned" else 1, total=1,
                                     message=f"{task.source_repository}: {_unit_summary(value)}"))
        emit(progress, ProgressEvent("sync", status=status, current=done, total=len(calls),
                                     message=f"{done}/{len(calls)} repositories {status}"))

    def settle(args: tuple, call: Any) -> Any:
        try:
            value = call()
        except Cancelled:
            raise
        except Exception as e:  # noqa: BLE001 - reported as that repository's failure
            log.warning("sync: %s of %s failed: %s", unit.__name__, args[0].source_repository, e)
            value = _unit_failure(unit, args, e)
        report(args, value)
        return value

    if executor is None:
        extra = {"cancel": stop} if unit is apply_repository else {}
        with Pool(DEFAULT_REPOSITORIES, "sync", stop) as pool:
            return pool.map(lambda args: settle(args, lambda: unit(*args, **extra)), calls)
    futures: list[Future] = [executor.submit(unit, *args) for args in calls]
    try:
        results = []
        for args, future in zip(calls, futures):
            while not wait([future], timeout=POLL, return_when=FIRST_COMPLETED).done:
                stop.check()
            results.append(settle(args, future.result))
        return results
    except BaseException:
        for future in futures:
            future.cancel()  # units not started do not start; running ones finish
        raise


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
        return ", ".join(f"{n} {a}" for a, n in plan_counts(value.images).items()) or "no tags"
    statuses = [row["status"] for row in value.images]
    return ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))


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


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts
