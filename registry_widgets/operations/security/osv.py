"""Advisory feeds in the OSV format, and the SQLite index that scans read.

A feed is OSV JSON records (https://ossf.github.io/osv-schema/) from one of:

- a folder of ``*.json`` files (searched recursively), e.g. OSV's per-ecosystem exports unzipped;
- a ``.zip`` of them, as OSV publishes (``<ecosystem>/all.zip``), or a single ``.json`` file;
- an OCI artifact in a registry (``registry/ns/osv-feed:2026-12-01``) whose layers are such
  zips or JSON files: an air-gapped site mirrors one artifact with ``copy``. ``publish_feed``
  writes one.

The index is built once per feed content and reused until the feed changes: its file name is
derived from a fingerprint (names, sizes and modification times of a folder's files; a zip's
size and time; an artifact's manifest digest). Writes are atomic (a temporary file, then
``os.replace``), so a scan never reads half an index.

Where: ``paths.feed_cache_dir()``: ``$XDG_CACHE_HOME/registry_widgets/feeds/<fingerprint>.sqlite``.

Layer 4: imports ``errors``, ``paths``, ``reference``, ``manifest``, the shared clients and
the change engine (``publish_feed`` writes its manifest through it); the version ordering
lives in ``scan``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ... import paths
from ...errors import BadReference, FeedError
from ...manifest import OCI_MANIFEST, Manifest, digest_of
from ...reference import Reference, parse_reference
from ..core import changes
from ..core.changes import Change, Plan
from ..core.clients import client_for

log = logging.getLogger("registry_widgets.feeds")

INDEX_VERSION = 2  # bump when the schema changes: older indexes are then rebuilt
FEED_ARTIFACT_TYPE = "application/vnd.osv.feed.v1"
ZIP_LAYER = "application/zip"
JSON_LAYER = "application/json"
SEVERITIES = ("unknown", "low", "medium", "high", "critical")


def normal_name(ecosystem: str, name: str) -> str:
    """The name as the index keys it: PEP 503 for PyPI, lower case elsewhere except npm
    (npm names are lower case already; Go and Maven ones are case-sensitive)."""
    if ecosystem == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    if ecosystem.split(":")[0] in ("Debian", "Ubuntu", "Alpine"):
        return name.lower()
    return name


def severity_of(record: dict[str, Any]) -> tuple[str, float | None, str]:
    """(level, base score, vector) from a record's CVSS vectors (the highest version wins),
    else from ``database_specific.severity`` (GHSA's LOW/MODERATE/HIGH/CRITICAL)."""
    import cvss

    best: tuple[int, float, str, str] | None = None
    for entry in record.get("severity") or []:
        kind, vector = entry.get("type", ""), entry.get("score", "")
        calculator = {"CVSS_V4": cvss.CVSS4, "CVSS_V3": cvss.CVSS3, "CVSS_V2": cvss.CVSS2}.get(kind)
        if calculator is None or not isinstance(vector, str):
            continue
        try:
            parsed = calculator(vector)
            score = float(parsed.base_score if kind == "CVSS_V4" else parsed.scores()[0])
            level = str(parsed.severity if kind == "CVSS_V4" else parsed.severities()[0]).lower()
        except Exception as e:  # noqa: BLE001 - a bad vector in one record: note it, go on
            log.info("%s: unreadable %s vector %r (%s)", record.get("id"), kind, vector, e)
            continue
        rank = int(kind[-1])
        if best is None or rank > best[0]:
            best = (rank, score, level, vector)
    if best is not None:
        level = best[2] if best[2] in SEVERITIES else ("low" if best[1] < 4 else "unknown")
        if level == "none":
            level = "low"
        return level, best[1], best[3]
    text = str((record.get("database_specific") or {}).get("severity") or "").lower()
    text = {"moderate": "medium", "important": "high"}.get(text, text)
    return (text if text in SEVERITIES else "unknown"), None, ""


@dataclass(frozen=True)
class Feed:
    """An indexed feed: where it came from, its fingerprint, and the index file."""

    source: str
    fingerprint: str
    index: Path
    records: int

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(f"file:{self.index}?mode=ro", uri=True, check_same_thread=False)
        # memory-mapped reads: a scan's thousands of lookups then cost no read() calls
        db.execute("PRAGMA mmap_size = 1073741824")
        db.execute("PRAGMA cache_size = -65536")
        return db

    def __str__(self) -> str:
        return f"{self.source} ({self.records} advisories)"


# --- reading OSV records from each kind of source -------------------------------------------

def _records_in(data: bytes, where: str) -> Iterator[dict[str, Any]]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise FeedError(f"{where} is not JSON ({e}); an OSV feed holds OSV JSON records") from e
    for record in value if isinstance(value, list) else [value]:
        if isinstance(record, dict) and "id" in record:
            yield record
        else:
            raise FeedError(f"{where} is not an OSV record (no 'id'); see "
                            "https://ossf.github.io/osv-schema/")


def _records_in_zip(handle: Any, where: str) -> Iterator[dict[str, Any]]:
    try:
        archive = zipfile.ZipFile(handle)
    except zipfile.BadZipFile as e:
        raise FeedError(f"{where} is not a zip file ({e}); download the feed again") from e
    with archive:
        for info in archive.infolist():
            if info.filename.endswith(".json") and not info.is_dir():
                yield from _records_in(archive.read(info), f"{where}:{info.filename}")


def _folder_fingerprint(folder: Path) -> tuple[str, list[Path]]:
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".json", ".zip") and p.is_file())
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest(), files


def _local_records(files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        if path.suffix == ".zip":
            with path.open("rb") as handle:
                yield from _records_in_zip(handle, str(path))
        else:
            yield from _records_in(path.read_bytes(), str(path))


def _artifact(ref: Reference) -> tuple[str, Manifest]:
    client = client_for(ref.registry)
    manifest = client.get_manifest(ref.repository, ref.reference)
    if manifest.is_index:
        raise FeedError(f"{ref} is an image index, not a feed artifact; point feed= at the "
                        "artifact that publish_feed wrote", registry=ref.registry, reference=str(ref))
    return manifest.digest, manifest


def _artifact_records(ref: Reference, manifest: Manifest) -> Iterator[dict[str, Any]]:
    client = client_for(ref.registry)
    layers = manifest.layers
    if not layers:
        raise FeedError(f"{ref} has no layers; it is not a feed artifact", registry=ref.registry,
                        reference=str(ref))
    for layer in layers:
        where = f"{ref} layer {layer.digest[:19]}"
        with tempfile.TemporaryDirectory(prefix="rw-feed-") as tmp:
            path = client.download_blob(ref.repository, layer.digest, Path(tmp) / "layer")
            with open(path, "rb") as handle:
                head = handle.read(4)
                handle.seek(0)
                if head.startswith(b"PK"):
                    yield from _records_in_zip(handle, where)
                else:
                    yield from _records_in(handle.read(), where)


# --- the index --------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE advisories (id TEXT PRIMARY KEY, aliases TEXT, summary TEXT, severity TEXT,
                         score REAL, vector TEXT, modified TEXT);
-- clustered by name (WITHOUT ROWID): a scan's lookups read neighbouring pages, and each row
-- carries its advisory's fields so no join is needed
CREATE TABLE affected (name TEXT, ecosystem TEXT, advisory TEXT, seq INTEGER, ranges TEXT,
                       versions TEXT, aliases TEXT, summary TEXT, severity TEXT, score REAL,
                       vector TEXT, PRIMARY KEY (name, ecosystem, advisory, seq)) WITHOUT ROWID;
"""


def _build(records: Iterator[dict[str, Any]], target: Path, source: str, fingerprint: str) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".building-", suffix=".sqlite", dir=target.parent)
    os.close(fd)
    count = 0
    try:
        db = sqlite3.connect(tmp)
        db.executescript(SCHEMA)
        advisories, affected = [], []
        for record in records:
            if record.get("withdrawn"):
                continue
            level, score, vector = severity_of(record)
            aliases = json.dumps(list(dict.fromkeys((record.get("aliases") or []) +
                                                    (record.get("upstream") or []))))
            summary = record.get("summary") or (record.get("details") or "")[:200]
            advisories.append((record["id"], aliases, summary, level, score, vector,
                               record.get("modified", "")))
            for seq, entry in enumerate(record.get("affected") or []):
                package = entry.get("package") or {}
                eco, name = package.get("ecosystem", ""), package.get("name", "")
                if not eco or not name:
                    continue
                ranges = [r for r in entry.get("ranges") or [] if r.get("type") in ("ECOSYSTEM", "SEMVER")]
                affected.append((normal_name(eco.split(":")[0], name), eco, record["id"], seq,
                                 json.dumps(ranges), json.dumps(entry.get("versions") or []),
                                 aliases, summary, level, score, vector))
            count += 1
            if len(advisories) >= 5000:
                db.executemany("INSERT OR REPLACE INTO advisories VALUES (?,?,?,?,?,?,?)", advisories)
                db.executemany("INSERT OR REPLACE INTO affected VALUES (?,?,?,?,?,?,?,?,?,?,?)", affected)
                advisories, affected = [], []
        db.executemany("INSERT OR REPLACE INTO advisories VALUES (?,?,?,?,?,?,?)", advisories)
        db.executemany("INSERT OR REPLACE INTO affected VALUES (?,?,?,?,?,?,?,?,?,?,?)", affected)
        db.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("version", str(INDEX_VERSION)), ("source", source), ("fingerprint", fingerprint),
            ("records", str(count))])
        db.commit()
        db.close()
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
    return count


def _existing(target: Path) -> int | None:
    """The record count of a complete index at ``target``, or None to rebuild it."""
    if not target.exists():
        return None
    try:
        with sqlite3.connect(f"file:{target}?mode=ro", uri=True) as db:
            meta = dict(db.execute("SELECT key, value FROM meta"))
        if meta.get("version") == str(INDEX_VERSION):
            return int(meta["records"])
    except (sqlite3.Error, KeyError, ValueError):
        pass
    return None


def open_feed(feed: str | os.PathLike[str] | Feed) -> Feed:
    """The indexed feed for a folder, a zip/JSON file or an artifact reference.

    The index is built on first use (and whenever the feed's content changes), then reused.
    Raises ``FeedError`` when the source is missing or not OSV.
    """
    if isinstance(feed, Feed):
        return feed
    text = os.fspath(feed)
    path = Path(text).expanduser()
    if path.exists():
        path = path.resolve()
        if path.is_dir():
            fingerprint, files = _folder_fingerprint(path)
            if not files:
                raise FeedError(f"the feed folder {path} holds no .json or .zip files; download "
                                "OSV's export there (see README, 'Security scanning')")
            records: Any = lambda: _local_records(files)  # noqa: E731
        else:
            st = path.stat()
            fingerprint = hashlib.sha256(f"{path}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()
            records = lambda: _local_records([path])  # noqa: E731
        source = str(path)
    else:
        if "/" not in text or text.startswith((".", "/", "~")) or text.endswith((".zip", ".json")):
            raise FeedError(f"no feed at {text!r}: no such file or folder. Give a folder or zip "
                            "of OSV JSON, or an artifact reference such as "
                            "registry.example/security/osv-feed:latest")
        try:
            ref = parse_reference(text)
        except BadReference as e:
            raise FeedError(f"no feed at {text!r}: neither a file or folder here nor an artifact "
                            f"reference ({e})") from e
        digest, manifest = _artifact(ref)
        fingerprint = hashlib.sha256(digest.encode()).hexdigest()
        records = lambda: _artifact_records(ref, manifest)  # noqa: E731
        source = f"{ref.name}@{digest}"
    target = paths.feed_cache_dir() / f"{fingerprint[:40]}.sqlite"
    count = _existing(target)
    if count is None:
        log.info("indexing feed %s", source)
        count = _build(records(), target, source, fingerprint)
    return Feed(source=source, fingerprint=fingerprint, index=target, records=count)


def publish_feed(source: str | os.PathLike[str], ref: str | Reference) -> str:
    """Push a feed as an OCI artifact; its manifest digest.

    ``source`` is a zip (one layer), a JSON file, or a folder: each ``.zip`` in it becomes a
    layer as it is (OSV's per-ecosystem downloads), and loose ``.json`` records are zipped
    into one more. ``copy`` then mirrors the artifact like any image, so an air-gapped
    registry gets the feed in one step and ``scan(..., feed="mirror/security/osv-feed:tag")``
    reads it there.
    """
    ref = parse_reference(ref)
    path = Path(os.fspath(source)).expanduser()
    layers: list[tuple[bytes, str, str]] = []  # (data, media type, title)
    if path.is_dir():
        for archive in sorted(path.rglob("*.zip")):
            layers.append((archive.read_bytes(), ZIP_LAYER, archive.relative_to(path).as_posix()))
        records = sorted(path.rglob("*.json"))
        if records:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
                for file in records:
                    bundle.write(file, file.relative_to(path).as_posix())
            layers.append((buffer.getvalue(), ZIP_LAYER, f"{path.name}.zip"))
    elif path.is_file():
        data = path.read_bytes()
        layers.append((data, ZIP_LAYER if data[:2] == b"PK" else JSON_LAYER, path.name))
    if not layers:
        raise FeedError(f"no feed at {path}: give a folder or zip of OSV JSON to publish")
    client = client_for(ref.registry)
    config = b"{}"
    for blob in [config] + [data for data, _, _ in layers]:
        digest = digest_of(blob)
        if client.head_blob(ref.repository, digest) is None:
            client.upload_blob(ref.repository, digest, blob, len(blob))
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": FEED_ARTIFACT_TYPE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest_of(config),
                   "size": len(config)},
        "layers": [{"mediaType": media, "digest": digest_of(data), "size": len(data),
                    "annotations": {"org.opencontainers.image.title": title}}
                   for data, media, title in layers],
    }, separators=(",", ":")).encode()
    artifact = Manifest(manifest, OCI_MANIFEST)
    where = ref.tag or ref.reference
    # The manifest goes up through the change engine: a feed published over another one is
    # re-read right before, backed up (restore puts the old feed back), verified, journaled.
    before = changes.current_digest(client, ref.repository, where)
    if before != artifact.digest:
        plan = Plan(action="publish_feed", registry=ref.registry, target=str(ref))
        plan.changes.append(Change(ref.repository, where, before=before, after=artifact.digest,
                                   manifest=artifact, reason="the feed artifact"))
        changes.apply(plan)
    return artifact.digest
