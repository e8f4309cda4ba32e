"""``CleanupSection``: the base of the Clean up tab's smaller parts (garbage collection,
usage, saved policies and protected tags), each in a module of its own.

A section is a ``Panel`` (its own message area, worker thread and Cancel) with a heading,
bound to the Clean up panel it sits in: ``bind(panel)`` makes it follow that panel's
registry and namespace, so the section always acts on what the tab's heading names. When
the registry changes, what the section showed of the old one goes at once.

Imports ipywidgets, traitlets and the sibling ``panel``.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import traitlets

from .panel import Panel


class CleanupSection(Panel):
    """A part of the Clean up tab: ``registry`` and ``namespace`` follow the tab's."""

    registry = traitlets.Unicode("", help="the registry the Clean up tab names")
    namespace = traitlets.Unicode("", allow_none=True,
                                  help="the namespace chosen in the Clean up tab")
    TITLE = ""
    ABOUT = ""
    FOLLOWS: tuple[str, ...] = ("registry", "namespace")  # what, changed, drops what it shows

    def __init__(self, css: str, **kwargs: Any):
        self.heading = w.HTML(f"<b>{self.TITLE}</b> <span style='color:#555'>{self.ABOUT}"
                              "</span>")
        super().__init__(**kwargs)
        self.add_class(css)
        self.add_class("rw-cleanup-section")
        self.layout.border_top = "1px solid #ddd"
        self.layout.margin = "8px 0 0 0"
        self.observe(self.guard(lambda change: self.forget(), fresh=False),
                     names=list(self.FOLLOWS))

    def bind(self, panel: Any) -> None:
        """Follow ``panel``'s registry and its namespace box from now on."""
        self.registry = panel.registry or ""
        self.namespace = panel.namespace_choice.value or ""
        panel.observe(lambda change: setattr(self, "registry", change["new"] or ""),
                      names="registry")
        panel.namespace_choice.observe(
            lambda change: setattr(self, "namespace", change["new"] or ""), names="value")

    def forget(self) -> None:
        """Drop what the section showed (the registry or namespace changed)."""

    def need_registry(self) -> str:
        if not self.registry:
            raise ValueError(f"Clean up, {self.TITLE}: choose a registry in the bar above "
                             "first")
        return self.registry

    def need_namespace(self) -> str:
        self.need_registry()
        if not self.namespace:
            raise ValueError(f"Clean up, {self.TITLE}: choose a namespace in the 'namespace' "
                             "box at the top of the tab first")
        return self.namespace

    def shows(self, registry: str) -> bool:
        return registry == self.registry
