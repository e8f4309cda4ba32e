"""``copy`` when one side is a file: registry <-> OCI layout, oci-archive or docker-archive.

The same order of work as a registry copy (``copy``): plan (the manifests, the blobs, the
platforms), move the blobs streaming (a chunk at a time, never a layer in memory, with the
same progress events and cancel), then the manifests last, so a tag never points at content
that is not there:

- **into a registry**, the source file is first read through once and checked (every blob's
  size and digest, a docker-archive's layers against the config's diff_ids): a bad archive
  is refused whole (:class:`~.archive.BadArchive`) before anything is sent. Then the blobs go
  up, and the manifests through the change engine (``core.changes.apply``), which re-reads
  the tag, backs up what it replaces and journals the copy, exactly as for a registry copy.
- **into a layout** (``oci:``) the blobs and manifests are stored byte for byte, so every
  digest, a multi-arch index's included, is kept; ``index.json`` names the image with
  ``org.opencontainers.image.ref.name``. ``oci-archive:`` is written beside the target and
  renamed over it when complete.
- **into a docker-archive** one platform is written (the one asked for, else this machine's,
  as skopeo picks), with plain layer tars as ``docker save`` writes them.

Imports ``errors``, ``manifest``, ``progress``, ``reference``, ``registry``, the core's
``changes``, ``clients``, ``journal``, ``result`` and ``workers``, and the siblings
``archive``, ``copy``, ``docker_archive``, ``layout``, ``protection`` and ``transports``.
"""

from __future__ import annotations

import json
import platform as host
import threading
from typing import Any, Callable, Iterable, Iterator, Sequence

from ...errors import BadReference, Cancelled, InvalidArgument, NotFound
from ...manifest import Descriptor, Manifest, platform_name
from ...progress import ProgressCallback, ProgressEvent, emit
from ...reference import Reference
from ..core import changes, journal
from ..core.clients import client_for
from ..core.result import Result, Timer
from ..core.workers import Pool, Stop
from .copy import (DEFAULT_WORKERS, _filtered_index, _manifest_writes, _matches, _Plan,
                   _refuse_protected_overwrite, _unique)
from .docker_archive import DockerArchive, write_docker_archive
from .layout import Layout, LayoutWriter
from .transports import FileLocation, parse_location

__all__ = ["copy_files", "open_source", "layout_source", "plan_image", "copy_to_layout",
           "copy_to_registry", "host_platform"]

Location = Reference | FileLocation
_MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def host_platform() -> str:
    """This machine's platform as skopeo picks one by default: ``linux/amd64`` here."""
    return f"linux/{_MACHINES.get(host.machine().lower(), host.machine().lower())}"


# -- sources: where the image is read from ----------------------------------------------

class _RegistrySource:
    def __init__(self, ref: Reference):
        self.ref, self.label = ref, str(ref)
        self.client = client_for(ref.registry)
        self.tag = ref.tag

    def top(self) -> Manifest:
        head = self.client.head_manifest(self.ref.repository, self.ref.reference)
        if head is None:
            raise NotFound(f"{self.ref} not found: nothing to copy; check the tag with images()",
                           registry=self.ref.registry, reference=str(self.ref))
        return self.client.get_manifest(self.ref.repository, head.digest)

    def child(self, descriptor: Descriptor) -> Manifest:
        return self.client.get_manifest(self.ref.repository, descriptor.digest)

    def iter_blob(self, descriptor: Descriptor, *,
                  check: Callable[[], None] | None = None) -> Iterator[bytes]:
        return self.client.iter_blob(self.ref.repository, descriptor.digest, check=check)

    def config(self, manifest: Manifest) -> bytes:
        assert manifest.config is not None
        return self.client.get_blob(self.ref.repository, manifest.config.digest)

    def verify(self, blobs: Sequence[Descriptor], stop: Stop,
               progress: ProgressCallback | None) -> None:
        """A registry checks each blob as it streams (``iter_blob``): nothing to do first."""


class _LayoutSource:
    def __init__(self, location: FileLocation, layout: Layout | None = None):
        self.layout = layout or Layout(location.path, archive=location.is_archive)
        self.label = str(location)
        self.entry = self.layout.resolve(location.ref)
        self.tag = location.ref

    def top(self) -> Manifest:
        return self.layout.manifest(self.entry)

    def child(self, descriptor: Descriptor) -> Manifest:
        return self.layout.manifest(descriptor)

    def iter_blob(self, descriptor: Descriptor, *,
                  check: Callable[[], None] | None = None) -> Iterator[bytes]:
        return self.layout.iter_blob(descriptor, check=check)

    def config(self, manifest: Manifest) -> bytes:
        assert manifest.config is not None
        return b"".join(self.layout.iter_blob(manifest.config))

    def verify(self, blobs: Sequence[Descriptor], stop: Stop,
               progress: ProgressCallback | None) -> None:
        def each(blob: Descriptor) -> None:
            emit(progress, ProgressEvent("copy", blob.digest, "checked", blob.size, blob.size))
        self.layout.verify(blobs, check=stop.check, each=each)


class _DockerSource:
    def __init__(self, location: FileLocation, stop: Stop, progress: ProgressCallback | None):
        def each(digest: str, size: int) -> None:
            emit(progress, ProgressEvent("copy", digest, "checked", size, size))
        # Reading it checks every layer against the config (the verification pass).
        self.archive = DockerArchive(location.path, location.ref, check=stop.check, each=each)
        self.label = str(location)
        tags = self.archive.repo_tags
        self.tag = location.ref.rpartition(":")[2] if location.ref else (
            tags[0].rpartition(":")[2] if len(tags) == 1 and ":" in tags[0] else None)

    def top(self) -> Manifest:
        return self.archive.manifest

    def child(self, descriptor: Descriptor) -> Manifest:
        raise AssertionError("a docker-archive image has no children")

    def iter_blob(self, descriptor: Descriptor, *,
                  check: Callable[[], None] | None = None) -> Iterator[bytes]:
        return self.archive.iter_blob(descriptor, check=check)

    def config(self, manifest: Manifest) -> bytes:
        return self.archive.config

    def verify(self, blobs: Sequence[Descriptor], stop: Stop,
               progress: ProgressCallback | None) -> None:
        """Checked when it was opened."""


Source = _RegistrySource | _LayoutSource | _DockerSource


def layout_source(layout: Layout, ref: str) -> Source:
    """A reader of one entry of a layout already open (a sync reads many from one)."""
    transport = "oci-archive" if layout.archive else "oci"
    return _LayoutSource(FileLocation(transport, layout.path, ref), layout)


def open_source(location: Location, stop: Stop,
                progress: ProgressCallback | None = None) -> Source:
    """A reader of the image at ``location`` (a registry, a layout or an archive)."""
    if isinstance(location, Reference):
        return _RegistrySource(location)
    if location.transport == "docker-archive":
        return _DockerSource(location, stop, progress)
    return _LayoutSource(location)


# -- the plan: which manifests and blobs ---------------------------------------------------

def plan_image(source: Source, platforms: str | Sequence[str]) -> _Plan:
    """The manifests and blobs to copy, as ``copy`` plans them (``platforms`` filters an
    index, which then gets another digest)."""
    top = source.top()
    if not top.is_index:
        if platforms != "all":
            actual = _platform_of(source, top)
            if not any(_matches(p, actual) for p in platforms):
                raise NotFound(f"{source.label} is a single-platform image of {actual}, not of "
                               f"{', '.join(platforms)}: nothing was copied. Pass "
                               f'platforms="all" (or ["{actual}"]) to copy it',
                               reference=source.label)
            return _Plan(top=top, children=[], blobs=_unique(top.blobs), platforms=[actual])
        return _Plan(top=top, children=[], blobs=_unique(top.blobs), platforms=[])
    wanted = top.children
    if platforms != "all":
        wanted = [d for d in top.children if any(_matches(p, d.platform_name) for p in platforms)]
        if not wanted:
            available = ", ".join(d.platform_name for d in top.children)
            raise NotFound(f"{source.label} has no platform {sorted(platforms)}; it has "
                           f"{available}. Nothing was copied", reference=source.label)
        top = _filtered_index(top, wanted)
    children = [source.child(d) for d in wanted]
    return _Plan(top=top, children=children, blobs=_unique(b for c in children for b in c.blobs),
                 platforms=[d.platform_name for d in wanted])


def _platform_of(source: Source, image: Manifest) -> str:
    if image.config is None:
        return "unknown"
    config = json.loads(source.config(image))
    return platform_name({k: config.get(k) for k in ("os", "architecture", "variant")
                          if config.get(k)})


# -- moving blobs -----------------------------------------------------------------------

def _reported(chunks: Iterable[bytes], blob: Descriptor, progress: ProgressCallback | None,
              stop: Stop) -> Iterator[bytes]:
    done = 0
    for data in chunks:
        stop.check()
        done += len(data)
        emit(progress, ProgressEvent("copy", blob.digest, "copying", done, blob.size))
        yield data


def _move_blobs(blobs: Sequence[Descriptor], workers: int, stop: Stop,
                move: Callable[[Descriptor], str]) -> dict[str, int]:
    counts = {"copied": 0, "skipped": 0, "bytes": 0}
    if not blobs:
        return counts
    with Pool(min(workers, len(blobs)), "copy-files", stop) as pool:
        for blob, status in zip(blobs, pool.map(move, blobs)):
            counts[status] += 1
            counts["bytes"] += blob.size if status == "copied" else 0
    return counts


# -- targets ----------------------------------------------------------------------------

def copy_to_layout(source: Source, writer: LayoutWriter, ref: str | None, plan: _Plan, *,
                   progress: ProgressCallback | None, stop: Stop,
                   workers: int = DEFAULT_WORKERS) -> dict[str, Any]:
    """Blobs, then child manifests, then the top one into ``writer``; ``ref`` names it in
    index.json (the caller commits). Returns the blob counts and the digest ``ref`` held."""
    def move(blob: Descriptor) -> str:
        if writer.has_blob(blob.digest):
            emit(progress, ProgressEvent("copy", blob.digest, "skipped", blob.size, blob.size))
            return "skipped"
        writer.write_blob(blob, _reported(source.iter_blob(blob, check=stop.check), blob,
                                          progress, stop))
        emit(progress, ProgressEvent("copy", blob.digest, "copied", blob.size, blob.size))
        return "copied"

    # A tar is written one member at a time; a folder takes several blobs at once.
    counts = _move_blobs(plan.blobs, 1 if writer.archive else workers, stop, move)
    stop.check()
    for child in plan.children:
        writer.write_manifest(child)
    writer.write_manifest(plan.top)
    counts["before"] = writer.set_ref(ref, plan.top)
    return counts


def copy_to_registry(source: Source, dst: Reference, plan: _Plan, *,
                     progress: ProgressCallback | None, stop: Stop, force: bool,
                     result: Result, workers: int = DEFAULT_WORKERS,
                     checked: bool = False) -> bool:
    """Check the source, send the blobs the target lacks, then the manifests through the
    change engine. True when the engine applied (and journaled) it; False: up to date."""
    client = client_for(dst.registry)
    existing = client.head_manifest(dst.repository, dst.tag or dst.reference)
    before = existing.digest if existing is not None else None
    if before == plan.top.digest:
        result.digest, result.changed = plan.top.digest, False
        result.details.update({"reason": "target already has this digest", "replaces": {}})
        emit(progress, ProgressEvent("copy", status="up to date", message=str(dst)))
        return False
    if not checked:
        # The whole source first: a damaged archive sends nothing at all.
        source.verify(plan.blobs, stop, progress)
    _refuse_protected_overwrite(dst, before, plan.top.digest, force)
    writes = _manifest_writes(client, dst, plan, before)

    def move(blob: Descriptor) -> str:
        if client.head_blob(dst.repository, blob.digest) is not None:
            emit(progress, ProgressEvent("copy", blob.digest, "skipped", blob.size, blob.size))
            return "skipped"
        chunks = _reported(source.iter_blob(blob, check=stop.check), blob, progress, stop)
        client.upload_blob(dst.repository, blob.digest, chunks, blob.size)
        emit(progress, ProgressEvent("copy", blob.digest, "copied", blob.size, blob.size))
        return "copied"

    counts = _move_blobs(plan.blobs, workers, stop, move)
    stop.check()
    result.digest = plan.top.digest
    result.bytes_moved = counts.pop("bytes")
    result.details.update({"blobs": counts, "platforms": plan.platforms,
                           "manifests": len(plan.children) + 1,
                           "replaces": ({dst.tag: before} if dst.tag and before else {})})
    changes.apply(writes, cancel=stop, result=result)
    return True


def _to_docker_archive(source: Source, target: FileLocation, plan: _Plan, ref: str | None,
                       platforms: str | Sequence[str], progress: ProgressCallback | None,
                       stop: Stop) -> int:
    image = plan.top
    if image.is_index:
        want = platforms[0] if platforms != "all" and len(platforms) == 1 else host_platform()
        if len(plan.children) == 1:
            image = plan.children[0]
        else:
            picked = [c for c, d in zip(plan.children, plan.top.children)
                      if _matches(want, d.platform_name)]
            if not picked:
                have = ", ".join(d.platform_name for d in plan.top.children)
                raise NotFound(f"{source.label} has no platform {want} (it has {have}); a "
                               "docker-archive holds one: pass platforms=[...] naming one. "
                               "Nothing was written", reference=source.label)
            image = picked[0]
    config = source.config(image)

    def blob(layer: Descriptor) -> Iterable[bytes]:
        return _reported(source.iter_blob(layer, check=stop.check), layer, progress, stop)

    def done(layer: Descriptor, size: int) -> None:
        emit(progress, ProgressEvent("copy", layer.digest, "copied", size, size))

    return write_docker_archive(target.path, ref=ref, manifest=image, config=config,
                                blob=blob, done=done)


# -- the verb's entry -------------------------------------------------------------------

def copy_files(source: str | Location, target: str | Location, *,
               platforms: str | Sequence[str], progress: ProgressCallback | None,
               workers: int, cancel: threading.Event | None, force: bool) -> Result:
    """``copy`` with a file on one side or both (see the module docstring)."""
    src = parse_location(source, what="source")
    dst = parse_location(target, what="target")
    if isinstance(dst, Reference) and dst.digest:
        raise BadReference(f"the target {dst} names a digest; copying from a file takes a tag "
                           "(registry/repository:tag). Nothing was copied", reference=str(dst))
    if isinstance(src, FileLocation) and isinstance(dst, FileLocation) and \
            src.path.resolve() == dst.path.resolve():
        raise InvalidArgument(f"source and target are the same file ({src.path}); nothing "
                              "was copied")
    stop = Stop(cancel, f"copy of {src} to {dst}")
    result = Result(action="copy", source=str(src), target=str(dst))
    applied = False
    with Timer() as timer:
        try:
            reader = open_source(src, stop, progress)
            plan = plan_image(reader, platforms)
            result.details["source_digest"] = plan.top.digest
            if isinstance(dst, Reference):
                applied = copy_to_registry(reader, dst, plan, progress=progress, stop=stop,
                                           force=force, result=result, workers=workers)
            else:
                _to_file(reader, src, dst, plan, platforms, progress, stop, workers, result)
        except Cancelled:
            raise Cancelled(f"copy of {src} to {dst} was cancelled; nothing was written to "
                            f"{dst} (an archive in the making was removed). Run the same copy "
                            "again to do it", reference=str(dst)) from None
    result.duration = timer.elapsed
    if not applied:
        journal.record(result)
    return result


def _to_file(reader: Source, src: Location, dst: FileLocation, plan: _Plan,
             platforms: str | Sequence[str], progress: ProgressCallback | None, stop: Stop,
             workers: int, result: Result) -> None:
    result.details["transport"] = dst.transport
    if dst.transport == "docker-archive":
        ref = dst.ref or (str(src) if isinstance(src, Reference) and src.tag else None)
        result.bytes_moved = _to_docker_archive(reader, dst, plan, ref, platforms, progress,
                                                stop)
        result.digest = plan.top.digest
        result.details["same_digest"] = False  # docker save's format: layers unpacked
        result.details["ref"] = ref
        return
    ref = dst.ref or reader.tag
    reader.verify(plan.blobs, stop, progress)
    writer = LayoutWriter(dst.path, archive=dst.is_archive)
    try:
        counts = copy_to_layout(reader, writer, ref, plan, progress=progress, stop=stop,
                                workers=workers)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    before = counts.pop("before")
    result.digest = plan.top.digest
    result.bytes_moved = counts.pop("bytes")
    result.changed = before != plan.top.digest
    result.details.update({"blobs": counts, "platforms": plan.platforms, "ref": ref,
                           "manifests": len(plan.children) + 1, "same_digest": True,
                           "replaces": {ref: before} if ref and before and
                           before != plan.top.digest else {}})
    emit(progress, ProgressEvent("copy", status="done", message=str(dst),
                                 current=result.bytes_moved))

