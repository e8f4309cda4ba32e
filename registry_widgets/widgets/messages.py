"""Where the widgets talk back in words: the message area (red errors that say what to do,
green status lines), the guard every callback runs in, and ``result_text``, which puts a
verb's Result in the user's units.

ipywidgets' callback dispatcher swallows exceptions (they reach a log the user rarely sees),
so every button callback goes through :func:`guarded`: it shows the error in red, keeps it in
``owner.last_error`` and logs it to the ``registry_widgets.widgets`` logger. Messages come
from ``errors``, which keep credentials out of them; nothing here stores a secret in a trait.

Imports ipywidgets, the standard library, ``errors`` and the sibling ``tables``; no other
sibling, so every widget module may import it.
"""

from __future__ import annotations

import functools
import html
import logging
from typing import Any, Callable

import ipywidgets as w

from ..errors import RegistryWidgetsError, Unauthorized
from .tables import human_size

# The widgets' logger (panel.py asks getLogger for it too and gets this same object).
log = logging.getLogger("registry_widgets.widgets")

ERROR_STYLE = "color:#b00020;font-weight:600;white-space:pre-wrap"
STATUS_STYLE = "color:#1b5e20;white-space:pre-wrap"


class MessageArea(w.HTML):
    """One message at a time: ``error(...)`` in red, ``status(...)`` in green, ``clear()``.
    ``kind`` is ``"error"``, ``"status"`` or ``""`` and ``text`` the plain message, for tests
    and notebooks (the widget's ``value`` is their HTML)."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.kind = ""
        self.text = ""
        self.add_class("rw-message")

    def error(self, message: str | BaseException) -> None:
        text = message if isinstance(message, str) else _error_text(message)
        self._show("error", text, ERROR_STYLE)

    def status(self, message: str) -> None:
        self._show("status", message, STATUS_STYLE)

    def clear(self) -> None:
        self.kind, self.text, self.value = "", "", ""

    def _show(self, kind: str, text: str, style: str) -> None:
        self.kind, self.text = kind, text
        self.value = f'<div class="rw-{kind}" style="{style}">{html.escape(text)}</div>'


# Errors whose message already tells a person what to do: shown as they are, logged without
# a traceback. Anything else is a bug somewhere: its type is shown and its traceback logged.
_EXPECTED = (RegistryWidgetsError, ValueError)


def _error_text(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if isinstance(error, _EXPECTED) else f"{type(error).__name__}: {text}"


def guarded(owner: Any, callback: Callable[..., Any], *, fresh: bool = True) -> Callable[..., Any]:
    """``callback`` wrapped so that an exception never escapes into ipywidgets' dispatcher:
    it is shown in ``owner.message`` in red, kept in ``owner.last_error`` and logged.

    ``fresh`` (actions): the message and ``last_error`` are cleared when the callback
    starts, so they describe the last action. Observers of a selection pass False: clicking
    a row must not wipe the message of the action before."""

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        if fresh:
            owner.message.clear()
            owner.last_error = None
        try:
            return callback(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - shown, kept and logged: never lost
            owner.last_error = e
            owner.message.error(e)
            log.warning("%s failed: %s", getattr(callback, "__name__", "callback"), e,
                        exc_info=not isinstance(e, _EXPECTED))
            return None

    return run


def result_text(result: Any) -> str:
    """A verb's Result in the user's units: what happened, with the layer counts and bytes
    the verb reported (``4 layers mounted, 0 bytes moved``)."""
    if result is None:
        return ""
    details = getattr(result, "details", None) or {}
    where = " -> ".join(x for x in (getattr(result, "source", None),
                                    getattr(result, "target", None)) if x)
    parts = []
    if getattr(result, "dry_run", False):
        parts.append("dry run, nothing changed")
    elif not getattr(result, "changed", True):
        parts.append("no change")
    blobs = details.get("blobs")
    if isinstance(blobs, dict):
        # copy counts blobs: every layer plus the config of each image
        parts += [f"{blobs.get(key, 0)} blob{'s' if blobs.get(key, 0) != 1 else ''} {label}"
                  for key, label in (("copied", "copied"), ("mounted", "mounted"),
                                     ("skipped", "already there"))
                  if blobs.get(key) or key == "copied"]
    moved = int(getattr(result, "bytes_moved", 0) or 0)
    if getattr(result, "action", "") in ("copy", "push", "pull", "build") or moved:
        parts.append(f"{_bytes(moved)} moved")
    tags = details.get("tags_removed")
    if getattr(result, "action", "") in ("remove", "remove_namespace") and tags is not None:
        parts.append(f"{len(tags)} tag{'s' if len(tags) != 1 else ''} removed")
    digest = getattr(result, "digest", None)
    head = f"{result.action} {where}".strip()
    tail = f" ({', '.join(parts)}, {getattr(result, 'duration', 0.0):.2f} s)" if parts else \
        f" ({getattr(result, 'duration', 0.0):.2f} s)"
    return f"{head}: {digest or 'done'}{tail}"


def _bytes(n: int) -> str:
    return "0 bytes" if n == 0 else ("1 byte" if n == 1 else
                                     (f"{n} bytes" if n < 1000 else human_size(n)))


def catalog_refusal_text(registry: str, error: BaseException) -> str:
    """A registry refusing its catalog, in the image table's words: a 401 is "not logged
    in" (log in and refresh), a 403 "logged in without the catalog right" (name the
    repositories). Shown once, by the table that has the Repositories box; the other tabs
    say :func:`catalog_pointer`."""
    # By kind, not status: distribution answers a token that lacks the catalog scope with a
    # 401 too, which the transport already calls Denied (logged in, without the right).
    if isinstance(error, Unauthorized):
        return (f"You are not logged in to {registry}: its catalog (the list of its "
                "repositories) answered HTTP 401. Log in first (the Log in tab, or `docker "
                f"login {registry}` in a terminal) and press Refresh. Registries such as Docker Hub "
                "and GHCR refuse the catalog even then: type or paste the repositories you "
                "want, e.g. team/app, in the box above and press 'List these repositories'.")
    return (f"{registry} does not list its repositories to you: you are logged in, but "
            f"without the right to read its catalog (HTTP {getattr(error, 'status', 403)}; "
            "Docker Hub and GHCR give it to nobody). Type or paste the repositories you want, "
            "e.g. team/app, in the box above and press 'List these repositories'; they are "
            "remembered for this registry and every tab uses them.")


def catalog_pointer(registry: str, error: BaseException) -> str:
    """The one line the other tabs show for a refused catalog (the image table explains)."""
    if isinstance(error, Unauthorized):
        return (f"{registry} does not list its repositories: you are not logged in there. "
                "Log in (the Log in tab) and press Refresh, or name them in the Images tab's "
                "Repositories box; this tab lists those.")
    return (f"{registry} does not list its repositories to you (its catalog is refused): "
            "name them in the Images tab's Repositories box; this tab lists those.")
