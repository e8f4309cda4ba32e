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

A feed is read defensively: a record that breaks the schema is one ``FeedError`` naming the
file (and the record's id), a record file is never inflated past ``MAX_RECORD_FILE_BYTES``,
and a string that looks like a path is never looked up as an image (``is_path_like``).

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
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ... import paths
from ...errors import BadReference, FeedError, NotFound, Unreachable
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
# OSV records are kilobytes; the largest (kernel CVEs listing every affected version) a few
# MiB. A record file inflating past this is not one (a zip bomb), and is refused before it
# is held in memory whole.
MAX_RECORD_FILE_BYTES = 32 << 20


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
        calculators = {"CVSS_V4": cvss.CVSS4, "CVSS_V3": cvss.CVSS3, "CVSS_V2": cvss.CVSS2}
        calculator = calculators.get(kind)
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

SCHEMA_HINT = ("see https://ossf.github.io/osv-schema/; fix or remove it, or download the feed "
               "again")


def _too_big(where: str) -> FeedError:
    return FeedError(f"{where} is larger than {MAX_RECORD_FILE_BYTES >> 20} MiB (inflated); "
                     "OSV record files are kilobytes, so it is not one (a zip bomb?). "
                     "Download the feed again from osv.dev")


def _bounded(handle: Any, where: str) -> bytes:
    """The whole of ``handle``, refused past ``MAX_RECORD_FILE_BYTES`` (read no further)."""
    data = handle.read(MAX_RECORD_FILE_BYTES + 1)
    if len(data) > MAX_RECORD_FILE_BYTES:
        raise _too_big(where)
    return data


def _records_in(data: bytes, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise FeedError(f"{where} is not JSON ({e}); an OSV feed holds OSV JSON records") from e
    for record in value if isinstance(value, list) else [value]:
        if isinstance(record, dict) and "id" in record:
            yield where, record
        else:
            raise FeedError(f"{where} is not an OSV record (no 'id'); see "
                            "https://ossf.github.io/osv-schema/")


def _records_in_zip(handle: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise FeedError(f"{where} is not a zip file ({e}); download the feed again") from e
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".json") or info.is_dir():
                continue
            name = f"{where}:{info.filename}"
            if info.file_size > MAX_RECORD_FILE_BYTES:  # what the zip says; checked again below
                raise _too_big(name)
            try:
                # streamed: a member inflates only as far as the bound, whatever it claims
                with archive.open(info) as member:
                    data = _bounded(member, name)
            except FeedError:
                raise
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
                    RuntimeError, ValueError) as e:
                raise FeedError(f"{name} cannot be inflated ({e}); download the feed "
                                "again") from e
            yield from _records_in(data, name)


def _folder_fingerprint(folder: Path) -> tuple[str, list[Path]]:
    files = sorted(p for p in folder.rglob("*")
                   if p.suffix in (".json", ".zip") and p.is_file())
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest(), files


def _local_records(files: list[Path]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in files:
        try:
            with path.open("rb") as handle:
                if path.suffix == ".zip":
                    yield from _records_in_zip(handle, str(path))
                else:
                    yield from _records_in(_bounded(handle, str(path)), str(path))
        except OSError as e:
            raise FeedError(f"cannot read the feed file {path} ({e.strerror or e})") from e


def _artifact(ref: Reference) -> tuple[str, Manifest]:
    client = client_for(ref.registry)
    manifest = client.get_manifest(ref.repository, ref.reference)
    if manifest.is_index:
        raise FeedError(f"{ref} is an image index, not a feed artifact; point feed= at the "
                        "artifact that publish_feed wrote", registry=ref.registry,
                        reference=str(ref))
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
                    yield from _records_in(_bounded(handle, where), where)


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


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _rows(where: str, record: dict[str, Any]) -> tuple[tuple, list[tuple]]:
    """The index rows of one record: (advisory row, affected rows). A field of the wrong
    type is one ``FeedError`` naming the file and the record, never an AttributeError or a
    sqlite error further on."""
    rid = record.get("id")

    def bad(field: str, expected: str) -> FeedError:
        return FeedError(f"{where}: record {rid!r}: {field} is not {expected}; {SCHEMA_HINT}")

    if not isinstance(rid, str) or not rid:
        raise bad("'id'", "a non-empty string")
    for key in ("summary", "details", "modified"):
        if record.get(key) is not None and not isinstance(record[key], str):
            raise bad(f"'{key}'", "a string")
    for key in ("aliases", "upstream"):
        if record.get(key) is not None and not _strings(record[key]):
            raise bad(f"'{key}'", "a list of strings")
    severity = record.get("severity")
    if severity is not None and not (isinstance(severity, list)
                                     and all(isinstance(e, dict) for e in severity)):
        raise bad("'severity'", "a list of objects")
    if not isinstance(record.get("database_specific") or {}, dict):
        raise bad("'database_specific'", "an object")
    affected = record.get("affected") or []
    if not isinstance(affected, list):
        raise bad("'affected'", "a list")
    level, score, vector = severity_of(record)
    aliases = json.dumps(list(dict.fromkeys((record.get("aliases") or []) +
                                            (record.get("upstream") or []))))
    summary = record.get("summary") or (record.get("details") or "")[:200]
    rows = []
    for seq, entry in enumerate(affected):
        at = f"'affected[{seq}]"
        if not isinstance(entry, dict):
            raise bad(at + "'", "an object")
        package = entry.get("package") or {}
        if not isinstance(package, dict):
            raise bad(at + ".package'", "an object")
        eco, name = package.get("ecosystem", ""), package.get("name", "")
        if not isinstance(eco, str) or not isinstance(name, str):
            raise bad(at + ".package' ecosystem or name", "a string")
        ranges = entry.get("ranges") or []
        if not isinstance(ranges, list) or not all(isinstance(r, dict) for r in ranges):
            raise bad(at + ".ranges'", "a list of objects")
        for n, rng in enumerate(ranges):
            events = rng.get("events") or []
            if not isinstance(events, list) or not all(
                    isinstance(e, dict) and all(isinstance(v, (str, int)) for v in e.values())
                    for e in events):
                raise bad(f"{at}.ranges[{n}].events'", "a list of objects of versions")
        versions = entry.get("versions") or []
        if not _strings(versions):
            raise bad(at + ".versions'", "a list of strings")
        if not eco or not name:
            continue
        kept = [r for r in ranges if r.get("type") in ("ECOSYSTEM", "SEMVER")]
        rows.append((normal_name(eco.split(":")[0], name), eco, rid, seq, json.dumps(kept),
                     json.dumps(versions), aliases, summary, level, score, vector))
    return (rid, aliases, summary, level, score, vector, record.get("modified") or ""), rows


def _build(records: Iterator[tuple[str, dict[str, Any]]], target: Path, source: str,
           fingerprint: str) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".building-", suffix=".sqlite", dir=target.parent)
    os.close(fd)
    count = 0
    insert_advisories = "INSERT OR REPLACE INTO advisories VALUES (?,?,?,?,?,?,?)"
    insert_affected = "INSERT OR REPLACE INTO affected VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    try:
        db = sqlite3.connect(tmp)
        try:
            db.executescript(SCHEMA)
            advisories, affected = [], []
            for where, record in records:
                if record.get("withdrawn"):
                    continue
                advisory, rows = _rows(where, record)
                advisories.append(advisory)
                affected.extend(rows)
                count += 1
                if len(advisories) >= 5000:
                    db.executemany(insert_advisories, advisories)
                    db.executemany(insert_affected, affected)
                    advisories, affected = [], []
            db.executemany(insert_advisories, advisories)
            db.executemany(insert_affected, affected)
            db.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("version", str(INDEX_VERSION)), ("source", source),
                ("fingerprint", fingerprint), ("records", str(count))])
            db.commit()
        finally:
            db.close()
        os.replace(tmp, target)
    except sqlite3.Error as e:
        os.unlink(tmp)
        raise FeedError(f"could not write the index of the feed {source} at {target} ({e}); "
                        "check the free space there, or set XDG_CACHE_HOME elsewhere") from e
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


def is_path_like(text: str) -> bool:
    """Does a feed string name a file or folder rather than an artifact?

    The rule: a string is a path when it starts with ``.``, ``/`` or ``~``, holds a
    backslash, ends in ``.zip`` or ``.json``, has no ``/`` at all, or its first component
    is not a registry host (a name with a ``.`` or a ``:`` port, or ``localhost``). A feed
    artifact's reference therefore names its registry (``docker.io/ns/feed:tag`` for
    Docker Hub), and a missing folder such as ``feeds/osv`` is reported as missing instead
    of being looked up on Docker Hub."""
    if text.startswith((".", "/", "~")) or "\\" in text or text.endswith((".zip", ".json")):
        return True
    first, slash, _ = text.partition("/")
    return not slash or not ("." in first or ":" in first or first == "localhost")


def open_feed(feed: str | os.PathLike[str] | Feed) -> Feed:
    """The indexed feed for a folder, a zip/JSON file or an artifact reference.

    The index is built on first use (and whenever the feed's content changes), then reused.
    Raises ``FeedError`` when the source is missing or not OSV.
    """
    if isinstance(feed, Feed):
        return feed
    text = os.fspath(feed)
    path = Path(text).expanduser()
    if not path.exists() and (not isinstance(feed, str) or is_path_like(text)):
        raise FeedError(f"no feed at {text!r}: no such folder or file. Give a folder or zip of "
                        "OSV JSON, or an artifact reference that names its registry, such as "
                        "registry.example/security/osv-feed:latest (docker.io/... for Docker "
                        "Hub)")
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
        try:
            ref = parse_reference(text)
        except BadReference as e:
            raise FeedError(f"no feed at {text!r}: neither a file or folder here nor an artifact "
                            f"reference ({e})") from e
        try:
            digest, manifest = _artifact(ref)
        except (NotFound, Unreachable) as e:
            raise FeedError(f"no feed at {text!r}: no such folder or file here, and no artifact "
                            f"there ({e})", registry=ref.registry, reference=str(ref)) from e
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
