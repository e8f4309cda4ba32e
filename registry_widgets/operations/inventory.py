"""``images``: what a registry holds, one row per tag, as a pandas DataFrame.

Tag lists carry no digests, sizes or dates (REGISTRY-NOTES: "each row costs a manifest
HEAD/GET and, for a date, the config blob"), so a listing is: the catalog (or the
repositories given), every tag list, one manifest HEAD per tag, and then, once per distinct
digest, the manifest and its config blob. That per-digest detail is content-addressed and
kept on disk by ``detail_cache``: a second listing costs only the lists and the HEADs.
Lists follow ``Link`` pagination; HEADs and details run ``workers`` at a time.

Layer 3: imports ``reference``, ``manifest``, ``registry`` (through ``clients``), ``errors``,
``progress`` and its sibling helpers; never the widgets.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, TypeVar

import pandas as pd

from ..errors import BadReference, Denied, NotFound, ProtocolError, Unauthorized
from ..manifest import Manifest, platform_name
from ..progress import ProgressCallback, ProgressEvent, emit
from ..reference import Reference, validate_repository
from ..registry import RegistryClient
from . import detail_cache
from .arguments import check_positive_int
from .clients import client_for

log = logging.getLogger("registry_widgets.inventory")

DEFAULT_WORKERS = 16
COLUMNS = ["namespace", "repository", "tag", "digest", "media_type", "platforms", "size",
           "size_per_platform", "created", "labels", "reference"]
# Config blobs we read for a date, labels and platform; anything else (an OCI artifact's
# config, say) is counted in the size but not downloaded.
IMAGE_CONFIG_TYPES = ("application/vnd.oci.image.config.v1+json",
                      "application/vnd.docker.container.image.v1+json")
MAX_CONFIG_BYTES = 4 << 20  # image configs are a few KiB; refuse to pull a huge blob for a date

T = TypeVar("T")
R = TypeVar("R")


def namespace_of(repository: str) -> str:
    """The first path segment of a two-or-more-segment repository, else ``""`` (as
    ``Reference.namespace``)."""
    first, slash, _ = repository.partition("/")
    return first if slash else ""


def validate_namespace(namespace: str) -> str:
    """Return ``namespace`` if it is one path component of the reference grammar
    (``my_namespace``, ``team-a``), else raise BadReference saying why."""
    rule = ("a namespace is a single path component (lowercase letters and digits, joined by "
            "'.', '_', '__' or dashes), e.g. my_namespace in registry/namespace/repository:tag")
    if not isinstance(namespace, str) or not namespace or "/" in namespace:
        raise BadReference(f"Invalid namespace {namespace!r}: {rule}", reference=str(namespace))
    try:
        return validate_repository(namespace)
    except BadReference as e:
        raise BadReference(f"Invalid namespace {namespace!r}: {e} Use a valid name: {rule}",
                           reference=namespace) from None


@dataclass
class Inventory:
    """Everything a listing learned: the rows of ``images()`` and the detail per digest
    (``namespaces()`` needs the blob digests to count shared layers once)."""

    registry: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def images(registry: str, namespace: str | None = None, *,
           repositories: Iterable[str] | None = None, workers: int = DEFAULT_WORKERS,
           progress: ProgressCallback | None = None, page_size: int | None = None) -> pd.DataFrame:
    """One row per tag in a registry (or in one ``namespace`` of it), like the guide's
    ``ibmcloud cr image-list`` or ``crane ls`` with sizes and dates.

    Columns: ``namespace`` (first path segment, ``""`` for one-segment repositories),
    ``repository`` (the full path, ``ns/app``), ``tag``, ``digest``, ``media_type``,
    ``platforms`` (``["linux/amd64", ...]``; every child of an index), ``size`` (compressed
    bytes, config plus layers; for an index the sum over its platforms, itemised in
    ``size_per_platform``), ``created`` (UTC, from the image config; for an index its newest
    platform), ``labels`` (the config's ``Labels``; for an index those all platforms agree
    on) and ``reference`` (``registry/repository:tag``). Sorted by namespace, repository, tag.

    ``repositories`` lists the repositories to look at instead of asking the catalog (which
    some registries refuse). ``page_size`` is the ``n`` asked for per catalog or tag-list page.
    A repository or tag deleted while listing is skipped (``frame.attrs["skipped"]`` names
    them). Progress events (action ``"images"``) count tag lists, manifests and details.
    """
    return frame(inventory(registry, namespace, repositories=repositories, workers=workers,
                           progress=progress, page_size=page_size))


def inventory(registry: str, namespace: str | None = None, *,
              repositories: Iterable[str] | None = None, workers: int = DEFAULT_WORKERS,
              progress: ProgressCallback | None = None, page_size: int | None = None) -> Inventory:
    """The listing behind :func:`images` and ``namespaces``: rows plus per-digest detail."""
    if namespace:
        validate_namespace(namespace)
    check_positive_int("workers", workers)
    client = client_for(registry)
    result = Inventory(registry=client.registry)
    repos = _repositories(client, repositories, page_size)
    if namespace is not None:
        repos = [repo for repo in repos if namespace_of(repo) == namespace]

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="images") as pool:
        def tags_of(repo: str) -> list[str] | None:
            try:
                return list(client.tags(repo, n=page_size))
            except NotFound:  # deleted since the catalog was read
                return None

        tag_lists = _run(pool, tags_of, repos, progress, "tag lists")
        pairs = []
        for repo, tags in zip(repos, tag_lists):
            if tags is None:
                result.skipped.append(f"{client.registry}/{repo}")
                log.info("skipping %s/%s: the repository is gone", client.registry, repo)
            else:
                pairs.extend((repo, tag) for tag in sorted(set(tags)))

        # With nothing cached, every manifest must be read anyway: GET it by tag at once
        # instead of a HEAD then a GET by digest (a third fewer requests on a cold listing).
        # With a cache, a HEAD per tag is enough, and Docker Hub counts HEADs as no pull.
        prefetched: dict[str, Manifest] = {}
        if detail_cache.has_entries():
            heads = _run(pool, lambda pair: client.head_manifest(*pair), pairs, progress,
                         "manifests")
            digests_of = [head.digest if head else None for head in heads]
        else:
            manifests = _run(pool, lambda pair: _manifest_or_none(client, *pair), pairs,
                             progress, "manifests")
            prefetched = {m.digest: m for m in manifests if m is not None}
            digests_of = [m.digest if m else None for m in manifests]
        where: dict[str, str] = {}  # digest -> a repository that has it
        tagged = []
        for (repo, tag), digest in zip(pairs, digests_of):
            if digest is None:  # the tag went away between the list and the HEAD/GET
                result.skipped.append(str(Reference(client.registry, repo, tag)))
                continue
            where.setdefault(digest, repo)
            tagged.append((repo, tag, digest))

        memo: dict[str, dict[str, Any]] = {}
        lock = threading.Lock()

        def detail_of(digest: str) -> dict[str, Any] | None:
            try:
                return _detail(client, where[digest], digest, memo, lock, prefetched)
            except NotFound:  # deleted between the HEAD and the GET
                return None

        digests = list(where)
        details = _run(pool, detail_of, digests, progress, "details")
    result.details = {d: detail for d, detail in zip(digests, details) if detail is not None}

    for repo, tag, digest in tagged:
        detail = result.details.get(digest)
        ref = Reference(client.registry, repo, tag)
        if detail is None:
            result.skipped.append(str(ref))
            continue
        result.rows.append({
            "namespace": namespace_of(repo), "repository": repo, "tag": tag, "digest": digest,
            "media_type": detail["media_type"], "platforms": list(detail["platforms"]),
            "size": detail["size"], "size_per_platform": dict(detail["size_per_platform"]),
            "created": detail["created"], "labels": dict(detail["labels"]),
            "reference": str(ref)})
    return result


def frame(listing: Inventory) -> pd.DataFrame:
    """The ``images()`` table of a listing."""
    table = pd.DataFrame(listing.rows, columns=COLUMNS)
    table["size"] = table["size"].astype("int64")
    # Microseconds: one dtype whatever pandas infers, and room for year 1 ("0001-01-01").
    table["created"] = pd.to_datetime(table["created"].astype(object), utc=True, format="ISO8601",
                                      errors="coerce").astype("datetime64[us, UTC]")
    table = table.sort_values(["namespace", "repository", "tag"], kind="stable")
    table = table.reset_index(drop=True)
    table.attrs["registry"] = listing.registry
    table.attrs["skipped"] = list(listing.skipped)
    return table


# -- the requests --------------------------------------------------------------------------

def _repositories(client: RegistryClient, repositories: Iterable[str] | None,
                  page_size: int | None) -> list[str]:
    if repositories is not None:
        if isinstance(repositories, str):
            repositories = [repositories]
        return sorted({validate_repository(repo) for repo in repositories})
    try:
        return sorted(set(client.catalog(n=page_size)))
    except (NotFound, Unauthorized, Denied) as e:
        if isinstance(e, Unauthorized) and client.transport.auth.has_credentials:
            # The credentials were refused: logging in again is the fix (the message says
            # so), not listing repositories by hand, which would be refused just the same.
            raise
        # The catalog is not part of the OCI spec; some registries refuse it.
        raise type(e)(f"{client.registry} will not list its repositories (the catalog, HTTP "
                      f"{e.status}): pass them yourself, images(..., repositories=['ns/app'])"
                      f". {e}", registry=client.registry, status=e.status, code=e.code) from e


def _run(pool: ThreadPoolExecutor, work: Callable[[T], R], items: list[T],
         progress: ProgressCallback | None, what: str) -> list[R]:
    """``work`` over ``items`` on the pool, results in item order, a progress event per item."""
    futures = {pool.submit(work, item): i for i, item in enumerate(items)}
    results: list[Any] = [None] * len(items)
    try:
        for done, future in enumerate(as_completed(futures), 1):
            results[futures[future]] = future.result()
            emit(progress, ProgressEvent("images", status=what, current=done, total=len(items),
                                         message=f"{done}/{len(items)} {what}"))
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return results


def _manifest_or_none(client: RegistryClient, repository: str, tag: str) -> Manifest | None:
    try:
        return client.get_manifest(repository, tag)
    except NotFound:  # the tag went away since the list
        return None


def _detail(client: RegistryClient, repository: str, digest: str,
            memo: dict[str, dict[str, Any]], lock: threading.Lock,
            prefetched: dict[str, Manifest] | None = None) -> dict[str, Any]:
    """What ``digest`` is, from memory, the disk cache, or the registry (then cached)."""
    with lock:
        known = memo.get(digest)
    if known is None:
        known = detail_cache.load(digest)
        if known is None:
            manifest = (prefetched or {}).get(digest) or client.get_manifest(repository, digest)
            if manifest.is_index:
                known = _index_detail(client, repository, manifest, memo, lock)
            else:
                known = _image_detail(client, repository, manifest)
            # Only complete answers are cached: a missing child or config may come back.
            if not known.get("incomplete"):
                detail_cache.store(digest, known)
        with lock:
            memo[digest] = known
    return known


def _image_detail(client: RegistryClient, repository: str, manifest: Manifest) -> dict[str, Any]:
    config = manifest.config
    layers = manifest.layers
    settings: dict[str, Any] = {}
    incomplete = False
    if config is not None and config.media_type in IMAGE_CONFIG_TYPES \
            and config.size <= MAX_CONFIG_BYTES:
        try:
            settings = json.loads(client.get_blob(repository, config.digest))
        except NotFound:
            log.info("config %s of %s@%s is missing", config.digest, repository, manifest.digest)
            incomplete = True
        except (ValueError, UnicodeDecodeError) as e:
            raise ProtocolError(f"the config blob {config.digest} of "
                                f"{client.registry}/{repository}@{manifest.digest} is not JSON",
                                registry=client.registry) from e
        if not isinstance(settings, dict):
            settings = {}
    platform = platform_name({key: settings.get(key) for key in ("os", "architecture", "variant")}
                             if settings.get("os") or settings.get("architecture") else None)
    blobs = {d.digest: d.size for d in manifest.blobs}
    size = sum(d.size for d in manifest.blobs)
    labels = (settings.get("config") or {}).get("Labels") or {}
    created = settings.get("created")
    return {
        "digest": manifest.digest, "media_type": manifest.media_type,
        "platforms": [platform], "size": size, "size_per_platform": {platform: size},
        "created": created if isinstance(created, str) else None,
        "labels": {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        "config": {"digest": config.digest, "size": config.size} if config else None,
        "layers": [{"digest": d.digest, "size": d.size} for d in layers],
        "blobs": blobs, "children": [], "incomplete": incomplete,
    }


def _index_detail(client: RegistryClient, repository: str, manifest: Manifest,
                  memo: dict[str, dict[str, Any]], lock: threading.Lock) -> dict[str, Any]:
    platforms: list[str] = []
    per_platform: dict[str, int] = {}
    blobs: dict[str, int] = {}
    children: list[dict[str, Any]] = []
    newest: tuple[pd.Timestamp, str] | None = None
    labels: dict[str, str] | None = None
    incomplete = False
    for child in manifest.children:
        try:
            sub = _detail(client, repository, child.digest, memo, lock)
        except NotFound:
            log.info("child %s of %s@%s is missing", child.digest, repository, manifest.digest)
            incomplete = True
            continue
        incomplete = incomplete or bool(sub.get("incomplete"))
        # The index's platform field is what clients select on; the config's is a fallback.
        names = [child.platform_name] if child.platform else sub["platforms"]
        platforms.extend(names)
        sizes = {names[0]: sub["size"]} if child.platform else sub["size_per_platform"]
        for name, size in sizes.items():
            per_platform[name] = per_platform.get(name, 0) + size
        blobs.update(sub["blobs"])
        children.append({"digest": child.digest, "platforms": names, "size": sub["size"]})
        when = _timestamp(sub["created"])
        if when is not None and (newest is None or when > newest[0]):
            newest = (when, sub["created"])
        labels = dict(sub["labels"]) if labels is None else \
            {k: v for k, v in labels.items() if sub["labels"].get(k) == v}
    return {
        "digest": manifest.digest, "media_type": manifest.media_type, "platforms": platforms,
        "size": sum(c["size"] for c in children), "size_per_platform": per_platform,
        "created": newest[1] if newest else None, "labels": labels or {},
        "config": None, "layers": [], "blobs": blobs, "children": children,
        "incomplete": incomplete,
    }


def _timestamp(value: str | None) -> pd.Timestamp | None:
    if not value:
        return None
    when = pd.to_datetime(value, utc=True, format="ISO8601", errors="coerce")
    return None if pd.isna(when) else when
