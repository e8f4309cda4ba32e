"""``Panel``, the base class every tab derives from: a message area, ``last_error``, and
actions that run in the panel's one worker thread while ``busy`` says so; plus how an
action is cancelled (``CancelledByUser``, ``is_cancelled``, ``accepts``).

A panel is bound to what it shows: ``follow(registry)`` moves it to the registry the
dashboard chose (it empties what it showed of the old one, then lists the new one),
``shows(registry)`` says whether its rows or plan came from that registry, ``refresh()``
lists again, and ``on_changed(callback)`` / ``report_changed(registry)`` tell the
dashboard which registry an action of the panel wrote to, so every other panel showing it
lists again. ``plan_bound(...)`` is the one refusal of a plan made on another registry.

Exceptions in an action never escape into ipywidgets' dispatcher (which swallows them):
they are shown in red, kept in ``last_error``, logged, and raised by ``wait()``.

Imports ipywidgets, traitlets, the standard library, ``errors``, ``progress`` and the
siblings ``controls`` and ``messages``; the panels import it, never the other way round.
"""

from __future__ import annotations

import inspect
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import ipywidgets as w
import traitlets

from .. import errors
from ..errors import RegistryWidgetsError
from ..progress import ProgressEvent
from .controls import button, show
from .messages import _EXPECTED, MessageArea, guarded

log = logging.getLogger("registry_widgets.widgets")


class CancelledByUser(RegistryWidgetsError):
    """Raised inside an action when its Cancel button was clicked (``errors.Cancelled``
    where the verbs provide it; this stands in for actions that check between steps)."""


def cancelled_error(message: str) -> BaseException:
    kind = getattr(errors, "Cancelled", None) or CancelledByUser
    try:
        return kind(message)
    except TypeError:  # a constructor with required keywords
        return CancelledByUser(message)


def is_cancelled(error: BaseException) -> bool:
    kind = getattr(errors, "Cancelled", None)
    return isinstance(error, CancelledByUser) or (kind is not None and isinstance(error, kind))


def accepts(function: Callable[..., Any], name: str) -> bool:
    """Whether ``function`` takes the keyword ``name`` (``cancel=`` arrives with the verbs'
    interrupt support; until then Cancel acts through the progress callback)."""
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


class Panel(w.VBox):
    """Base of the panels: a message area, ``last_error``, and actions that run off the
    kernel's main thread.

    ``start(name, work)`` (what the buttons call) clears the message, disables the panel's
    action buttons, sets ``busy`` and runs ``work`` in the panel's one worker thread, so the
    kernel keeps answering the browser and actions never overlap. ``wait(timeout=None)``
    returns when every started action has finished and raises the first error one of them
    raised (it is also shown in red and kept in ``last_error``). ``cancel_action_button`` sets
    ``cancel_event``: verbs that take ``cancel=`` stop at once, others at their next
    progress event or between items.
    """

    busy = traitlets.Bool(False, help="True while an action of this panel runs")

    def __init__(self, children: tuple = (), **kwargs: Any):
        self.message = MessageArea()
        self.last_error: BaseException | None = None
        self.cancel_event = threading.Event()
        self.cancel_action_button = button("Cancel", "rw-cancel-action", icon="stop",
                                           style="danger")
        self.cancel_action_button.tooltip = "stop the running action"
        show(self.cancel_action_button, False)
        self._executor = ThreadPoolExecutor(max_workers=1,
                                            thread_name_prefix=type(self).__name__)
        self._state = threading.Condition()
        self._running = 0
        self._unreported: list[BaseException] = []
        self._action_buttons: list[w.Button] = []
        self._changed_callbacks: list[Callable[[str], Any]] = []
        super().__init__(children, **kwargs)
        self.cancel_action_button.on_click(lambda _b: self.cancel_event.set())

    # -- actions ---------------------------------------------------------------------------

    def on_click(self, btn: w.Button, callback: Callable[[], Any], *,
                 background: bool = False) -> None:
        """Wire ``btn`` to ``callback``: in the worker thread when ``background`` (anything
        that talks to a registry or the engine), else right here, guarded either way."""
        if background:
            self._action_buttons.append(btn)
            name = getattr(callback, "__name__", "action")
            btn.on_click(lambda _button: self.start(name, callback))
        else:
            safe = guarded(self, callback)
            btn.on_click(lambda _button: safe())

    def guard(self, callback: Callable[..., Any], *, fresh: bool = True) -> Callable[..., Any]:
        return guarded(self, callback, fresh=fresh)

    def start(self, name: str, work: Callable[[], Any], *, fresh: bool = True) -> Future:
        """Run ``work`` in the worker thread (queued behind a running action). ``fresh``: the
        message and the feedback of the previous action are cleared first, unless an action
        still runs (its progress and result must stay readable)."""
        if fresh and not self.busy:
            self.message.clear()
            self.last_error = None
            self.reset_feedback()
        with self._state:
            self._running += 1
        self._set_busy(True)

        def run() -> Any:
            self.cancel_event.clear()
            try:
                return work()
            except Exception as e:  # noqa: BLE001 - shown, kept, logged, raised by wait()
                self.last_error = e
                if is_cancelled(e):  # the person pressed Cancel: not a failure
                    self.message.cancelled(e)
                else:
                    self.message.error(e)
                log.warning("%s failed: %s", name, e, exc_info=not isinstance(e, _EXPECTED))
                with self._state:
                    self._unreported.append(e)
                return None
            finally:
                with self._state:
                    self._running -= 1
                    idle = self._running == 0
                if idle:
                    self._set_busy(False)
                with self._state:
                    self._state.notify_all()

        return self._executor.submit(run)

    def wait(self, timeout: float | None = None) -> None:
        """Return when no action of this panel runs; raise the first error raised by the
        actions since the last ``wait``. TimeoutError if still busy after ``timeout`` s."""
        with self._state:
            if not self._state.wait_for(lambda: self._running == 0, timeout):
                raise TimeoutError(f"{type(self).__name__} still busy after {timeout} s")
            errors_, self._unreported = self._unreported, []
        if errors_:
            raise errors_[0]

    def reset_feedback(self) -> None:
        """Hide what the previous action left (progress bars, output): panels extend it."""

    def check_cancel(self, what: str = "") -> None:
        """Raise the cancellation error if Cancel was clicked (between steps of an action)."""
        if self.cancel_event.is_set():
            raise cancelled_error(f"stopped by Cancel{': ' + what if what else ''}")

    def watching(self, progress: Callable[[ProgressEvent], Any] | None
                 ) -> Callable[[ProgressEvent], Any]:
        """A progress callback that also stops the action once Cancel is clicked."""
        def callback(event: ProgressEvent) -> None:
            self.check_cancel(event.message or event.action)
            if progress is not None:
                progress(event)
        return callback

    def cancel_kwargs(self, verb: Callable[..., Any]) -> dict[str, Any]:
        return {"cancel": self.cancel_event} if accepts(verb, "cancel") else {}

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        # for browser tests and CSS: a panel at work carries rw-busy
        (self.add_class if busy else self.remove_class)("rw-busy")
        show(self.cancel_action_button, busy)
        self.update_buttons()

    def update_buttons(self) -> None:
        """Enable or disable the action buttons (busy, and whatever the panel adds)."""
        for btn in self._action_buttons:
            # ``_rw_allowed``: a button's own veto (Confirm of a plan that is all blocked)
            btn.disabled = self.busy or not self.button_allowed(btn) or \
                not getattr(btn, "_rw_allowed", True)

    def button_allowed(self, btn: w.Button) -> bool:
        """Panels say here which buttons need something (rows, a selection) when idle."""
        return True

    # -- what the panel shows ------------------------------------------------------------

    def follow(self, registry: str) -> None:
        """The dashboard's chooser moved to ``registry``: a panel that shows a registry
        empties what it showed of the old one at once, then lists ``registry``."""

    def shows(self, registry: str) -> bool:
        """Whether this panel's rows, heading or plan come from ``registry``."""
        return registry in {getattr(self, "registry", None),
                            getattr(self, "rows_registry", None)}

    def refresh(self) -> Any:
        """List again what the panel shows (in the worker thread); panels that list
        override it."""
        return None

    def on_changed(self, callback: Callable[[str], Any], remove: bool = False) -> None:
        """Call ``callback(registry)`` after an action of this panel wrote to ``registry``."""
        if remove:
            self._changed_callbacks.remove(callback)
        else:
            self._changed_callbacks.append(callback)

    def report_changed(self, *registries: str) -> None:
        """Tell the subscribers (the dashboard) which registries an action wrote to."""
        for registry in sorted(set(r for r in registries if r)):
            for callback in list(self._changed_callbacks):
                callback(registry)


def plan_bound(plan_registry: str | None, chosen: str, *, tab: str,
               button: str = "Preview") -> None:
    """Refuse a plan made on another registry than the one the panel names now: its rows
    were shown for ``plan_registry``, so applying it would act on what the user no longer
    sees (and applying it to ``chosen`` would act on what the user never saw)."""
    if plan_registry != chosen:
        raise ValueError(f"{tab}: the plan shown was made on {plan_registry}, but the chosen "
                         f"registry is now {chosen}; nothing was sent to either. Press "
                         f"{button} again to plan for {chosen}")
