"""Where the widgets talk back: a message area (red errors that say what to do, status
lines) and progress bars fed by ``ProgressEvent``s, plus the guard every callback runs in.

ipywidgets' callback dispatcher swallows exceptions (they reach a log the user rarely sees),
so every button callback goes through :func:`guarded`: it shows the error in red, keeps it in
``owner.last_error`` and logs it to the ``registry_widgets.widgets`` logger. Messages come
from ``errors``, which keep credentials out of them; nothing here stores a secret in a trait.

Imports ipywidgets, the standard library and ``progress``.
"""

from __future__ import annotations

import html
import inspect
import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import ipywidgets as w
import traitlets

from .. import errors
from ..errors import RegistryWidgetsError
from ..progress import ProgressEvent
from .messages import _EXPECTED, MessageArea, guarded
from .tables import human_size

log = logging.getLogger("registry_widgets.widgets")


def button(description: str, css: str, *, icon: str = "", style: str = "") -> w.Button:
    """A button with the stable CSS class ``css`` (for browser tests)."""
    b = w.Button(description=description, icon=icon, tooltip=description, button_style=style,
                 layout=w.Layout(width="auto"))
    b.add_class(css)
    return b


def show(widget: w.Widget, visible: bool) -> None:
    """Show or hide ``widget`` (its layout's ``display``)."""
    widget.layout.display = None if visible else "none"


def text(placeholder: str, css: str, *, description: str = "", value: str = "",
         width: str = "16em") -> w.Text:
    """A Text field with the stable CSS class ``css``."""
    t = w.Text(value=value, placeholder=placeholder, description=description,
               layout=w.Layout(width=width), style={"description_width": "initial"})
    t.add_class(css)
    return t


class ProgressView(w.VBox):
    """Progress bars for one long operation: an overall bar and one bar per layer or blob
    (``event.id``), created when an id first appears. Only the ``max_bars`` most recently
    active bars are shown, in order of appearance (a 40-layer pull stays readable); the
    overall bar counts them all.
    Build log lines (status ``"log"``) go to ``log_area`` (last ``max_log_lines`` kept).

    Call the view with each event (``progress=view``); verbs may call it from worker
    threads, so updates take a lock. Bars hold percentages, and a trait is only written
    when its value changes, which keeps a chatty copy from flooding the browser.
    """

    def __init__(self, *, max_bars: int = 20, max_log_lines: int = 200):
        self.max_bars = max_bars
        self.max_log_lines = max_log_lines
        self.overall = w.IntProgress(value=0, min=0, max=100, description="overall",
                                     layout=w.Layout(width="32em"))
        self.overall.add_class("rw-progress-overall")
        self.label = w.Label("")
        self.label.add_class("rw-progress-label")
        self.bars_box = w.VBox()
        self.bars_box.add_class("rw-progress-bars")
        self.log_area = w.Textarea(value="", disabled=True,
                              layout=w.Layout(width="100%", height="10em", display="none"))
        self.log_area.add_class("rw-progress-log")
        self._lock = threading.RLock()
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._bars: dict[str, w.IntProgress] = {}
        self._log_lines: list[str] = []
        self.events = 0
        self.action = ""
        super().__init__([w.HBox([self.overall, self.label]), self.bars_box, self.log_area])
        self.add_class("rw-progress")
        self.layout.display = "none"

    # -- what callers use ------------------------------------------------------------------

    def start(self, action: str, message: str = "") -> None:
        """Forget the previous operation and show an empty view for ``action``."""
        with self._lock:
            self.action = action
            self._items.clear()
            self._bars.clear()
            self._log_lines = []
            self.events = 0
            self.bars_box.children = ()
            self.log_area.value = ""
            self.log_area.layout.display = "none"
            self.overall.bar_style = ""
            self.overall.value = 0
            self.overall.description = action
            self.label.value = message or f"{action}…"
            self.layout.display = None

    def finish(self, message: str = "", *, failed: bool = False) -> None:
        with self._lock:
            if not failed:
                self.overall.value = 100
                for item_id, bar in self._bars.items():
                    bar.value = 100
            self.overall.bar_style = "danger" if failed else "success"
            self.label.value = message or ("failed" if failed else "done")

    def __call__(self, event: ProgressEvent) -> None:
        self.update(event)

    def update(self, event: ProgressEvent) -> None:
        with self._lock:
            self.events += 1
            if event.status == "log":
                self._add_log(event.message)
                return
            if not event.id:
                self._whole(event)
                return
            item = self._items.get(event.id)
            if item is None:
                item = self._items[event.id] = {"current": 0, "total": None, "status": ""}
            self._items.move_to_end(event.id)
            item["status"] = event.status
            if event.total:
                item["total"] = event.total
                item["current"] = min(event.current, event.total)
            elif event.current:
                item["current"] = event.current
            if event.status.lower() in _DONE_STATUSES and item["total"]:
                item["current"] = item["total"]
            self._draw(event.id, item)
            self._draw_overall()

    @property
    def bars(self) -> dict[str, w.IntProgress]:
        """The per-id bars shown now (at most ``max_bars``), in the order drawn."""
        return {i: self._bars[i] for i in self._shown_ids()}

    @property
    def ids(self) -> list[str]:
        """Every id seen in this operation, oldest first."""
        return list(self._items)

    # -- drawing -----------------------------------------------------------------------------

    def _whole(self, event: ProgressEvent) -> None:
        if event.total:
            _set(self.overall, "value", int(100 * min(event.current, event.total) / event.total))
        text = event.message or event.status
        if text:
            _set(self.label, "value", text)

    def _add_log(self, line: str) -> None:
        self._log_lines.extend(line.rstrip("\n").splitlines() or [""])
        del self._log_lines[:-self.max_log_lines]
        self.log_area.layout.display = None
        self.log_area.value = "\n".join(self._log_lines)

    def _draw(self, item_id: str, item: dict[str, Any]) -> None:
        bar = self._bars.get(item_id)
        if bar is None:
            bar = self._bars[item_id] = w.IntProgress(
                value=0, min=0, max=100, description=_short(item_id),
                layout=w.Layout(width="32em"), style={"description_width": "10em"})
            bar.add_class("rw-progress-bar")
        percent = int(100 * item["current"] / item["total"]) if item["total"] else 0
        _set(bar, "value", percent)
        _set(bar, "bar_style", "success" if percent >= 100 else "")
        _set(bar, "tooltip", f"{item_id}: {item['status']}")
        children = tuple(self._bars[i] for i in self._shown_ids())
        if children != self.bars_box.children:
            self.bars_box.children = children

    def _shown_ids(self) -> list[str]:
        # The most recently active ids, drawn in the order they first appeared, so bars do
        # not jump around while several layers move at once.
        recent = set(list(self._items)[-self.max_bars:])
        return [i for i in self._bars if i in recent]

    def _draw_overall(self) -> None:
        known = [i for i in self._items.values() if i["total"]]
        total = sum(i["total"] for i in known)
        current = sum(i["current"] for i in known)
        if total:
            _set(self.overall, "value", int(100 * current / total))
        done = sum(1 for i in self._items.values()
                   if i["status"].lower() in _DONE_STATUSES
                   or (i["total"] and i["current"] >= i["total"]))
        _set(self.label, "value", f"{done}/{len(self._items)} layers, "
                                  f"{human_size(current)} of {human_size(total)}")


_DONE_STATUSES = {"pull complete", "already exists", "pushed", "layer already exists",
                  "download complete", "skipped", "mounted", "copied", "done", "complete"}


def _set(widget: w.Widget, name: str, value: Any) -> None:
    if getattr(widget, name) != value:
        setattr(widget, name, value)


def _short(item_id: str) -> str:
    return item_id.split(":", 1)[-1][:12]


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
        """Run ``work`` in the worker thread (queued behind a running action)."""
        if fresh:
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
                if is_cancelled(e):
                    self.message.error(f"cancelled: {e}")
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

    def watching(self, progress: Callable[[ProgressEvent], Any] | None) -> Callable[[ProgressEvent], Any]:
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


class Confirmation(w.VBox):
    """The second step of a destructive action: the plan (what goes), then Confirm or Cancel.

    ``ask(plan, action)`` shows the plan and keeps ``action``; only ``confirm()`` (the
    Confirm button) runs it, once. ``cancel()`` forgets it. ``pending`` says whether a plan
    is waiting. The owner wires the buttons (through its guard), so a failing delete shows
    its message like any other error.
    """

    def __init__(self, css_prefix: str):
        self.plan = w.Textarea(value="", disabled=True,
                               layout=w.Layout(width="100%", height="12em"))
        self.plan.add_class(f"{css_prefix}-plan")
        self.confirm_button = button("Confirm", f"{css_prefix}-confirm", icon="trash",
                                     style="danger")
        self.cancel_button = button("Cancel", f"{css_prefix}-cancel")
        self.title = w.HTML("")
        self._action: Callable[[], Any] | None = None
        super().__init__([self.title, self.plan,
                          w.HBox([self.confirm_button, self.cancel_button])])
        self.add_class(f"{css_prefix}-confirmation")
        self.layout.display = "none"

    @property
    def pending(self) -> bool:
        return self._action is not None

    def ask(self, title: str, plan: str, action: Callable[[], Any], *,
            can_confirm: bool = True) -> None:
        self.title.value = f"<b>{html.escape(title)}</b>"
        self.plan.value = plan
        self._action = action if can_confirm else None
        self.confirm_button._rw_allowed = can_confirm
        self.confirm_button.disabled = not can_confirm
        self.layout.display = None

    def confirm(self) -> Any:
        action, self._action = self._action, None
        self.layout.display = "none"
        if action is None:
            raise ValueError("nothing to confirm: click Remove first to see the plan")
        return action()

    def cancel(self) -> None:
        self._action = None
        self.plan.value = ""
        self.title.value = ""
        self.layout.display = "none"
