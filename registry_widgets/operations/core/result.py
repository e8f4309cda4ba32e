"""The record every verb returns: what was done, digests, bytes moved, duration."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Result:
    """What a verb did. ``details`` holds verb-specific facts (tags removed, platforms...).

    Never holds a secret: it is written to the journal and shown in notebooks as is.
    """

    action: str
    source: str | None = None
    target: str | None = None
    digest: str | None = None
    bytes_moved: int = 0
    duration: float = 0.0
    changed: bool = True
    dry_run: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line for a person: ``copy a -> b: sha256:... (12.3 MB moved, 1.20 s)``, or
        ``remove a: sha256:... (0.31 s)`` when no bytes moved."""
        where = " -> ".join(x for x in (self.source, self.target) if x)
        what = "no change" if not self.changed else (self.digest or "done")
        if self.dry_run:
            what = "dry run, nothing changed"
        # Bytes only where some moved: "0.0 MB moved" after a removal said nothing true.
        moved = f"{human_size(self.bytes_moved)} moved, " if self.bytes_moved else ""
        return f"{self.action} {where}: {what} ({moved}{self.duration:.2f} s)"


    def _repr_html_(self) -> str:
        """A small table for a notebook that shows a Result as it is (not its dataclass
        repr): what was done, to what, and the outcome."""
        rows = [("action", self.action), ("source", self.source), ("target", self.target),
                ("outcome", self.summary()), ("digest", self.digest)]
        return html_table(rows)


def html_table(rows: list[tuple[str, Any]]) -> str:
    """Two columns of escaped text, leaving out empty values (a notebook shows no None)."""
    import html

    body = "".join(f"<tr><th>{html.escape(str(key))}</th><td>{html.escape(str(value))}</td></tr>"
                   for key, value in rows if value not in (None, ""))
    return f"<table>{body}</table>"


class Timer:
    """``with Timer() as t: ...`` then ``t.elapsed``; monotonic, for durations."""

    def __enter__(self) -> "Timer":
        self._start = time.monotonic()
        self.elapsed = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.monotonic() - self._start


def human_size(n: float) -> str:
    """Bytes for people, in SI units as registries and docker show them: ``12.3 MB``."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"
