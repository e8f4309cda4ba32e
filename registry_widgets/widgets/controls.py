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
    """A Text field with the stable CSS class ``css``. ``description`` is its visible label
    (a placeholder disappears once the field is filled); ``width`` is the input's, the
    label's room is added to it."""
    t = w.Text(value=value, placeholder=placeholder, description=description,
               layout=w.Layout(width=labelled_width(width, description)),
               style={"description_width": "initial"})
    t.add_class(css)
    return t


def registry_box(css: str, *, description: str, placeholder: str = "host[:port]",
                 width: str = "12em") -> w.Combobox:
    """A field that takes a registry: it offers the registry bar's (``options``, set by the
    dashboard) and still takes any host typed in."""
    box = w.Combobox(options=[], ensure_option=False, placeholder=placeholder,
                     description=description, style={"description_width": "initial"},
                     layout=w.Layout(width=labelled_width(width, description)))
    box.add_class(css)
    return box


def labelled_width(width: str, label: str) -> str:
    """``width`` (of an input, in em) plus room for ``label`` in front of it."""
    if not label or not width.endswith("em"):
        return width
    return f"{float(width[:-2]) + 0.55 * len(label) + 1:g}em"


class Confirmation(w.VBox):
    """The second step of a destructive action: the plan (what goes), then Confirm or Cancel.

    ``ask(plan, action)`` shows the plan and keeps ``action``; only ``confirm()`` (the
    Confirm button) runs it, once. ``cancel()`` forgets it. ``pending`` says whether a plan
    is waiting. The owner wires the buttons (through its guard), so a failing delete shows
    its message like any other error.

    ``ask(..., type_to_confirm=name)`` also asks for ``name`` to be typed in the ``typed``
    box (as Harbor and GitHub do before deleting a project or a repository): Confirm is
    enabled only while the box holds exactly that, and ``confirm()`` refuses otherwise,
    keeping the plan. ``on_typed``: called when that changes whether Confirm is allowed (the
    owning panel's ``update_buttons``, which also knows whether it is busy).
    """

    def __init__(self, css_prefix: str):
        self.plan = w.Textarea(value="", disabled=True,
                               layout=w.Layout(width="100%", height="12em"))
        self.plan.add_class(f"{css_prefix}-plan")
        self.confirm_button = button("Confirm", f"{css_prefix}-confirm", icon="trash",
                                     style="danger")
        self.cancel_button = button("Cancel", f"{css_prefix}-cancel")
        self.typed = text("", f"{css_prefix}-typed", description="name", width="22em")
        show(self.typed, False)
        self.title = w.HTML("")
        self.on_typed: Callable[[], Any] | None = None
        self._action: Callable[[], Any] | None = None
        self._expected: str | None = None
        self._can_confirm = True
        super().__init__([self.title, self.plan,
                          w.HBox([self.typed, self.confirm_button, self.cancel_button])])
        self.add_class(f"{css_prefix}-confirmation")
        self.layout.display = "none"
        self.typed.observe(lambda _change: self._allow(), names="value")

    @property
    def pending(self) -> bool:
        return self._action is not None

    @property
    def typed_matches(self) -> bool:
        """Whether the typed name is the one asked for (True when none is asked for)."""
        return self._expected is None or self.typed.value.strip() == self._expected

    def ask(self, title: str, plan: str, action: Callable[[], Any], *,
            can_confirm: bool = True, type_to_confirm: str | None = None,
            prompt: str = "") -> None:
        self.title.value = f"<b>{html.escape(title)}</b>"
        self.plan.value = plan
        self._action = action if can_confirm else None
        self._can_confirm = can_confirm
        self._expected = type_to_confirm
        self.typed.placeholder = prompt or f"type {type_to_confirm} to confirm"
        self.typed.value = ""
        show(self.typed, type_to_confirm is not None)
        self._allow()
        self.layout.display = None

    def _allow(self) -> None:
        allowed = self._can_confirm and self.typed_matches
        self.confirm_button._rw_allowed = allowed
        if self.on_typed is not None:
            self.on_typed()
        else:
            self.confirm_button.disabled = not allowed

    def confirm(self) -> Any:
        if self._action is not None and not self.typed_matches:
            # The plan stays shown: the person corrects the name and presses Confirm again.
            raise ValueError(f"the box '{self.typed.placeholder}' holds "
                             f"{self.typed.value.strip()!r}, not {self._expected!r}: nothing "
                             "was deleted. Type the name exactly, then press Confirm")
        action, self._action = self._action, None
        self.layout.display = "none"
        if action is None:
            raise ValueError("nothing to confirm: click Remove first to see the plan")
        return action()

    def cancel(self) -> None:
        self._action = None
        self._expected = None
        self.plan.value = ""
        self.title.value = ""
        self.typed.value = ""
        show(self.typed, False)
        self.layout.display = "none"
