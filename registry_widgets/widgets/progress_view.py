"""Progress bars for one long operation, fed by the verbs' ``ProgressEvent``s: an overall
bar, one bar per layer or blob, and the build log. Panels show a ``ProgressView`` and pass
it (or ``Panel.watching`` around it) as a verb's ``progress=`` callback.

Imports ipywidgets, the standard library, ``progress`` and the sibling ``tables``; no other
sibling.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import ipywidgets as w

from ..progress import ProgressEvent
from .tables import human_size


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
        self.legend = w.HTML(LEGEND)
        self.legend.add_class("rw-progress-legend")
        super().__init__([w.HBox([self.overall, self.label]), self.legend, self.bars_box,
                          self.log_area])
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

    def finish(self, message: str = "", *, failed: bool = False,
               cancelled: bool = False) -> None:
        """End the operation: every bar green when it succeeded; when it ``failed`` the
        overall bar turns red and the bars of unfinished items too. ``cancelled`` (the person
        pressed Cancel) is not a failure: the bars stay as they were, the label says
        "cancelled" (see ``LEGEND``)."""
        with self._lock:
            if cancelled:
                self.overall.bar_style = ""
                self.label.value = "cancelled"
                return
            for bar in self._bars.values():
                if not failed:
                    bar.value = 100
                bar.bar_style = "success" if bar.value >= 100 else ("danger" if failed else "")
            if not failed:
                self.overall.value = 100
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


# The one meaning of the bars' colours, shown under the overall bar of every progress view.
LEGEND = ('<span style="font-size:85%;color:#555">bars: '
          '<span style="color:#2196f3">■</span> moving · '
          '<span style="color:#4caf50">■</span> done · '
          '<span style="color:#f44336">■</span> failed · '
          'unchanged after Cancel</span>')

_DONE_STATUSES = {"pull complete", "already exists", "pushed", "layer already exists",
                  "download complete", "skipped", "mounted", "copied", "done", "complete"}


def _set(widget: w.Widget, name: str, value: Any) -> None:
    if getattr(widget, name) != value:
        setattr(widget, name, value)


def _short(item_id: str) -> str:
    return item_id.split(":", 1)[-1][:12]
