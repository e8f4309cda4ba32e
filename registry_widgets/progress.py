"""Progress events: what long operations (pull, push, build, copy) report as they go.

The library draws no UI and prints nothing; a widget or a notebook renders these events.
Bottom layer: imports nothing from the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a long operation.

    ``id`` is the layer or blob (a short id from the engine, a digest from the registry),
    empty for whole-operation events and build log lines. ``current`` and ``total`` are
    bytes; ``total`` is None when unknown.
    """

    action: str  # "pull", "push", "build", "copy", ...
    id: str = ""
    status: str = ""  # "Downloading", "Pushed", "skipped", "mounted", "copied", "log", ...
    current: int = 0
    total: Optional[int] = None
    message: str = ""  # a build log line, or a human-readable status


ProgressCallback = Callable[[ProgressEvent], None]


def emit(callback: Optional[ProgressCallback], event: ProgressEvent) -> None:
    """Call ``callback`` if there is one. A failing callback must not break the operation
    halfway (a half-finished copy is worse than a missed progress bar), so its errors are
    logged and dropped."""
    if callback is None:
        return
    try:
        callback(event)
    except Exception:  # noqa: BLE001 - see docstring
        import logging

        logging.getLogger("registry_widgets").exception("progress callback failed")
