"""Where the widgets talk back in words: the message area (red errors that say what to do,
green status lines), the guard every callback runs in, and ``result_text``, which puts a
verb's Result in the user's units.

ipywidgets' callback dispatcher swallows exceptions (they reach a log the user rarely sees),
so every button callback goes through :func:`guarded`: it shows the error in red, keeps it in
``owner.last_error`` and logs it to the ``registry_widgets.widgets`` logger. Messages come
from ``errors``, which keep credentials out of them; nothing here stores a secret in a trait.

Imports ipywidgets, the standard library, ``errors``, ``reference`` and the sibling
``tables``; no other sibling, so every widget module may import it.
"""

from __future__ import annotations

import functools
import html
import logging
import re
from typing import Any, Callable

import ipywidgets as w

from ..errors import BadReference, RegistryWidgetsError, Unauthorized
from ..reference import validate_registry
from .tables import human_size

# The widgets' logger (panel.py asks getLogger for it too and gets this same object).
log = logging.getLogger("registry_widgets.widgets")

ERROR_STYLE = "color:#b00020;font-weight:600;white-space:pre-wrap"
STATUS_STYLE = "color:#1b5e20;white-space:pre-wrap"
# A Cancel the person pressed is not a failure: neutral grey, not red.
CANCELLED_STYLE = "color:#555555;white-space:pre-wrap"


class MessageArea(w.HTML):
    """One message at a time: ``error(...)`` in red, ``status(...)`` in green,
    ``cancelled(...)`` in grey, ``clear()``; every text goes through :func:`for_people`.
    ``kind`` is ``"error"``, ``"status"`` or ``""`` and ``text`` the plain message, for tests
    and notebooks (the widget's ``value`` is their HTML)."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.kind = ""
        self.text = ""
        self.add_class("rw-message")

    def error(self, message: str | BaseException) -> None:
        text = message if isinstance(message, str) else _error_text(message)
        self._show("error", for_people(text), ERROR_STYLE)

    def status(self, message: str) -> None:
        self._show("status", for_people(message), STATUS_STYLE)

    def cancelled(self, message: str | BaseException) -> None:
        """A Cancel the person pressed: ``cancelled: …`` in grey (``kind`` "cancelled")."""
        text = message if isinstance(message, str) else (str(message) or "stopped")
        text = text if text.startswith("cancelled") else f"cancelled: {text}"
        self._show("cancelled", for_people(text), CANCELLED_STYLE)

    def clear(self) -> None:
        self.kind, self.text, self.value = "", "", ""

    def _show(self, kind: str, text: str, style: str) -> None:
        self.kind, self.text = kind, text
        self.value = f'<div class="rw-{kind}" style="{style}">{html.escape(text)}</div>'


# The verbs' messages are written for code ("pass force=True", "restore(result) undoes it").
# A widget shows them in the words of the dashboard: the tab, box or button to use. Each rule
# is (pattern, replacement), tried in order; what no rule knows is caught by _plain below.
_FOR_PEOPLE: list[tuple[re.Pattern[str], str]] = [(re.compile(p, re.IGNORECASE), r) for p, r in (
    (r"configure\(\) / credentials= in code", "the Log in tab"),
    (r"Pass force=True to do it anyway, or unprotect\([^)]*\)",
     "Take the tag off the protected tags in the Clean up tab first"),
    (r"[Pp]ass force=True to do it anyway",
     "The dashboard does not override this check: change what it names first"),
    (r"[Pp]ass force=True if that is really what you want",
     "Set 'keep newest' to 1 or more"),
    (r"[Pp]ass force=True to move them back",
     "Move those tags yourself if they should go back"),
    (r"Run restore\([^)]*\) to put it back", "Restore it from the Trash tab"),
    (r"restore\([^)]*\) puts back what was there",
     "Restore in the Trash tab puts back what was there"),
    (r"restore\([^)]*\) undoes it", "Restore in the Trash tab undoes it"),
    (r"trash\(\) lists what can be restored", "the Trash tab lists what can be restored"),
    (r"namespaces\([^)]*\) lists them", "the Namespaces tab lists them"),
    (r"with namespaces\(\) or images\(\)", "in the Namespaces or Images tab"),
    (r"with images\(\)", "in the Images tab"),
    (r"with set_retention_policy\(\)", "in the Clean up tab's saved policies"),
    (r"collect_garbage\(\)", "garbage collection"),
    (r"with add_exemption", "with an exemption"),
    (r"run retention again with dry_run=True and check the new plan",
     "press Preview again and check the new plan"),
    (r"make a new plan with dry_run=True", "press Preview again"),
    (r"make a new plan with plan_remove\(\) and check it",
     "press Remove again and check the new plan"),
    (r"To remove one tag use remove\([^)]*\)",
     "To remove one tag, select it in the Images tab and press Remove"),
    (r"\bkeep=0\b", "'keep newest' 0"),
    (r"pass ca_bundle=PATH", "give the CA file in the Log in tab"),
    (r"\b(tag|key|blob|image|manifest|finding|row|namespace|change)\(s\)", r"\1s"),
)]
# What is left that reads as Python: a call (a name right before "(") or a keyword switch.
PYTHON_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\(|\b[a-z_]+=(True|False)\b")


def for_people(text: str) -> str:
    """``text`` (a verb's message, written for code) in the dashboard's words: the tab, box
    or button to use instead of a Python call or keyword (see ``_FOR_PEOPLE``)."""
    for pattern, words in _FOR_PEOPLE:
        text = pattern.sub(words, text)
    return _plain(text) if PYTHON_WORDS.search(text) else text


def _plain(text: str) -> str:
    # A sentence of advice for code that no rule knows: left out, as the dashboard cannot
    # follow it; the first sentence (what went wrong) stays, its calls named in words.
    first, *rest = re.split(r"(?<=[.;:]) ", text)
    while True:
        named = _CALL.sub(r"\1", first)
        named = _SWITCH.sub(lambda m: m.group(1).replace("_", " "), named)
        if named == first:
            break
        first = named
    return " ".join([first] + [p for p in rest if not PYTHON_WORDS.search(p)])


_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\([^()]*\)")
_SWITCH = re.compile(r"\b([a-z_]+)=(?:True|False)\b")


REGISTRY_EXPECTED = "Expected a registry host, like registry.example.com:5000"


def registry_input(typed: str, *, where: str, box: str) -> str:
    """The registry typed in the box ``box`` of ``where`` (``"Images, Copy to…"``), checked:
    a field that takes a registry answers in its own terms (a host, not the form of a whole
    image reference)."""
    typed = typed.strip()
    if not typed:
        raise ValueError(f"{where}: the box '{box}' is empty. {REGISTRY_EXPECTED} (or choose "
                         "one of the bar's registries)")
    try:
        return validate_registry(typed)
    except BadReference as e:
        problem = str(e).split(". ")[0].split(": ", 1)[-1]
        raise ValueError(f"{where}: the box '{box}' holds {typed!r}, which is not a registry "
                         f"({problem}). {REGISTRY_EXPECTED}") from e


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
