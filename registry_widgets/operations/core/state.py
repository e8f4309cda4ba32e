"""Small JSON state files under the state folder (declared namespaces, saved policies).

One reader and one writer for all of them: an unreadable or damaged file is ignored with a
warning (it holds preferences, never the only copy of anything), and a write replaces the
file atomically, so a reader sees the old content or the new, never half of it. Layer 3:
imports only the standard library.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger("registry_widgets.state")


def read_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; ``{}`` when it is missing, unreadable or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.warning("ignoring unreadable %s: %s", path, e)
        return {}
    if not isinstance(value, dict):
        log.warning("ignoring %s: not a JSON object", path)
        return {}
    return value


def write_object(path: Path, value: dict[str, Any]) -> None:
    """Write ``value`` (entries with empty values dropped, keys sorted) atomically to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({k: v for k, v in sorted(value.items()) if v}, handle, indent=2,
                      sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
