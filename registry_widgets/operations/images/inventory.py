"""``images``: what a registry holds, one row per tag, as a pandas DataFrame.

Tag lists carry no digests, sizes or dates (REGISTRY-NOTES: "each row costs a manifest
HEAD/GET and, for a date, the config blob"), so a current listing is: the catalog (or the
repositories given), every tag list, and a request per tag: a HEAD where the local ``index``
already knows the tag's digest and what it is, else a GET of the manifest by tag. Once per
distinct digest not yet in the index, the manifest (already read, or by digest) and its
config blob. With ``max_age``, whatever the index verified within that age is used without
asking the registry at all. Lists follow ``Link`` pagination; requests run ``workers`` at a
time: by default 16 over HTTP/1.1 (each request in flight holds a connection) and 100 over
HTTP/2, where one connection carries them all and the round trip, not the client, bounds a
listing across a network (REGISTRY-NOTES.md, "HTTP/2 and latency").

Accessory tags of the cosign tag schema (``sha256-<hex>.sig``/``.att``/``.sbom`` and the OCI
1.1 referrers fallback tag) are not images: they are shown in the ``accessories`` column of
the image they belong to and cost no request.

Layer 3: imports ``reference``, ``manifest``, ``registry`` (through ``clients``), ``errors``,
``progress`` and its sibling helpers; never the widgets.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypeVar

from ...errors import Cancelled, NotFound, ProtocolError
from ...manifest import Manifest, platform_name
from ...progress import ProgressCallback, ProgressEvent, emit
from ...reference import (Reference, accessory_of, namespace_of,
                          validate_namespace)
from ...registry import RegistryClient
from ... import vendors
from ..core import index
from ..core.arguments import check_optional_positive_int
from ..core.clients import client_for
from ..core.index import Index
from ..core.workers import Pool, Stop
from .repositories import (CATALOG, Repositories, catalog_refused,  # noqa: F401 - re-exported
                           parse_repositories, remembered_repositories, repositories_to_read)

if TYPE_CHECKING:  # annotations only: pandas is imported where a table is built
    import pandas as pd

log = logging.getLogger("registry_widgets.inventory")

DEFAULT_WORKERS = 16  # requests at once over HTTP/1.1: a connection each, as browsers keep
# Over HTTP/2: streams on one connection. 100 is what libcurl allows per connection by
# default (CURLMOPT_MAX_CONCURRENT_STREAMS) and what ``curl --parallel-max`` allows at most.
HTTP2_WORKERS = 100
COLUMNS = ["namespace", "repository", "tag", "digest", "media_type", "platforms", "size",
           "size_per_platform", "created", "labels", "accessories", "reference",
           "artifact_type"]
# Config blobs we read for a date, labels and platform; anything else (an OCI artifact's
# config, say) is counted in the size but not downloaded.
IMAGE_CONFIG_TYPES = ("application/vnd.oci.image.config.v1+json",
                      "application/vnd.docker.container.image.v1+json")
MAX_CONFIG_BYTES = 4 << 20  # image configs are a few KiB; refuse to pull a huge blob for a date
# With ``on_partial``, the repositories listed first, so a first page of rows shows early.
FIRST_BATCH = 8
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Inventory:
    """Everything a listing learned: the rows of ``images()`` and the detail per digest
    (``namespaces()`` needs the blob digests to count shared layers once)."""

    registry: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # accessory tags whose image is not listed
    verified: list[float] = field(default_factory=list)  # per row: when its digest was confirmed
    # When the lists the rows came from were read (the catalog, each tag list): a repository
    # or tag added since is missing, so "as of" is never newer than the oldest of them.
    lists_verified: list[float] = field(default_factory=list)
    from_index: int = 0  # rows served from the index without a request
    requests: int = 0
    max_age: float | None = None
    repositories: list[str] = field(default_factory=list)
    vendor: str | None = None  # the vendor API that gave tags and digests ("harbor", ...)
    outside_requests: int = 0  # sent by a vendor's own SDK, not the registry's transport
    # digest -> what the vendor API said besides (push time, Vulnerability Advisor's status)
    vendor_details: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Where the repositories came from, said where the catalog was not read or was refused
    # ("3 repositories you named; this registry does not list its own").
    notes: list[str] = field(default_factory=list)


def images(registry: str, namespace: str | None = None, *,
           repositories: str | Iterable[str] | None = None, max_age: float | None = None,
           workers: int | None = None, progress: ProgressCallback | None = None,
           page_size: int | None = None,
           on_partial: Callable[[pd.DataFrame], Any] | None = None,
           cancel: threading.Event | None = None) -> pd.DataFrame:
    """One row per tag in a registry (or in one ``namespace`` of it), like the guide's
    ``ibmcloud cr image-list`` or ``crane ls`` with sizes and dates.

    Columns: ``namespace`` (first path segment, ``""`` for one-segment repositories),
    ``repository`` (the full path, ``ns/app``), ``tag``, ``digest``, ``media_type``,
    ``platforms`` (``["linux/amd64", ...]``; every child of an index), ``size`` (compressed
    bytes, config plus layers; for an index the sum over its platforms, itemised in
    ``size_per_platform``), ``created`` (UTC, from the image config; for an index its newest
    platform), ``labels`` (the config's ``Labels``; for an index those all platforms agree
    on), ``accessories`` (``{"signature": tag, "sbom": tag, ...}``: cosign-style accessory
    tags of this image, which are not rows of their own) and ``reference``
    (``registry/repository:tag``). Sorted by namespace, repository, tag.

    By default the answer is current: every tag's digest is confirmed by the registry now.
    ``max_age=SECONDS`` serves what the local index verified within that age without a
    request (``max_age=3600`` after a listing an hour ago: nothing is sent). Either way
    ``frame.attrs`` says how current it is: ``as_of`` (the oldest confirmation among the
    rows, UTC), ``from_index`` (rows served from the index) and ``requests`` (sent).

    Where the registry has its own listing API (Harbor v2, Docker Hub, IBM Cloud: see
    ``vendors``), tags and digests come from it, a hundred tags or a whole namespace a
    request, and the rows are the same; ``frame.attrs["vendor_api"]`` names it (None: the
    OCI API).

    ``repositories`` lists the repositories to look at instead of asking the catalog (which
    Docker Hub, GHCR and others refuse): a list, or names separated by commas or lines.
    Without it, where the catalog is refused, the repositories remembered for the registry
    (``remember_repositories``) are listed, and ``frame.attrs["notes"]`` says so; with
    none remembered, the error says whether the refusal was a 401 (log in) or a 403.
    ``page_size`` is the ``n`` asked for per catalog or tag-list page. ``workers`` is how
    many requests are in flight at once: by default 16 where the registry speaks HTTP/1.1
    (a connection each) and 100 where it speaks HTTP/2 (streams on one connection). A
    repository or tag deleted while listing is skipped (``frame.attrs["skipped"]`` names
    them). Progress events (action ``"images"``) count tag lists, manifests and details.
    ``on_partial(frame)`` is called with the rows of the first few repositories while the
    rest are listed.

    ``cancel``: a ``threading.Event``; setting it stops every worker within about a second
    and raises :class:`Cancelled` (Ctrl-C or a kernel interrupt: KeyboardInterrupt). A
    listing changes nothing, so there is nothing to undo.
    """
    return frame(inventory(registry, namespace, repositories=repositories, max_age=max_age,
                           workers=workers, progress=progress, page_size=page_size,
                           on_partial=(lambda part: on_partial(frame(part))) if on_partial
                           else None, cancel=cancel))


@dataclass
class _Tag:
    repository: str
    tag: str
    digest: str | None  # as the index knows it
    verified: float | None


def inventory(registry: str, namespace: str | None = None, *,
              repositories: str | Iterable[str] | None = None, max_age: float | None = None,
              workers: int | None = None, progress: ProgressCallback | None = None,
              page_size: int | None = None,
              on_partial: Callable[["Inventory"], Any] | None = None,
              offline: bool = False, cancel: threading.Event | None = None) -> Inventory:
    """The listing behind :func:`images` and ``namespaces``: rows plus per-digest detail.
    ``offline``: only what the index holds, whatever its age, and no request at all."""
    stop = Stop(cancel, f"the listing of {registry}")
    try:
        return _inventory(registry, namespace, repositories, max_age, workers, progress,
                          page_size, on_partial, offline, stop)
    except Cancelled:
        raise Cancelled(f"the listing of {registry} was cancelled; it changed nothing. Run it "
                        "again for the full table (what was already read is in the index).",
                        registry=registry) from None


def _inventory(registry: str, namespace: str | None, repositories: str | Iterable[str] | None,
               max_age: float | None, workers: int | None, progress: ProgressCallback | None,
               page_size: int | None, on_partial: Callable[["Inventory"], Any] | None,
               offline: bool, stop: Stop) -> Inventory:
    if namespace:
        validate_namespace(namespace)
    check_optional_positive_int("workers", workers)
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, (int, float))
                                or math.isnan(max_age) or max_age < 0):
        raise ValueError(f"max_age is seconds (a number, 0 or more) or None for a current "
                         f"listing, not {max_age!r}")
    wanted = None if repositories is None else parse_repositories(repositories)
    client = client_for(registry)
    vendor = None
    if wanted is None and namespace and not offline and max_age is None:
        # A vendor API lists a namespace's repositories where the catalog may be refused.
        vendor = vendors.listing(client)
        wanted = vendor.repositories(namespace) if vendor is not None else None
    now = time.time()
    fresh_after = -math.inf if offline else None if max_age is None else now - max_age
    result = Inventory(registry=client.registry, max_age=max_age)
    before = client.transport.stats["requests"]
    store = index.shared()
    with Pool(workers or max(DEFAULT_WORKERS, HTTP2_WORKERS), "images", stop) as pool:
        if wanted is not None:
            repos = wanted
            result.notes += repositories_to_read(client.registry, named=wanted,
                                                 catalog=list).notes
        elif offline:
            when, repos = store.catalog(client.registry)
            result.lists_verified += [when] if when is not None else []
            if when is None:  # a registry whose catalog was never read: what the user named
                repos = remembered_repositories(client.registry)
        else:
            chosen, when = _repositories(client, store, page_size, fresh_after, now, stop)
            repos = chosen.names
            result.notes += chosen.notes
            result.lists_verified.append(when)
        if namespace is not None:
            repos = [repo for repo in repos if namespace_of(repo) == namespace]
        result.repositories = repos
        batches = [repos]
        if on_partial is not None and len(repos) > FIRST_BATCH:
            batches = [repos[:FIRST_BATCH], repos[FIRST_BATCH:]]
        for number, batch in enumerate(batches):
            _list(client, store, pool, batch, result, progress, page_size, fresh_after, now,
                  offline, vendor, workers)
            if number < len(batches) - 1:
                result.requests = client.transport.stats["requests"] - before
                on_partial(result)  # type: ignore[misc]
    result.requests = client.transport.stats["requests"] - before + result.outside_requests
    return result


def indexed(registry: str, namespace: str | None = None, *,
            repositories: str | Iterable[str] | None = None) -> pd.DataFrame | None:
    """What the local index holds of ``registry`` (or ``namespace``), at once and without a
    request, whatever its age (``attrs["as_of"]`` says how old); None when the index has
    never seen a listing of it. The widgets show this while :func:`images` revalidates."""
    listing = inventory(registry, namespace, repositories=repositories, offline=True)
    if not listing.rows and not listing.repositories:
        return None
    return frame(listing)


def _list(client: RegistryClient, store: Index, pool: Pool, repos: list[str],
          result: Inventory, progress: ProgressCallback | None, page_size: int | None,
          fresh_after: float | None, now: float, offline: bool = False,
          vendor: vendors.Listing | None = None, workers: int | None = None) -> None:
    """List ``repos`` into ``result``: tag lists, digests, details, rows. ``offline``: what
    the index lacks is left out instead of asked for. ``vendor``: the vendor listing that
    already named the repositories (it is reused, with what it read). ``workers``: requests
    at once (None: as many as the registry's protocol carries well, see ``_width``)."""
    registry = client.registry

    def fresh(verified: float | None) -> bool:
        return fresh_after is not None and verified is not None and verified >= fresh_after

    known = store.tag_lists(registry, repos)
    stale = [repo for repo in repos if not fresh(known.get(repo, (None, {}))[0])]
    if offline:
        repos, stale = [repo for repo in repos if repo not in stale], []
    # Where the registry has a vendor API (Harbor, Docker Hub, IBM), a page of it gives a
    # hundred tags with their digests: those tags need no manifest request of their own.
    vendor = vendor or (vendors.listing(client) if stale else None)
    vendor_digests: dict[str, dict[str, str]] = {}  # repo -> {tag: digest}, confirmed now
    outside_before = getattr(vendor, "outside_requests", 0)  # a reused listing has sent some

    def tags_of(repo: str) -> list[str] | None:
        try:
            found = vendor.tag_digests(repo) if vendor is not None else None
            if found is not None:
                vendor_digests[repo] = found
                return list(found)
            return list(client.tags(repo, n=page_size))
        except NotFound:  # deleted since the catalog was read
            return None

    lists = dict(zip(stale, _run(pool, tags_of, stale, progress, "tag lists",
                                  _width(client, workers))))
    if lists:
        store.store_tag_lists(registry, lists, now)
    result.lists_verified += [now if repo in lists else known[repo][0] for repo in repos
                              if repo in lists or known.get(repo, (None,))[0] is not None]

    tags: list[_Tag] = []
    accessories: dict[tuple[str, str], dict[str, str]] = {}  # (repo, subject) -> {kind: tag}
    with _bulk():
        for repo in repos:
            entries = known.get(repo, (None, {}))[1]
            names = lists[repo] if repo in lists else list(entries)
            if names is None:
                result.skipped.append(f"{registry}/{repo}")
                log.info("skipping %s/%s: the repository is gone", registry, repo)
                continue
            for name in sorted(set(names)):
                accessory = accessory_of(name)
                if accessory is not None:
                    accessories.setdefault((repo, accessory[0]), {})[accessory[1]] = name
                    continue
                digest, verified = (vendor_digests[repo][name], now) \
                    if repo in vendor_digests else entries.get(name, (None, None))
                tags.append(_Tag(repo, name, digest, verified))
        cached = store.details(t.digest for t in tags if t.digest)
    by_vendor = [t for t in tags if t.repository in vendor_digests]
    others = [t for t in tags if t.repository not in vendor_digests] if by_vendor else tags
    served = [t for t in others if t.digest in cached and fresh(t.verified)]
    asked = [] if offline else [t for t in others
                                if not (t.digest in cached and fresh(t.verified))]

    def confirm(entry: _Tag) -> tuple[str | None, Manifest | None]:
        # What the index already describes needs only its digest confirmed: a HEAD (which
        # Docker Hub does not count as a pull). Anything else is read at once by tag: one
        # GET instead of a HEAD then a GET by digest.
        if entry.digest in cached:
            head = client.head_manifest(entry.repository, entry.tag)
            return (head.digest if head else None), None
        manifest = _manifest_or_none(client, entry.repository, entry.tag)
        return (manifest.digest if manifest else None), manifest

    answers = _run(pool, confirm, asked, progress, "manifests", _width(client, workers))
    if asked:
        store.store_digests(registry, [(t.repository, t.tag, digest)
                                       for t, (digest, _) in zip(asked, answers)], now)
    prefetched = {m.digest: m for _, m in answers if m is not None}
    where: dict[str, str] = {}  # digest -> a repository that has it
    tagged: list[tuple[_Tag, str, float]] = []
    for entry in served:
        tagged.append((entry, entry.digest, entry.verified))  # type: ignore[arg-type]
    if by_vendor:
        store.store_digests(registry, [(t.repository, t.tag, t.digest) for t in by_vendor], now)
        tagged += [(entry, entry.digest, now) for entry in by_vendor]  # type: ignore[misc]
        result.vendor = vendor.kind  # type: ignore[union-attr]
        result.vendor_details.update({digest: dict(said) for digest, said in  # type: ignore
                                      vendor.details.items()})  # type: ignore[union-attr]
    result.outside_requests += getattr(vendor, "outside_requests", 0) - outside_before
    for entry, (digest, _) in zip(asked, answers):
        if digest is None:  # the tag went away between the list and the HEAD/GET
            result.skipped.append(str(Reference(registry, entry.repository, entry.tag)))
            continue
        tagged.append((entry, digest, now))
    for entry, digest, _ in tagged:
        where.setdefault(digest, entry.repository)

    memo: dict[str, dict[str, Any]] = dict(cached)
    new: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def detail_of(digest: str) -> dict[str, Any] | None:
        try:
            return _detail(client, store, where[digest], digest, memo, new, lock, prefetched)
        except NotFound:  # deleted between the HEAD and the GET
            return None

    missing = [d for d in where if d not in memo]
    vanished = {digest for digest, detail in
                zip(missing, _run(pool, detail_of, missing, progress, "details",
                                     _width(client, workers))) if detail is None}
    if new:
        store.store_details(new)
    if vanished:  # the index must not keep pointing these tags at manifests that are gone
        store.store_digests(registry, [(entry.repository, entry.tag, None)
                                       for entry, digest, _ in tagged if digest in vanished], now)

    with _bulk():
        for entry, digest, verified in sorted(tagged, key=lambda t: (t[0].repository, t[0].tag)):
            detail = memo.get(digest)
            # str(Reference(registry, repository, tag)), without validating again names that
            # were validated when the tag list was read.
            ref = f"{registry}/{entry.repository}:{entry.tag}"
            if detail is None:
                result.skipped.append(ref)
                continue
            result.details[digest] = detail
            result.rows.append({
                "namespace": namespace_of(entry.repository), "repository": entry.repository,
                "tag": entry.tag, "digest": digest, "media_type": detail["media_type"],
                "platforms": list(detail["platforms"]), "size": detail["size"],
                "size_per_platform": dict(detail["size_per_platform"]),
                "created": detail["created"], "labels": dict(detail["labels"]),
                "accessories": dict(accessories.get((entry.repository, digest), {})),
                "reference": ref, "artifact_type": detail.get("artifact_type", "")})
            result.verified.append(verified)
            result.from_index += verified != now
        listed = {(entry.repository, digest) for entry, digest, _ in tagged}
        result.orphans += sorted(str(Reference(registry, repo, tag))
                                 for (repo, subject), kinds in accessories.items()
                                 if (repo, subject) not in listed for tag in kinds.values())


@contextmanager
def _bulk() -> Iterator[None]:
    """Pause the cyclic garbage collector while tens of thousands of small, acyclic dicts
    are built (the index's details, the rows): each collection would walk all of them
    again, about a quarter of the time of a 10,000-tag listing from the index. Restored
    after, as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def frame(listing: Inventory) -> pd.DataFrame:
    """The ``images()`` table of a listing."""
    import pandas as pd  # here, not at the top: a headless copy never loads it
    table = pd.DataFrame(listing.rows, columns=COLUMNS)
    table["size"] = table["size"].astype("int64")
    # Microseconds: one dtype whatever pandas infers, and room for year 1 ("0001-01-01").
    table["created"] = pd.to_datetime(table["created"].astype(object), utc=True, format="ISO8601",
                                      errors="coerce").astype("datetime64[us, UTC]")
    table = table.sort_values(["namespace", "repository", "tag"], kind="stable")
    table = table.reset_index(drop=True)
    table.attrs["registry"] = listing.registry
    table.attrs["skipped"] = list(listing.skipped)
    table.attrs["accessories_without_image"] = list(listing.orphans)
    ages = listing.verified + listing.lists_verified
    table.attrs["as_of"] = pd.Timestamp(min(ages), unit="s", tz="UTC") if ages \
        else pd.Timestamp.now(tz="UTC")
    table.attrs["from_index"] = listing.from_index
    table.attrs["requests"] = listing.requests
    table.attrs["max_age"] = listing.max_age
    table.attrs["vendor_api"] = listing.vendor
    table.attrs["notes"] = list(listing.notes)
    return table


# -- the requests --------------------------------------------------------------------------

def _repositories(client: RegistryClient, store: Index, page_size: int | None,
                  fresh_after: float | None, now: float, stop: Stop
                  ) -> tuple[Repositories, float]:
    """The repositories to list (the catalog, else those remembered: see ``repositories``),
    and when that list was read from the registry."""
    when, known = store.catalog(client.registry)
    if fresh_after is not None and when is not None and when >= fresh_after:
        return Repositories(known, CATALOG), when

    def catalog() -> list[str]:
        names = set()
        for name in client.catalog(n=page_size):  # one page per request: stop between them
            stop.check()
            names.add(name)
        return sorted(names)

    # Refused credentials: logging in again is the fix (the message says so), not listing
    # repositories by hand, which would be refused just the same.
    chosen = repositories_to_read(
        client.registry, named=None, catalog=catalog,
        credentials_refused=lambda e: client.transport.auth.has_credentials)
    if chosen.source == CATALOG:
        store.store_catalog(client.registry, chosen.names, now)
    return chosen, now


def _width(client: RegistryClient, workers: int | None) -> int:
    """Requests to keep in flight: ``workers`` if given; else as many as HTTP/2 streams on
    one connection where the registry answered over HTTP/2 (known after its first answer:
    the catalog, or the first tag lists), else one per HTTP/1.1 connection."""
    if workers is not None:
        return workers
    return HTTP2_WORKERS if client.transport.multiplexed else DEFAULT_WORKERS


def _run(pool: Pool, work: Callable[[T], R], items: list[T],
         progress: ProgressCallback | None, what: str, width: int) -> list[R]:
    """``work`` over ``items`` on ``width`` of the pool's workers, results in item order,
    a progress event per item."""
    def each(done: int, total: int) -> None:
        emit(progress, ProgressEvent("images", status=what, current=done, total=total,
                                     message=f"{done}/{total} {what}"))

    return pool.map(work, items, each, width=width)


def _manifest_or_none(client: RegistryClient, repository: str, tag: str) -> Manifest | None:
    try:
        return client.get_manifest(repository, tag)
    except NotFound:  # the tag went away since the list
        return None


def _detail(client: RegistryClient, store: Index, repository: str, digest: str,
            memo: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]],
            lock: threading.Lock, prefetched: dict[str, Manifest] | None = None
            ) -> dict[str, Any]:
    """What ``digest`` is, from memory, the index, or the registry (then kept in ``new`` for
    the index)."""
    with lock:
        known = memo.get(digest)
    if known is None:
        known = store.details([digest]).get(digest)
        if known is None:
            manifest = (prefetched or {}).get(digest) or client.get_manifest(repository, digest)
            if manifest.is_index:
                known = _index_detail(client, store, repository, manifest, memo, new, lock)
            else:
                known = _image_detail(client, repository, manifest)
            # Only complete answers are kept: a missing child or config may come back.
            if not known.get("incomplete"):
                with lock:
                    new[digest] = known
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
            settings = json.loads(client.get_small_blob(repository, config.digest))
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
    # An OCI artifact (a model, a dataset) says what it is: its artifactType, else its
    # config's media type. It has no platform, and "unknown" would only mislead.
    artifact_type = str(manifest.json.get("artifactType") or "") or (
        config.media_type if config is not None and config.media_type not in IMAGE_CONFIG_TYPES
        else "")
    platforms = [] if artifact_type and platform == "unknown" else [platform]
    labels = (settings.get("config") or {}).get("Labels") or {}
    created = settings.get("created")
    return {
        "digest": manifest.digest, "media_type": manifest.media_type,
        "platforms": platforms, "size": size,
        "size_per_platform": {p: size for p in platforms}, "artifact_type": artifact_type,
        "created": created if isinstance(created, str) else None,
        "labels": {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        "config": {"digest": config.digest, "size": config.size} if config else None,
        "layers": [{"digest": d.digest, "size": d.size} for d in layers],
        "blobs": blobs, "children": [], "incomplete": incomplete,
    }


def _index_detail(client: RegistryClient, store: Index, repository: str, manifest: Manifest,
                  memo: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]],
                  lock: threading.Lock) -> dict[str, Any]:
    platforms: list[str] = []
    per_platform: dict[str, int] = {}
    blobs: dict[str, int] = {}
    children: list[dict[str, Any]] = []
    newest: tuple[pd.Timestamp, str] | None = None
    labels: dict[str, str] | None = None
    incomplete = False
    for child in manifest.children:
        try:
            sub = _detail(client, store, repository, child.digest, memo, new, lock)
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
    import pandas as pd  # here, not at the top: a headless copy never loads it
    if not value:
        return None
    when = pd.to_datetime(value, utc=True, format="ISO8601", errors="coerce")
    return None if pd.isna(when) else when
