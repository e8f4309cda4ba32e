"""The on-disk cache of what a manifest digest says: platforms, sizes, created, labels, blobs.

A manifest and its config are content-addressed, so what is computed from a digest never goes
stale (REGISTRY-NOTES: "Both are content-addressed, so a cache keyed by digest never goes
stale"). Listing a registry a second time therefore needs only the tag lists and one manifest
HEAD per tag.

Where: ``$XDG_CACHE_HOME/registry_widgets/manifests/<algorithm>/<hex>.json``
(``~/.cache/registry_widgets/...`` when ``XDG_CACHE_HOME`` is unset). Writes are atomic (a
temporary file in the same folder, then ``os.replace``), so a reader never sees half a file;
a file that does not parse or does not describe its own digest is ignored and rewritten.

Layer 3 helper: imports only the standard library and ``reference`` (to refuse digests that
are not digests before they become file names).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from ..reference import is_digest

log = logging.getLogger("registry_widgets.detail_cache")

# Bump when the shape of a record changes: older records are then ignored and rewritten.
VERSION = 1


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/registry_widgets/manifests`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "registry_widgets" / "manifests"


def path_for(digest: str) -> Path:
    """The cache file of ``digest``. Raises ValueError for anything but a valid digest, so a
    registry's answer can never name a file outside the cache."""
    if not is_digest(digest):
        raise ValueError(f"not a digest: {digest!r}")
    algorithm, _, hex_part = digest.partition(":")
    return cache_dir() / algorithm / f"{hex_part}.json"


def has_entries() -> bool:
    """True once anything is cached (one directory entry is enough to know)."""
    try:
        return any(True for folder in cache_dir().iterdir() if any(folder.iterdir()))
    except OSError:
        return False


def load(digest: str) -> dict[str, Any] | None:
    """The cached detail of ``digest``, or None when absent, unreadable or not about it."""
    try:
        path = path_for(digest)
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.info("ignoring unreadable cache entry for %s: %s", digest, e)
        return None
    if not isinstance(record, dict) or record.get("version") != VERSION \
            or not isinstance(record.get("detail"), dict) \
            or record["detail"].get("digest") != digest:
        log.info("ignoring a cache entry for %s that does not describe it", digest)
        return None
    return record["detail"]


def store(digest: str, detail: dict[str, Any]) -> None:
    """Write the detail of ``digest`` atomically. A failure to write (read-only home, full
    disk) only costs speed next time, so it is logged, not raised."""
    try:
        path = path_for(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"version": VERSION, "detail": detail}, sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".partial-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, ValueError, TypeError) as e:
        log.warning("could not cache the detail of %s: %s", digest, e)
