"""The action journal: one JSON line per verb, so runs can be audited (and undone).

Where: ``paths.journal_file()``: ``$REGISTRY_WIDGETS_STATE/journal.jsonl``, else
``$XDG_STATE_HOME/registry_widgets/journal.jsonl`` (``~/.local/state/...``).
Records are built from ``Result`` objects, which never hold secrets; as a second guard,
any key that looks like a credential is refused here.

A crash mid-write can leave a torn last line. So the writer always starts a record on a
fresh line, the reader skips a line it cannot read (and logs which line of which file)
and still finds every valid record after it, and a backup (``durable=True``) is fsynced
before anything is deleted. :func:`record` is for verbs whose action already succeeded:
a journal that cannot be written then becomes a warning on the result, not an exception.

Records keep the registry as it was written; a lookup by registry (:func:`on_registry`)
compares identities (``reference.registry_identity``), so a record written through
``localhost:5000`` is found through ``127.0.0.1:5000``, old records included.

Layer 3: imports ``errors``, ``paths``, ``reference`` and ``result`` only.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Iterator

from ... import paths
from ...errors import BadReference, JournalError
from ...reference import registry_identity
from .result import Result

log = logging.getLogger("registry_widgets.journal")

_SECRET_KEYS = {"password", "secret", "token", "auth", "authorization", "identitytoken",
                "identity_token", "access_token", "refresh_token"}
_lock = threading.Lock()
_decoder = json.JSONDecoder()


def journal_path() -> Path:
    """The journal file, ``paths.journal_file()``: this name is the public API's."""
    return paths.journal_file()


def _check_no_secret_keys(value: Any, path: str = "") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in _SECRET_KEYS:
                raise ValueError(f"refusing to journal a credential-like field {path}{key!r}")
            _check_no_secret_keys(item, f"{path}{key}.")
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_no_secret_keys(item, path)


def _ends_mid_line(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except OSError:  # missing or empty
        return False


def append(result: Result | dict[str, Any], *, durable: bool = False) -> Result | dict[str, Any]:
    """Append one record and return it unchanged (so verbs can ``return append(r)``).

    ``durable=True`` (backups, before a delete): the line is on disk (fsync) when this
    returns. Raises OSError when the journal cannot be written.
    """
    record = result.to_dict() if isinstance(result, Result) else dict(result)
    _check_no_secret_keys(record)
    line = json.dumps(record, default=str, sort_keys=True)
    path = paths.journal_file()
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A torn last line (a crash mid-write) must not swallow this record: start afresh.
        lead = "\n" if _ends_mid_line(path) else ""
        # One write() of a whole line in append mode: concurrent writers do not interleave.
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(lead + line + "\n")
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
    return result


def record(result: Result) -> Result:
    """Journal the result of an action that already succeeded. If the journal cannot be
    written, the action still happened: say so on the result (``details["warnings"]``) and
    in the log, instead of turning the success into an exception."""
    try:
        append(result)
    except OSError as e:
        warning = (f"the action succeeded, but it was not written to the journal "
                   f"{paths.journal_file()}: {e.strerror or e}. Fix the state folder "
                   f"(${paths.STATE_ENV}) so later runs are recorded")
        log.warning("%s %s: %s", result.action, result.target or result.source or "", warning)
        result.details.setdefault("warnings", []).append(warning)
    return result


def _parse(line: str) -> dict[str, Any] | None:
    """One record from one line; None when the line holds none. A record written right
    after a torn line by an older writer shares its line: it is found at its own ``{"``."""
    try:
        value = json.loads(line)
    except ValueError:
        value = None
        start = line.find('{"', 1)
        while start != -1:
            try:
                candidate, end = _decoder.raw_decode(line, start)
            except ValueError:
                pass
            else:
                if end == len(line) and isinstance(candidate, dict):
                    value = candidate
                    break
            start = line.find('{"', start + 1)
    return value if isinstance(value, dict) else None


def size() -> int:
    """The journal's length in bytes now (0 if it does not exist): ``read(start=size())``
    later reads only what was appended since."""
    try:
        return paths.journal_file().stat().st_size
    except OSError:
        return 0


def lines(path: Path | None = None, *, start: int = 0
          ) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """``(line number, record, text)`` for every non-empty line (from byte ``start``); the
    record is None for a damaged line (torn by a crash, or edited), and ``text`` is the line
    (:func:`damage` says what is wrong with it). For callers that must NAME a damaged line
    (``restore``, ``trash``)."""
    path = path or paths.journal_file()
    if not path.exists():
        return
    with open(path, "rb") as handle:
        handle.seek(start)
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            value = _parse(line)
            yield number, value, line


def damage(text: str) -> str:
    """What is wrong with a damaged line, in words, quoting its start."""
    return f"not a JSON record (torn by a crash, or edited): {text[:80]!r}"


def where(number: int, *, start: int = 0, path: Path | None = None) -> str:
    """``line 7 of /x/journal.jsonl``: how messages name a line of the journal."""
    path = path or paths.journal_file()
    return f"line {number}" + (f" after byte {start}" if start else "") + f" of {path}"


def read(path: Path | None = None, *, start: int = 0) -> Iterator[dict[str, Any]]:
    """Every record, oldest first (from byte ``start``). A torn or damaged line is skipped
    with a warning naming the file and the line; the records after it are still read (a
    caller that must say which line was damaged uses :func:`lines`)."""
    for number, value, text in lines(path, start=start):
        if value is None:
            at = f"line {number}" if not start else f"line {number} after byte {start}"
            log.warning("%s %s is not a journal record (torn by a crash, or edited); "
                        "skipped: %.80r", path or paths.journal_file(), at, text)
            continue
        yield value


def on_registry(record: dict[str, Any], registry: str) -> bool:
    """True when ``record`` (its ``registry`` field) is about ``registry``, however either
    was spelled. A record without a usable registry is about none."""
    written = record.get("registry")
    if not isinstance(written, str):
        return False
    try:
        return registry_identity(written) == registry_identity(registry)
    except BadReference:
        return False


def check_readable(predicate: Any, what: str, *, start: int = 0) -> dict[str, Any]:
    """The last record (from byte ``start``) for which ``predicate(record)`` holds, read back
    from disk; raises JournalError when there is none (it proves a backup is there before a
    delete). ``what`` ends the message: what was therefore not done."""
    found = None
    try:
        for entry in read(start=start):
            if predicate(entry):
                found = entry
    except OSError as e:
        raise JournalError(f"cannot read the journal {paths.journal_file()} back: {e}; "
                           f"{what}") from e
    if found is None:
        raise JournalError(f"the journal {paths.journal_file()} does not give the record back; "
                           f"{what}")
    return found
