"""The action journal: one JSON line per verb, so runs can be audited (and undone).

Where: ``$REGISTRY_WIDGETS_STATE/journal.jsonl``, else
``$XDG_STATE_HOME/registry_widgets/journal.jsonl`` (``~/.local/state/...``).
Records are built from ``Result`` objects, which never hold secrets; as a second guard,
any key that looks like a credential is refused here.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator

from .result import Result

_SECRET_KEYS = {"password", "secret", "token", "auth", "authorization", "identitytoken",
                "identity_token", "access_token", "refresh_token"}
_lock = threading.Lock()


def state_dir() -> Path:
    """The folder for the journal, the declared namespaces and other state."""
    explicit = os.environ.get("REGISTRY_WIDGETS_STATE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "registry_widgets"


def journal_path() -> Path:
    return state_dir() / "journal.jsonl"


def _check_no_secret_keys(value: Any, path: str = "") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in _SECRET_KEYS:
                raise ValueError(f"refusing to journal a credential-like field {path}{key!r}")
            _check_no_secret_keys(item, f"{path}{key}.")
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_no_secret_keys(item, path)


def append(result: Result | dict[str, Any]) -> Result | dict[str, Any]:
    """Append one record and return it unchanged (so verbs can ``return append(r)``)."""
    record = result.to_dict() if isinstance(result, Result) else dict(result)
    _check_no_secret_keys(record)
    line = json.dumps(record, default=str, sort_keys=True)
    path = journal_path()
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One write() of a whole line in append mode: concurrent writers do not interleave.
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    return result


def read(path: Path | None = None) -> Iterator[dict[str, Any]]:
    """Every record, oldest first."""
    path = path or journal_path()
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                yield json.loads(line)
