"""Small shared controls: ``button`` and ``text`` (ipywidgets with a stable CSS class for
the browser tests), ``show`` (hide or show a widget) and ``Confirmation``, the plan-then-
Confirm step of a destructive action.

Imports ipywidgets and the standard library; no sibling, so every widget module may
import it.
"""

from __future__ import annotations

import html
from typing import Any, Callable

import ipywidgets as w


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
