"""``sync`` to and from one OCI layout: a namespace carried across an air gap as one file.

Into a layout (``oci:DIR`` or ``oci-archive:FILE``): every selected tag of every source
repository is written to the one layout, each named in ``index.json`` by
``org.opencontainers.image.ref.name`` = ``REPOSITORY:TAG``, the repository named as a sync
into a registry names it (``plan.mirrored`` with an empty target: ``a/ns`` holding
``ns/app`` gives ``app:1.0``; the repository ``a/ns/app`` gives ``app:1.0`` too, as skopeo
sync appends its last component; ``skopeo sync --dest dir`` (1.9 has no ``oci`` destination)
names its per-image folders the same way, ``app:1.0``). Blobs shared by several images are
stored once; manifests byte for byte, so every digest is kept.

Back from a layout into ``registry/path``: each entry ``REPOSITORY:TAG`` goes to
``path/REPOSITORY:TAG``, an entry named by a tag alone (as ``skopeo copy ... oci:DIR:TAG``
writes) to ``path:TAG``. The whole layout is read and checked once first (every blob's size
and digest): a damaged archive is refused before anything is sent. Each image then goes
through ``transfer.copy_to_registry``: blobs, then its manifests through the change engine,
which backs up any tag it replaces. ``dry_run=True`` shows what would be created, replaced
or skipped; ``plan=`` that dry run applies exactly it (a target tag that moved since fails
alone, "changed since the plan").

Layer 5: imports ``errors``, ``progress``, ``reference``, the core's ``clients``,
``journal``, ``result`` and ``workers``, the images' ``transfer``, ``layout`` and
``transports``, and its sibling ``plan``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Mapping, Sequence

from ...errors import Cancelled, InvalidArgument, RegistryWidgetsError
from ...progress import ProgressCallback, ProgressEvent, emit
from ...reference import accessory_of, namespace_of, parse_reference
from ..core import journal
from ..core.clients import client_for
from ..core.result import Result, Timer
from ..core.workers import Stop
from ..images.layout import Layout, LayoutWriter
from ..images.transfer import (copy_to_layout, copy_to_registry, open_source, plan_image,
                               layout_source)
from ..images.transports import FileLocation, parse_location
from .plan import mirrored, select_tags

__all__ = ["sync_to_layout", "sync_from_layout", "export_images"]

log = logging.getLogger("registry_widgets.sync")


def _refuse_latest(filters: Mapping[str, Any]) -> None:
    if filters.get("latest") is not None:
        raise InvalidArgument("latest= picks tags by the images' created time, which a sync "
                              "to or from a layout does not read; select with tags= or semver= "
                              "instead. Nothing was done")


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


# -- registry -> layout -----------------------------------------------------------------

def sync_to_layout(registry: str, names: Sequence[str], anchor: str, target: FileLocation, *,
                   filters: dict[str, Any], dry_run: bool, cancel: threading.Event | None,
                   progress: ProgressCallback | None, source: str) -> Result:
    """Every selected tag of ``names`` (repositories of ``registry``) into one layout."""
    _refuse_latest(filters)
    client = client_for(registry)
    wanted: list[tuple[str, str, str, str]] = []  # (registry, repository, tag, ref.name)
    for name in names:
        tags = select_tags(sorted(client.tags(name)), regex=filters["tags"],
                           semver=filters["semver"])
        if not filters["accessories"]:
            tags = [t for t in tags if accessory_of(t) is None]
        where = mirrored(name, anchor, "")[1:]
        wanted += [(registry, name, tag, f"{where}:{tag}") for tag in tags]
    result = _write_layout(wanted, target, platforms=filters["platforms"], dry_run=dry_run,
                           cancel=cancel, progress=progress, source=source)
    result.details.update({"repositories": len(names), "source_repositories": list(names),
                           "filters": filters})
    return result


def export_images(references: Sequence[str], target: str, *,
                  platforms: str | Sequence[str] = "all", cancel: threading.Event | None = None,
                  progress: ProgressCallback | None = None) -> Result:
    """Several images (``registry/namespace/repository:tag``) into one OCI layout or
    oci-archive, each named ``REPOSITORY:TAG`` relative to its namespace, as a sync of that
    namespace names it (so ``sync(archive, "registry/namespace")`` puts them back where they
    were). What the dashboard's "Export to archive" does with the selected rows."""
    location = parse_location(target, what="target")
    if not isinstance(location, FileLocation) or location.transport == "docker-archive" \
            or location.ref:
        raise InvalidArgument(f"target {target!r}: export writes an OCI layout, oci:FOLDER or "
                              "oci-archive:FILE (without :REF); nothing was done")
    if not references:
        raise InvalidArgument("export: no image given; select one or more. Nothing was done")
    wanted = []
    for text in references:
        ref = parse_reference(text)
        if not ref.tag:
            raise InvalidArgument(f"export: {text} names no tag; an image in a layout is "
                                  "named by its tag. Nothing was done")
        where = mirrored(ref.repository, namespace_of(ref.repository), "")[1:]
        wanted.append((ref.registry, ref.repository, ref.tag, f"{where}:{ref.tag}"))
    return _write_layout(wanted, location, platforms=platforms, dry_run=False, cancel=cancel,
                         progress=progress, source=", ".join(references))


def _write_layout(wanted: Sequence[tuple[str, str, str, str]], target: FileLocation, *,
                  platforms: str | Sequence[str], dry_run: bool,
                  cancel: threading.Event | None, progress: ProgressCallback | None,
                  source: str) -> Result:
    stop = Stop(cancel, f"sync {source} -> {target}")
    result = Result(action="sync", source=source, target=str(target), dry_run=dry_run)
    rows: list[dict[str, Any]] = []
    with Timer() as timer:
        if dry_run:
            rows = [_row(*one, target, "copy") for one in wanted]
        else:
            writer = LayoutWriter(target.path, archive=target.is_archive)
            try:
                for done, one in enumerate(wanted, 1):
                    rows.append(_one_to_layout(*one, target, writer, platforms, progress,
                                               stop))
                    emit(progress, ProgressEvent("sync", status="copied", current=done,
                                                 total=len(wanted),
                                                 message=f"{done}/{len(wanted)} images"))
                writer.commit()
            except BaseException:
                writer.abort()
                raise
            result.bytes_moved = sum(row["bytes_moved"] for row in rows)
    result.changed = not dry_run and any(r["status"] == "copied" for r in rows)
    result.details = {"source": source, "target": str(target), "images": rows,
                      "counts": _counts(rows)}
    if dry_run:
        result.details["dry_run"] = True
    result.duration = timer.elapsed
    if not dry_run:
        journal.record(result)
    return result


def _row(registry: str, repository: str, tag: str, ref: str, target: FileLocation,
         status: str, **extra: Any) -> dict[str, Any]:
    return {"repository": repository, "reference": tag, "kind": "image",
            "source": f"{registry}/{repository}:{tag}", "target": str(target.with_ref(ref)),
            "ref": ref, "action": "copy", "status": status, **extra}


def _one_to_layout(registry: str, repository: str, tag: str, ref: str, target: FileLocation,
                   writer: LayoutWriter, platforms: str | Sequence[str],
                   progress: ProgressCallback | None, stop: Stop) -> dict[str, Any]:
    try:
        reader = open_source(parse_reference(f"{registry}/{repository}:{tag}"), stop)
        plan = plan_image(reader, platforms)
        counts = copy_to_layout(reader, writer, ref, plan, progress=progress, stop=stop)
    except (Cancelled, KeyboardInterrupt):
        raise
    except RegistryWidgetsError as e:
        log.warning("sync: %s/%s:%s failed: %s", registry, repository, tag, e)
        return _row(registry, repository, tag, ref, target, "failed", error=str(e),
                    bytes_moved=0)
    return _row(registry, repository, tag, ref, target, "copied", digest=plan.top.digest,
                bytes_moved=counts["bytes"])


# -- layout -> registry -----------------------------------------------------------------

def sync_from_layout(source: FileLocation, registry: str, path: str, *,
                     filters: dict[str, Any], dry_run: bool,
                     plan: Result | Mapping[str, Any] | None, cancel: threading.Event | None,
                     progress: ProgressCallback | None, target: str) -> Result:
    """Every selected entry of the layout into ``registry/path`` (see the module docstring)."""
    _refuse_latest(filters)
    stop = Stop(cancel, f"sync {source} -> {target}")
    layout = Layout(source.path, archive=source.is_archive)
    planned = _planned_rows(plan, str(source), target) if plan is not None else None
    entries = _entries(layout, registry, path, filters)
    if planned is not None:
        entries = [e for e in entries if e[0] in planned]
    client = client_for(registry)
    rows: list[dict[str, Any]] = []
    result = Result(action="sync", source=str(source), target=target, dry_run=dry_run)
    with Timer() as timer:
        readers = {ref: layout_source(layout, ref) for ref, _ in entries}
        plans = {ref: plan_image(readers[ref], filters["platforms"]) for ref, _ in entries}
        for ref, dst in entries:
            head = client.head_manifest(dst.repository, dst.tag or "")
            before = head.digest if head is not None else None
            digest = plans[ref].top.digest
            action = "skip" if before == digest else ("replace" if before else "copy")
            rows.append({"repository": dst.repository, "reference": dst.tag, "kind": "image",
                         "ref": ref, "source": str(source.with_ref(ref)), "target": str(dst),
                         "action": action, "status": action, "digest": digest,
                         "target_digest_before": before,
                         "bytes": sum(b.size for b in plans[ref].blobs)})
        if not dry_run:
            # One pass over every blob first: a damaged archive sends nothing at all.
            blobs = {b.digest: b for p in plans.values() for b in p.blobs}
            layout.verify(blobs.values(), check=stop.check)
            for done, row in enumerate(rows, 1):
                row.update(_one_to_registry(row, readers[row["ref"]], plans[row["ref"]],
                                            planned, progress, stop))
                emit(progress, ProgressEvent("sync", status="copied", current=done,
                                             total=len(rows), message=f"{done}/{len(rows)} "
                                             "images"))
            result.bytes_moved = sum(row.get("bytes_moved", 0) for row in rows)
    result.changed = not dry_run and any(r["status"] in ("copied", "replaced") for r in rows)
    result.details = {"source": str(source), "target": target, "images": rows,
                      "counts": _counts(rows), "filters": filters,
                      "replaces": {r["target"]: r["target_digest_before"] for r in rows
                                   if r["action"] == "replace"}}
    if dry_run:
        result.details["dry_run"] = True
    else:
        result.details["backup_ids"] = [r["backup_id"] for r in rows if r.get("backup_id")]
        if planned is not None:
            result.details["from_plan"] = True
    result.duration = timer.elapsed
    return result


def _entries(layout: Layout, registry: str, path: str,
             filters: dict[str, Any]) -> list[tuple[str, Any]]:
    """(ref.name, target reference) of each selected entry, in ref order."""
    refs = sorted(layout.refs())
    if not refs:
        raise InvalidArgument(f"{layout.path} names no image (no entry carries "
                              "org.opencontainers.image.ref.name), so sync cannot tell where "
                              "each goes: copy them one by one. Nothing was done")
    tags = {ref: ref.rpartition(":")[2] for ref in refs}
    chosen = set(select_tags(list(tags.values()), regex=filters["tags"],
                             semver=filters["semver"]))
    out = []
    for ref in refs:
        if tags[ref] not in chosen:
            continue
        repository, _, tag = ref.rpartition(":")
        where = f"{path}/{repository}" if repository else path
        out.append((ref, parse_reference(f"{registry}/{where}:{tag}")))
    return out


def _planned_rows(plan: Result | Mapping[str, Any], source: str,
                  target: str) -> dict[str, dict[str, Any]]:
    details = plan.details if isinstance(plan, Result) else plan.get("details", plan)
    dry = plan.dry_run if isinstance(plan, Result) else details.get("dry_run")
    if not dry or (details.get("source"), details.get("target")) != (source, target):
        raise InvalidArgument(f"plan= is not a dry run of sync {source} -> {target}; make one "
                              "with dry_run=True, look at it, then pass it as plan=. Nothing "
                              "was done")
    return {row["ref"]: row for row in details.get("images", []) if row.get("action") != "skip"}


def _one_to_registry(row: dict[str, Any], reader: Any, image_plan: Any,
                     planned: dict[str, dict[str, Any]] | None,
                     progress: ProgressCallback | None, stop: Stop) -> dict[str, Any]:
    if row["action"] == "skip":
        return {"status": "skipped", "bytes_moved": 0}
    if planned is not None:
        shown = planned[row["ref"]]
        moved = [what for what, now, then in (
            ("the target tag", row["target_digest_before"], shown["target_digest_before"]),
            ("the image in the layout", row["digest"], shown["digest"])) if now != then]
        if moved:
            return {"status": "failed", "bytes_moved": 0,
                    "error": f"{' and '.join(moved)} changed since the plan; nothing was "
                             "copied for it: make the plan again"}
    done = Result(action="copy", source=row["source"], target=row["target"])
    try:
        copy_to_registry(reader, parse_reference(row["target"]), image_plan,
                         progress=progress, stop=stop, force=False, result=done, checked=True)
    except (Cancelled, KeyboardInterrupt):
        raise
    except RegistryWidgetsError as e:
        log.warning("sync: %s failed: %s", row["target"], e)
        return {"status": "failed", "bytes_moved": 0, "error": str(e)}
    status = {"copy": "copied", "replace": "replaced"}[row["action"]]
    out = {"status": status, "bytes_moved": done.bytes_moved}
    if done.details.get("backup_id"):
        out["backup_id"] = done.details["backup_id"]
    return out
