"""The local index of what registries hold: one SQLite file per user, shared by every kernel.

Per registry it keeps what the last listing saw, each with the time it was last verified:
the catalog (the repositories), each repository's tag list, and each tag's digest. Per
manifest digest it keeps what the manifest and its config say (platforms, sizes, created,
labels, blobs). Those are content-addressed and never go stale (REGISTRY-NOTES: "a cache
keyed by digest never goes stale"); a tag's digest does go stale, which is why every tag row
carries its ``verified`` time and ``images(max_age=...)`` decides what is fresh enough.

Where: ``paths.index_file()``, ``$XDG_CACHE_HOME/registry_widgets/index.sqlite3``
(``~/.cache/...`` by default).
The file is in WAL mode, so readers never wait for a writer, and every write is one short
transaction, so two kernels listing at once both finish (the busy timeout covers the other's
commit). It is a cache: a file that is not a database, or of another schema version, is
moved aside and rebuilt, and a failure to write only costs speed next time.

Layer 3 helper: imports only the standard library, ``paths`` and ``reference``.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable

from ... import paths
from ...reference import is_digest

log = logging.getLogger("registry_widgets.index")

# Bump when the tables or the shape of a detail change: an older file is then rebuilt.
SCHEMA_VERSION = 3  # 3: a detail says its artifact_type
# How long a statement waits for another process's write lock. Short: this is a cache, and a
# listing that waits on another kernel's transaction is slower than one that skips the write
# (a write skipped costs speed next time; a 30 s wait per write once stalled a listing 74 s).
BUSY_TIMEOUT = 0.25
# After the file was found locked while opening, how long until it is tried again.
REOPEN_AFTER = 5.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS catalogs (
    registry TEXT PRIMARY KEY,
    verified REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS repositories (
    registry TEXT NOT NULL,
    repository TEXT NOT NULL,
    verified REAL,                      -- when its tag list was read, NULL: never
    PRIMARY KEY (registry, repository)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tags (
    registry TEXT NOT NULL,
    repository TEXT NOT NULL,
    tag TEXT NOT NULL,
    digest TEXT,                        -- NULL: listed, digest not read yet
    verified REAL,                      -- when digest was last confirmed by the registry
    PRIMARY KEY (registry, repository, tag)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS manifests (
    digest TEXT PRIMARY KEY,
    detail TEXT NOT NULL                -- JSON: what inventory computes from the manifest
) WITHOUT ROWID;
"""


class Index:
    """One open index file. Thread-safe (one connection behind a lock: SQLite work here is
    microseconds next to a request). A file that cannot be opened makes every read empty
    and every write a no-op: listing still works, only slower."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else paths.index_file()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._reopen_at: float | None = None  # set while another process holds the file
        self._db = self._first_open()

    def _first_open(self) -> sqlite3.Connection | None:
        try:
            return self._open()
        except (sqlite3.DatabaseError, OSError) as e:
            if _locked(e):
                # Healthy but busy (another kernel's transaction): never moved aside as
                # corrupt. List without it for now and try again a little later.
                log.info("index %s is busy in another process (%s); listing without it",
                         self.path, e)
                self._reopen_at = time.monotonic() + REOPEN_AFTER
                return None
            log.info("index %s is unusable (%s); rebuilding it", self.path, e)
            return self._rebuild()

    def _usable(self) -> sqlite3.Connection | None:
        """The connection, reopened once the lock that kept it closed may have gone."""
        if self._db is None and self._reopen_at is not None \
                and time.monotonic() >= self._reopen_at:
            self._reopen_at = None
            self._db = self._first_open()
        return self._db

    # -- opening and rebuilding -----------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None,
                             check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable enough for a cache
            return db
        except BaseException:
            db.close()
            raise

    def _open(self) -> sqlite3.Connection:
        db = self._connect()
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"schema version {version}, not {SCHEMA_VERSION}")
            if version == 0:
                with _transaction(db):
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            # Reading every table proves the file is a database of ours.
            for table in ("catalogs", "repositories", "tags", "manifests"):
                db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall()
            return db
        except BaseException:
            db.close()
            raise

    def _rebuild(self) -> sqlite3.Connection | None:
        """Move the unusable file aside (kept for a bug report) and start an empty one."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            old = Path(str(self.path) + suffix)
            try:
                if old.exists():
                    os.replace(old, old.with_name(f"{old.name}.corrupt-{stamp}-{os.getpid()}"))
            except OSError:
                pass
        try:
            return self._open()
        except (sqlite3.DatabaseError, OSError) as e:
            if _locked(e):  # another process created it meanwhile and holds it: fine later
                self._reopen_at = time.monotonic() + REOPEN_AFTER
            log.warning("cannot use the index %s (%s); listing without it", self.path, e)
            return None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            if self._usable() is None:
                return []
            try:
                return self._db.execute(sql, tuple(args)).fetchall()  # type: ignore[union-attr]
            except sqlite3.DatabaseError as e:
                self._failed(e)
                return []

    def _write(self, statements: list[tuple[str, Iterable[Iterable[Any]]]]) -> None:
        """Run ``(sql, rows)`` pairs with executemany in one transaction."""
        with self._lock:
            db = self._usable()
            if db is None:
                return
            try:
                with _transaction(db):
                    for sql, rows in statements:
                        db.executemany(sql, rows)
            except sqlite3.OperationalError as e:  # locked past the timeout, disk full
                (log.info if _locked(e) else log.warning)(
                    "could not update the index %s: %s", self.path, e)
            except sqlite3.DatabaseError as e:
                self._failed(e)

    def _failed(self, error: Exception) -> None:
        if _locked(error):
            return  # busy, not damaged: the next read or write tries again
        log.warning("the index %s is damaged (%s); rebuilding it", self.path, error)
        if self._db is not None:
            self._db.close()
        self._db = self._rebuild()

    # -- the catalog ----------------------------------------------------------------------

    def catalog(self, registry: str) -> tuple[float | None, list[str]]:
        """(when the catalog was last read, its repositories) as the index has them."""
        when = self._read("SELECT verified FROM catalogs WHERE registry=?", (registry,))
        repos = self._read("SELECT repository FROM repositories WHERE registry=? "
                           "ORDER BY repository", (registry,))
        return (when[0][0] if when else None), [r[0] for r in repos]

    def store_catalog(self, registry: str, repositories: list[str], verified: float) -> None:
        """The catalog as read now: repositories gone from it lose their tags too."""
        known = set(self.catalog(registry)[1])
        gone = [(registry, repo) for repo in known - set(repositories)]
        self._write([
            ("INSERT INTO catalogs VALUES (?, ?) ON CONFLICT(registry) DO UPDATE SET "
             "verified=excluded.verified", [(registry, verified)]),
            ("INSERT OR IGNORE INTO repositories VALUES (?, ?, NULL)",
             [(registry, repo) for repo in repositories]),
            ("DELETE FROM repositories WHERE registry=? AND repository=?", gone),
            ("DELETE FROM tags WHERE registry=? AND repository=?", gone)])

    # -- tag lists and digests ------------------------------------------------------------

    def tag_lists(self, registry: str, repositories: Iterable[str]
                  ) -> dict[str, tuple[float | None, dict[str, tuple[str | None, float | None]]]]:
        """``{repository: (list verified, {tag: (digest, verified)})}`` for those the index
        knows; a repository never listed is absent."""
        wanted = set(repositories)
        out: dict[str, tuple[float | None, dict[str, tuple[str | None, float | None]]]] = {}
        for repo, verified in self._read(
                "SELECT repository, verified FROM repositories WHERE registry=?", (registry,)):
            if repo in wanted:
                out[repo] = (verified, {})
        for repo, tag, digest, verified in self._read(
                "SELECT repository, tag, digest, verified FROM tags WHERE registry=?",
                (registry,)):
            if repo in out:
                out[repo][1][tag] = (digest, verified)
        return out

    def store_tag_lists(self, registry: str, lists: dict[str, list[str] | None],
                        verified: float) -> None:
        """Tag lists as read now (None: the repository is gone). Tags that left a list are
        dropped; new ones are added with no digest; known digests keep their times."""
        known = self.tag_lists(registry, lists)
        gone_tags, new_tags, repos, gone_repos = [], [], [], []
        for repo, tags in lists.items():
            old = set(known.get(repo, (None, {}))[1])
            if tags is None:
                gone_repos.append((registry, repo))
                continue
            repos.append((registry, repo, verified))
            gone_tags += [(registry, repo, tag) for tag in old - set(tags)]
            new_tags += [(registry, repo, tag) for tag in set(tags) - old]
        self._write([
            ("INSERT INTO repositories VALUES (?, ?, ?) ON CONFLICT(registry, repository) "
             "DO UPDATE SET verified=excluded.verified", repos),
            ("DELETE FROM tags WHERE registry=? AND repository=? AND tag=?", gone_tags),
            ("INSERT OR IGNORE INTO tags VALUES (?, ?, ?, NULL, NULL)", new_tags),
            ("DELETE FROM repositories WHERE registry=? AND repository=?", gone_repos),
            ("DELETE FROM tags WHERE registry=? AND repository=?", gone_repos)])

    def store_digests(self, registry: str, found: list[tuple[str, str, str | None]],
                      verified: float) -> None:
        """``(repository, tag, digest)`` as the registry answered now; a None digest means
        the tag is gone."""
        self._write([
            ("INSERT INTO tags VALUES (?, ?, ?, ?, ?) ON CONFLICT(registry, repository, tag) "
             "DO UPDATE SET digest=excluded.digest, verified=excluded.verified",
             [(registry, repo, tag, digest, verified) for repo, tag, digest in found
              if digest is not None]),
            ("DELETE FROM tags WHERE registry=? AND repository=? AND tag=?",
             [(registry, repo, tag) for repo, tag, digest in found if digest is None])])

    # -- what a digest is ------------------------------------------------------------------

    def details(self, digests: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored details of those ``digests`` the index has (records that do not
        describe their own digest are ignored, so they are fetched and rewritten)."""
        # Sorted: each chunk is then one narrow range of the digest B-tree, read in order;
        # chunks of random digests touch pages all over the file (measured at 10,000
        # digests: 0.07 s sorted against 0.2-0.5 s unsorted).
        wanted = sorted(d for d in set(digests) if d)
        out: dict[str, dict[str, Any]] = {}
        # Chunks: SQLite caps the number of parameters of one statement.
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for digest, text in self._read(
                    f"SELECT digest, detail FROM manifests WHERE digest IN ({marks})", chunk):
                try:
                    detail = json.loads(text)
                except ValueError:
                    continue
                if isinstance(detail, dict) and detail.get("digest") == digest:
                    out[digest] = detail
        return out

    def store_details(self, details: dict[str, dict[str, Any]]) -> None:
        """Store what each digest is. Raises ValueError for a key that is not a digest."""
        for digest in details:
            if not is_digest(digest):
                raise ValueError(f"not a digest: {digest!r}")
        self._write([("INSERT OR REPLACE INTO manifests VALUES (?, ?)",
                      [(d, json.dumps(detail, sort_keys=True)) for d, detail in details.items()])])

    def forget_registry(self, registry: str) -> None:
        """Drop everything known about ``registry`` (its digests' details stay: they are
        true wherever those digests are)."""
        self._write([(f"DELETE FROM {table} WHERE registry=?", [(registry,)])
                     for table in ("catalogs", "repositories", "tags")])


_shared_lock = threading.Lock()
_shared: Index | None = None


def shared() -> Index:
    """This process's open index at ``paths.index_file()`` (reopened when that path changes).
    Kept open: closing the last connection of a WAL database checkpoints it, which costs a
    listing served from the index more than reading it."""
    global _shared
    path = paths.index_file()
    with _shared_lock:
        if _shared is None or _shared.path != path:
            if _shared is not None:
                _shared.close()
            _shared = Index(path)
        return _shared


def close_shared() -> None:
    """Close the shared index (tests; or before deleting the cache folder)."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            _shared = None


def _locked(error: BaseException) -> bool:
    """SQLite's "database is locked" / "database table is locked" / SQLITE_BUSY: another
    connection's transaction, not damage."""
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


class _transaction:
    """``with _transaction(db):`` BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error. IMMEDIATE
    takes the write lock up front, so two writers queue on the busy timeout instead of one
    failing with "database is locked" halfway through."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *exc: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
