"""``copy``: registry to registry, no engine needed (works in JupyterHub or Binder).

Order of work, so that an interrupted copy never leaves the target tag pointing at missing
content and a rerun completes it: HEAD the target tag (stop if the digest already
matches: no write at all); plan the manifest writes (the child manifests the target lacks,
by digest, then the tag, as the exact source bytes, so the target digest equals the source
digest); copy blobs (skip those present, mount within one registry, otherwise stream GET
into PUT, verifying the digest); then hand the plan to the change engine
(``core.changes.apply``), which re-reads the tag (refused, nothing written, if it moved
since the plan), backs up the image it replaces (``restore(result)`` puts it back), puts
children before the tag, reads it back and journals the copy. Blob uploads are not
manifest writes: they stay here. Like crane we copy 4 blobs at a time; like regclient,
largest first, because the largest layer bounds the wall time (REGISTRY-NOTES: "How the
best copy tools copy").

Imports ``errors``, ``manifest``, ``progress``, ``reference``, ``registry`` and the core's
``arguments``, ``changes``, ``clients``, ``journal``, ``result`` and ``workers``; the
siblings ``accessories``, ``protection``, ``transports`` and (inside ``copy``, as it builds
on this module) ``transfer`` for files.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Generator, Iterable, Iterator, Sequence

from ...errors import (BadReference, Cancelled, ConfirmationRequired, DigestMismatch,
                       InvalidArgument, NotFound, RegistryError, Unauthorized, Unreachable)
from ...manifest import Descriptor, Manifest, platform_name, same_platform
from ...progress import ProgressCallback, ProgressEvent, emit
from ...reference import Reference, parse_reference
from ...registry import RegistryClient
from ...registry import RETRY_STATUSES
from ..core import changes, journal
from .accessories import copy_accessories
from ..core.arguments import check_bool, check_platforms, check_positive_int
from ..core.changes import Change, Plan
from ..core.clients import client_for
from .protection import refuse_protected
from .transports import is_file_location
from ..core.result import Result, Timer
from ..core.workers import Pool, Stop

log = logging.getLogger("registry_widgets.copy")

DEFAULT_WORKERS = 4
BLOB_ATTEMPTS = 3  # a broken blob restarts on its own; the rest of the copy goes on
# An upload body goes to the socket in pieces this big, and the stop flag is checked between
# them: a throttled upload stops within a piece's send time, not a 1 MiB chunk's.
SEND_PIECE = 128 << 10
_UNCHECKED = object()  # a copy without an earlier plan of the target to hold it to


@dataclass
class _Plan:
    top: Manifest
    children: list[Manifest]
    blobs: list[Descriptor]
    platforms: list[str]


def copy(source: str | Reference, target: str | Reference, *, platforms: str | Sequence[str] = "all",
         progress: ProgressCallback | None = None, workers: int = DEFAULT_WORKERS,
         cancel: threading.Event | None = None, force: bool = False,
         accessories: bool = False) -> Result:
    """Copy an image (or a whole multi-arch index) from one registry to another.

    Similar to ``skopeo copy --all docker://SRC docker://DST`` or ``crane copy``. With
    ``platforms="all"`` the target digest equals the source digest. A list such as
    ``["linux/amd64"]`` copies only those platforms of an index, which rewrites the index,
    so its digest then differs (the result says so); a single-platform image is copied
    as is when it is of a requested platform, else NotFound says what it is.
    ``linux/arm64`` also matches ``linux/arm64/v8``. ``workers``: blobs copied at a time.

    ``cancel``: a ``threading.Event``; setting it (say from a widget's Cancel button) stops
    every worker within about a second and raises :class:`Cancelled`. Ctrl-C or a kernel
    interrupt does the same and raises KeyboardInterrupt. Either way the target tag is not
    moved, and running the same copy again completes it (blobs already copied are skipped).

    Copying over a tag the target namespace protects (``protect``) that points at another
    image is refused (Protected, nothing copied) unless ``force=True``.

    ``accessories=True`` also copies the image's signature, attestation and SBOM tags
    (cosign's ``sha256-<hex>.sig`` schema) and its OCI referrers where both registries have
    the API (see ``accessories``); only with ``platforms="all"``, since they name the digest.

    Either side may be a file, named as skopeo names it (``transfer``, ``transports``):
    ``oci:DIR[:TAG]`` (an OCI layout folder), ``oci-archive:FILE[:TAG]`` (the same as a
    tar) or ``docker-archive:FILE[:REPO:TAG]`` (``docker save``'s format, one platform);
    ``docker://`` before a registry reference is accepted. A layout keeps every digest; the
    tag inside it defaults to the source's. A file is read through and checked before
    anything is sent to a registry: a damaged one is refused whole (BadArchive naming the
    file), nothing sent.
    """
    if is_file_location(source) or is_file_location(target):
        platforms = check_platforms("platforms", platforms)
        workers = check_positive_int("workers", workers)
        check_bool("force", force)
        if accessories:
            raise InvalidArgument("accessories=True copies signature tags between registries; "
                                  "an archive or layout holds one image's tags only. Drop "
                                  "accessories=True; nothing was copied")
        # transfer builds on this module's plan and manifest writes, so it is imported here.
        from .transfer import copy_files
        return copy_files(source, target, platforms=platforms, progress=progress,
                          workers=workers, cancel=cancel, force=force)
    return _checked_copy(_registry(source), _registry(target), platforms=platforms,
                         progress=progress, workers=workers, cancel=cancel, force=force,
                         accessories=accessories)


def _registry(text: str | Reference) -> str | Reference:
    """skopeo's ``docker://`` prefix is accepted and dropped: a registry is the default."""
    if isinstance(text, str) and text.startswith("docker://"):
        return text[len("docker://"):]
    return text


def copy_planned(source: str | Reference, target: str | Reference, *, before: str | None,
                 platforms: str | Sequence[str] = "all", cancel: threading.Event | None = None,
                 progress: ProgressCallback | None = None) -> Result:
    """:func:`copy` as a plan made earlier saw the target (``sync``'s): ``before`` is the
    digest the target tag held then (None: absent). If it holds another now, the copy is
    refused (ConfirmationRequired, "changed since the plan") before anything is sent."""
    return _checked_copy(source, target, platforms=platforms, progress=progress,
                         workers=DEFAULT_WORKERS, cancel=cancel, force=False, accessories=False,
                         expect=before)


def _checked_copy(source: str | Reference, target: str | Reference, *,
                  platforms: str | Sequence[str], progress: ProgressCallback | None,
                  workers: int, cancel: threading.Event | None, force: bool, accessories: bool,
                  expect: str | None | object = _UNCHECKED) -> Result:
    platforms = check_platforms("platforms", platforms)
    workers = check_positive_int("workers", workers)
    check_bool("force", force)
    src, dst = parse_reference(source), parse_reference(target)
    check_bool("accessories", accessories)
    _check_target_digest(dst, platforms)
    stop = Stop(cancel, f"copy of {src} to {dst}")
    src_client, dst_client = client_for(src.registry), client_for(dst.registry)
    result = Result(action="copy", source=str(src), target=str(dst))
    done: list[str] = []  # blobs finished, for the message if the copy is stopped
    try:
        applied = _copy(src, dst, src_client, dst_client, result, platforms, progress, workers,
                        stop, done, force, accessories, expect)
    except Cancelled:
        raise Cancelled(_stopped_message(src, dst, done, "was cancelled"), registry=dst.registry,
                        reference=str(dst)) from None
    except KeyboardInterrupt as e:
        e.add_note(_stopped_message(src, dst, done, "was interrupted"))
        raise
    if not applied:  # the engine journaled an applied copy; this one had nothing to apply
        journal.record(result)  # the copy is done: a journal that cannot be written is a warning
    return result


def _stopped_message(src: Reference, dst: Reference, done: list[str], how: str) -> str:
    return (f"copy of {src} to {dst} {how} after {len(done)} blob(s); the tag {dst} was not "
            "moved. Run the same copy again to complete it: what was copied is not sent again.")


def _copy(src: Reference, dst: Reference, src_client: RegistryClient, dst_client: RegistryClient,
          result: Result, platforms: str | Sequence[str], progress: ProgressCallback | None,
          workers: int, stop: Stop, done: list[str], force: bool,
          accessories: bool, expect: str | None | object = _UNCHECKED) -> bool:
    """The copy; True when the change engine applied (and so journaled) it."""
    applied = False
    with Timer() as timer:
        head = _source_head(src_client, src, dst)
        # The one read of the target tag: the fast path, the protected check and the
        # plan's "before" all use it; the engine reads it once more right before writing.
        existing = dst_client.head_manifest(dst.repository, dst.tag or dst.reference)
        before = existing.digest if existing is not None else None
        if platforms == "all" and before == head.digest:
            result.digest, result.changed = head.digest, False
            result.details = {"reason": "target already has this digest", "replaces": {}}
            emit(progress, ProgressEvent("copy", status="up to date", message=str(dst)))
        if result.changed:
            if expect is not _UNCHECKED and before != expect:
                raise ConfirmationRequired(
                    f"{dst} changed since the plan: it was {expect or 'absent'} and is now "
                    f"{before or 'absent'}. Nothing was copied; make the plan again",
                    registry=dst.registry, reference=str(dst))
            plan = _plan(src_client, src, head.digest, platforms)
            _refuse_protected_overwrite(dst, before, plan.top.digest, force)
            writes = _manifest_writes(dst_client, dst, plan, before)
            replaces = ({dst.tag: before} if dst.tag and before is not None
                        and before != plan.top.digest else {})
            stop.check()
            counts = _copy_blobs(plan.blobs, src_client, src, dst_client, dst, progress, workers,
                                 stop, done)
            stop.check()
            result.digest = plan.top.digest
            result.bytes_moved = counts.pop("bytes")
            result.details = {"blobs": counts, "platforms": plan.platforms,
                              "manifests": len(plan.children) + 1,
                              "source_digest": head.digest,
                              "same_digest": result.digest == head.digest,
                              "replaces": replaces}
            if writes.changes:
                # The tag moves last (the engine puts children first): until then the target
                # tag is untouched. The engine journals the copy (with its backup id).
                changes.apply(writes, cancel=stop, result=result)
                applied = True
            emit(progress, ProgressEvent("copy", status="done", message=str(dst),
                                         current=result.bytes_moved))
        if accessories and platforms == "all":
            stop.check()
            extra = copy_accessories(copy, src, dst, head.digest, progress=progress)
            result.details["accessories"] = extra
            result.bytes_moved += sum(a["bytes_moved"] for a in extra)
            result.changed = result.changed or any(a["changed"] for a in extra)
    result.duration = timer.elapsed
    return applied


def _manifest_writes(client: RegistryClient, dst: Reference, plan: _Plan,
                     before: str | None) -> Plan:
    """The engine's plan: the child manifests the target lacks (by digest), then the tag
    (or the digest the target names). A child already there is not written again."""
    writes = Plan(action="copy", registry=dst.registry, target=str(dst))
    for child in plan.children:
        if client.head_manifest(dst.repository, child.digest) is None:
            writes.changes.append(Change(dst.repository, child.digest, before=None,
                                         after=child.digest, manifest=child,
                                         reason="a platform of the index"))
    if before != plan.top.digest:
        writes.changes.append(Change(dst.repository, dst.tag or dst.reference, before=before,
                                     after=plan.top.digest, manifest=plan.top,
                                     reason="the copied image"))
    return writes


def plan_copy(source: str | Reference, target: str | Reference, *,
              platforms: str | Sequence[str] = "all") -> dict[str, Any]:
    """What :func:`copy` would do, read only (HEAD and GET): ``digest`` (what the target will
    hold), ``source_digest``, ``platforms``, ``up_to_date`` and ``replaces`` (``{tag: digest}``
    the target tag points at now and will no longer: a notebook or widget shows it first)."""
    platforms = check_platforms("platforms", platforms)
    if is_file_location(source) or is_file_location(target):
        raise InvalidArgument(f"plan_copy reads two registries; {source} -> {target} names a "
                              "file. For a layout or archive, sync(..., dry_run=True) shows "
                              "the plan of an import; nothing was read")
    src, dst = parse_reference(source), parse_reference(target)
    _check_target_digest(dst, platforms)
    src_client, dst_client = client_for(src.registry), client_for(dst.registry)
    head = _source_head(src_client, src, dst)
    plan = _plan(src_client, src, head.digest, platforms)
    current = dst_client.head_manifest(dst.repository, dst.tag) if dst.tag else None
    replaces = ({dst.tag: current.digest}
                if current is not None and dst.tag and current.digest != plan.top.digest else {})
    return {"source": str(src), "target": str(dst), "source_digest": head.digest,
            "digest": plan.top.digest, "platforms": plan.platforms, "replaces": replaces,
            "up_to_date": current is not None and current.digest == plan.top.digest}


def describe_copy(plan: dict[str, Any]) -> str:
    """One or two lines for a person, from :func:`plan_copy`."""
    if plan["up_to_date"]:
        return f"{plan['target']} already holds {plan['digest']}: nothing to copy"
    lines = [f"Copy {plan['source']} -> {plan['target']} ({plan['digest']})"]
    for tag, digest in plan["replaces"].items():
        lines.append(f"  replaces {tag}, which points at {digest} now (backed up first; "
                     "restore(result) puts it back)")
    return "\n".join(lines)


def _check_target_digest(dst: Reference, platforms: str | Sequence[str]) -> None:
    """A target with a digest keeps the source's digest, so only platforms="all" can honour
    it: refused before any request otherwise."""
    if dst.digest and platforms != "all":
        raise BadReference(f"{dst} names a digest, but copying only some platforms writes a new "
                           "index with another digest: nothing was copied. Drop the "
                           '@digest from the target, or copy platforms="all"',
                           reference=str(dst))


def _source_head(src_client: RegistryClient, src: Reference, dst: Reference) -> Descriptor:
    head = src_client.head_manifest(src.repository, src.reference)
    if head is None:
        raise NotFound(f"{src} not found: nothing to copy; check the tag with images()",
                       registry=src.registry, reference=str(src))
    if dst.digest and dst.digest != head.digest:
        raise BadReference(f"the target {dst} names digest {dst.digest}, but {src} is "
                           f"{head.digest}: a copy keeps the digest, so nothing was copied. "
                           "Fix or drop the @digest of the target", reference=str(dst))
    return head


def _refuse_protected_overwrite(dst: Reference, before: str | None, digest: str,
                                force: bool) -> None:
    """A protected tag (``protection``) that would move to another image: Protected unless
    ``force``. ``before``: the tag's digest as the plan read it (the engine refuses the
    copy if it has moved since)."""
    if not dst.tag or before is None or before == digest:
        return
    refuse_protected(dst.registry, dst.repository, [dst.tag], force=force,
                     action=f"copying over {dst} (it points at {before})")


def _plan(client: RegistryClient, src: Reference, digest: str,
          platforms: str | Sequence[str]) -> _Plan:
    top = client.get_manifest(src.repository, digest)
    if not top.is_index:
        if platforms != "all":
            # A single image's platform lives in its config blob.
            actual = _image_platform(client, src, top)
            if not any(_matches(p, actual) for p in platforms):
                raise NotFound(f"{src} is a single-platform image of {actual}, not of "
                               f"{', '.join(platforms)}: nothing was copied. Pass "
                               f'platforms="all" (or ["{actual}"]) to copy it',
                               registry=src.registry, reference=str(src))
            return _Plan(top=top, children=[], blobs=_unique(top.blobs), platforms=[actual])
        return _Plan(top=top, children=[], blobs=_unique(top.blobs), platforms=[])
    wanted = top.children
    if platforms != "all":
        names = set(platforms)
        wanted = [d for d in top.children if any(_matches(p, d.platform_name) for p in names)]
        if not wanted:
            available = ", ".join(d.platform_name for d in top.children)
            raise NotFound(f"{src} has no platform {sorted(names)}; it has {available}",
                           registry=src.registry, reference=str(src))
        top = _filtered_index(top, wanted)
    children = [client.get_manifest(src.repository, d.digest) for d in wanted]
    blobs = _unique(b for child in children for b in child.blobs)
    return _Plan(top=top, children=children, blobs=blobs,
                 platforms=[d.platform_name for d in wanted])


def _matches(requested: str, actual: str) -> bool:
    """``linux/arm64`` is ``linux/arm64/v8`` and ``arm64``: both normalised as containerd
    does (``manifest.same_platform``)."""
    return same_platform(requested, actual)


def _image_platform(client: RegistryClient, src: Reference, image: Manifest) -> str:
    if image.config is None:
        return "unknown"
    config = json.loads(client.get_blob(src.repository, image.config.digest))
    return platform_name({k: config.get(k) for k in ("os", "architecture", "variant")
                          if config.get(k)})


def _filtered_index(index: Manifest, keep: list[Descriptor]) -> Manifest:
    wanted = {d.digest for d in keep}
    body = dict(index.json)
    body["manifests"] = [m for m in body.get("manifests", []) if m.get("digest") in wanted]
    return Manifest(data=json.dumps(body, indent=3).encode(), media_type=index.media_type)


def _unique(blobs: Iterable[Descriptor]) -> list[Descriptor]:
    """Each blob once, largest first (the largest layer bounds the copy's wall time)."""
    seen: dict[str, Descriptor] = {}
    for blob in blobs:
        seen.setdefault(blob.digest, blob)
    return sorted(seen.values(), key=lambda b: b.size, reverse=True)


def _copy_blobs(blobs: list[Descriptor], src_client: RegistryClient, src: Reference,
                dst_client: RegistryClient, dst: Reference, progress: ProgressCallback | None,
                workers: int, stop: Stop, done: list[str]) -> dict[str, int]:
    counts = {"copied": 0, "skipped": 0, "mounted": 0, "bytes": 0}
    if not blobs:
        return counts

    def one(blob: Descriptor) -> tuple[str, int]:
        outcome = _copy_blob(blob, src_client, src, dst_client, dst, progress, stop)
        done.append(blob.digest)  # list.append is atomic
        return outcome

    with Pool(min(workers, len(blobs)), "copy", stop) as pool:
        for status, moved in pool.map(one, blobs):
            counts[status] += 1
            counts["bytes"] += moved
    return counts


def _copy_blob(blob: Descriptor, src_client: RegistryClient, src: Reference,
               dst_client: RegistryClient, dst: Reference,
               progress: ProgressCallback | None, stop: Stop) -> tuple[str, int]:
    if _present(dst_client, dst, blob):
        emit(progress, ProgressEvent("copy", blob.digest, "skipped", blob.size, blob.size))
        return "skipped", 0
    same_registry = src_client is dst_client
    for attempt in range(1, BLOB_ATTEMPTS + 1):
        stop.check()
        location = None
        if same_registry:
            # 201: mounted, no bytes move. 202: not mountable; reuse the upload it opened.
            location = dst_client.start_upload(dst.repository, mount=blob.digest,
                                               from_repository=src.repository)
            if location is None:
                emit(progress, ProgressEvent("copy", blob.digest, "mounted", blob.size, blob.size))
                return "mounted", 0
        stop.check()
        chunks = _reporting(src_client.iter_blob(src.repository, blob.digest, check=stop.check),
                            blob, progress, stop)
        try:
            dst_client.upload_blob(dst.repository, blob.digest, chunks, blob.size, location=location)
        except RegistryError as e:
            stop.check()  # a connection cut by a stop is no reason to restart the blob
            if attempt == BLOB_ATTEMPTS or not _restartable(e):
                raise
            log.info("blob %s failed (%s); restarting it (attempt %d)", blob.digest, e, attempt + 1)
            continue
        finally:
            chunks.close()  # hands the source connection back now, not when collected
        emit(progress, ProgressEvent("copy", blob.digest, "copied", blob.size, blob.size))
        return "copied", blob.size
    raise AssertionError("unreachable")


def _present(client: RegistryClient, dst: Reference, blob: Descriptor) -> bool:
    """Whether the target already has the blob. A registry killed while committing an
    upload can leave a link to missing data, which distribution then answers with 500:
    such a blob is sent again (the upload repairs it) rather than failing the rerun."""
    try:
        return client.head_blob(dst.repository, blob.digest) is not None
    except RegistryError as e:
        if e.status is None or e.status < 500:
            raise
        log.warning("%s/%s: HEAD of blob %s answered %s; uploading it again", client.registry,
                    dst.repository, blob.digest, e.status)
        return False


def _restartable(error: RegistryError) -> bool:
    """Worth sending a blob again from byte 0 (a streamed body cannot be replayed).

    The connection broke; the bytes were corrupt; the token expired during the upload (the
    restart opens with a POST that fetches a fresh token, and a real refusal fails there
    again); or the registry was briefly overloaded or rate limiting (the transport waits
    out a ``Retry-After`` before the restart's first request).
    """
    return isinstance(error, (Unreachable, DigestMismatch, Unauthorized)) \
        or error.status in RETRY_STATUSES


def _reporting(chunks: Iterator[bytes], blob: Descriptor, progress: ProgressCallback | None,
               stop: Stop) -> Generator[bytes | memoryview, None, None]:
    """The upload body: the chunks in ``SEND_PIECE`` pieces, stopping between any two.
    Raising here aborts the PUT (urllib3 closes its connection): the registry keeps an
    unfinished upload, never a blob, so the target is unchanged."""
    done = 0
    for chunk in chunks:
        done += len(chunk)
        emit(progress, ProgressEvent("copy", blob.digest, "copying", done, blob.size))
        view = memoryview(chunk)
        for start in range(0, len(view), SEND_PIECE):
            stop.check()
            yield view[start:start + SEND_PIECE]
