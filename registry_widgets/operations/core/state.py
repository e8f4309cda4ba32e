"""Small state documents in one SQLite file: saved policies, declared namespaces, remembered
repositories and registries.

Each document is one JSON object stored under a name. Every change is a read, a change and a
write in ONE transaction (``BEGIN IMMEDIATE``), so two kernels saving at once both keep
their change; JSON files written back under a thread lock lost one of them. The file is in
WAL mode, so readers never wait for a writer. A document saved by an older version as a
JSON file (``policies.json``...) is imported the first time it is read, and the file is
renamed ``*.json.imported`` so nobody edits a copy that is no longer read.

Where: ``paths.state_db()`` (``<state_dir()>/state.sqlite3``). The journal stays a JSONL
file: it is an audit log, appended to, never rewritten.

Imports ``paths`` and the standard library.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from ... import paths

log = logging.getLogger("registry_widgets.state")

# The documents, and the JSON file each one was kept in before (imported once).
LEGACY_FILES: dict[str, Callable[[], Path]] = {
    "policies": paths.policies_file,
    "namespaces": paths.namespaces_file,
    "repositories": paths.repositories_file,
    "registries": paths.registries_file,
}
# A writer waits this long for another process's transaction: these writes are tiny, and a
# saved setting must not be dropped the way a cache write may be.
BUSY_TIMEOUT = 10.0

_SCHEMA = ("CREATE TABLE IF NOT EXISTS documents (name TEXT PRIMARY KEY, value TEXT NOT NULL) "
           "WITHOUT ROWID")


def _connect() -> sqlite3.Connection:
    # One connection per call: cheap next to a user's action, safe across threads, and it
    # follows ``$REGISTRY_WIDGETS_STATE`` when that changes (tests change it per test).
    path = paths.state_db()
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    # Two processes opening a new file at once: turning on WAL takes an exclusive lock that
    # SQLite does not wait for (no busy handler there), so it is retried for a while.
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            return db
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                db.close()
                raise
            time.sleep(0.01)
        except BaseException:
            db.close()
            raise


def _legacy(name: str) -> dict[str, Any] | None:
    """The JSON object an older version kept in a file for ``name``; None when there is none
    (a damaged file is ignored with a warning: it held preferences, not the only copy of
    anything)."""
    source = LEGACY_FILES.get(name)
    if source is None:
        return None
    path = source()
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("ignoring unreadable %s: %s", path, e)
        return None
    if not isinstance(value, dict):
        log.warning("ignoring %s: not a JSON object", path)
        return None
    return value


def _load(db: sqlite3.Connection, name: str) -> tuple[dict[str, Any], bool]:
    """(the document, whether it is stored yet)."""
    row = db.execute("SELECT value FROM documents WHERE name=?", (name,)).fetchone()
    if row is None:
        return {}, False
    try:
        value = json.loads(row[0])
    except ValueError:
        log.warning("ignoring the damaged %s document in %s", name, paths.state_db())
        return {}, True
    return (value if isinstance(value, dict) else {}), True


def _store(db: sqlite3.Connection, name: str, value: dict[str, Any]) -> None:
    kept = {k: v for k, v in sorted(value.items()) if v}  # empty entries are not kept
    db.execute("INSERT INTO documents VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET "
               "value=excluded.value", (name, json.dumps(kept, sort_keys=True)))


def _imported(db: sqlite3.Connection, name: str) -> dict[str, Any]:
    """Within a write transaction: the document, importing an older version's file first."""
    value, stored = _load(db, name)
    if stored:
        return value
    legacy = _legacy(name)
    if legacy is None:
        return value
    _store(db, name, legacy)
    path = LEGACY_FILES[name]()
    try:
        os.replace(path, path.with_name(path.name + ".imported"))
    except OSError as e:
        log.info("imported %s but could not rename it: %s", path, e)
    return legacy


@contextmanager
def _writing() -> Iterator[sqlite3.Connection]:
    """A connection inside ``BEGIN IMMEDIATE``: committed when the block ends, rolled back
    (nothing saved) when it raises."""
    db = _connect()
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    finally:
        db.close()


def read(name: str) -> dict[str, Any]:
    """The document ``name``; ``{}`` when nothing was saved."""
    db = _connect()
    try:
        value, stored = _load(db, name)
    finally:
        db.close()
    if stored or name not in LEGACY_FILES or not LEGACY_FILES[name]().exists():
        return value
    with _writing() as db:
        return _imported(db, name)


def update(name: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, Any]:
    """Apply ``change`` to the document ``name`` in one transaction and return what was saved.

    ``change`` gets the current value and returns the new one (or changes it in place and
    returns None). It runs while this process holds the write lock, so it must be quick and
    must not ask the network anything. An exception in it saves nothing."""
    with _writing() as db:
        value = _imported(db, name)
        new = change(value)
        value = value if new is None else new
        _store(db, name, value)
        return value
