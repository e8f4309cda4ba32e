"""``NamespaceTable``: the namespaces of one registry, with Refresh, Add and Remove.

Selecting a row sets ``selected`` (the namespace name) and calls the ``on_select``
callbacks; the Dashboard uses that to open the namespace in the image table. Remove shows
what goes first (``remove_namespace(..., dry_run=True)``); only Confirm deletes, passing
``confirm=name``.

Imports the ``operations`` verbs and the sibling widget modules only.
"""

from __future__ import annotations

from typing import Any, Callable

import ipywidgets as w
import pandas as pd
import traitlets
from itables.widget import ITable

from ..errors import Unauthorized
from ..operations.inventory import catalog_refused
from ..operations.namespaces import (COLUMNS, add_namespace, declared_namespaces,
                                     forget_namespace, namespaces, remembered_repositories)
from ..operations.remove import remove_namespace
from .feedback import Confirmation, Panel, button, text
from .tables import namespace_display, namespace_plan_text, table_options


class NamespaceTable(Panel):
    """The namespaces of ``registry``: repositories, tags, size and last pushed.

    Buttons (attributes, for ``.click()``): ``refresh_button``, ``add_button`` (adds the
    name in ``new_namespace``), ``remove_button`` (shows the plan), ``confirm_button`` and
    ``cancel_button``. ``frame`` is the ``namespaces()`` DataFrame shown.
    """

    registry = traitlets.Unicode("", help="host[:port] of the registry listed")
    selected = traitlets.Unicode(None, allow_none=True,
                                 help="the selected namespace, None when none is")

    def __init__(self, registry: str = ""):
        self.frame = pd.DataFrame(columns=COLUMNS)
        empty = namespace_display(self.frame)
        self.table = ITable(empty, **table_options(empty, select={"style": "single"}))
        self.table.add_class("rw-namespace-grid")
        self.refresh_button = button("Refresh", "rw-ns-refresh", icon="refresh")
        self.new_namespace = text("new namespace", "rw-ns-new-name")
        self.add_button = button("Add namespace", "rw-ns-add", icon="plus")
        self.remove_button = button("Remove namespace", "rw-ns-remove", icon="trash",
                                    style="warning")
        self.confirmation = Confirmation("rw-ns")
        self.confirm_button = self.confirmation.confirm_button
        self.cancel_button = self.confirmation.cancel_button
        self.title = w.HTML("")
        self.title.add_class("rw-ns-title")
        self._select_callbacks: list[Callable[[str | None], Any]] = []
        super().__init__()
        self.children = [
            self.title,
            w.HBox([self.refresh_button, self.new_namespace, self.add_button,
                    self.remove_button]),
            self.confirmation, self.message, self.table]
        self.add_class("rw-namespace-table")

        self.on_click(self.refresh_button, self.refresh)
        self.on_click(self.add_button, self.add)
        self.on_click(self.remove_button, self.plan_removal)
        self.on_click(self.confirm_button, self.confirmation.confirm)
        self.on_click(self.cancel_button, self.confirmation.cancel)
        self.table.observe(self.guard(self._rows_selected, fresh=False), names="selected_rows")
        self.observe(self.guard(lambda change: self.refresh()), names="registry")
        self.observe(self.guard(self._notify, fresh=False), names="selected")
        self.registry = registry  # lists it (an error shows in the widget, not here)

    # -- actions -------------------------------------------------------------------------

    def refresh(self) -> None:
        """List the registry's namespaces again (keeps the selection if it still exists)."""
        self.confirmation.cancel()
        if not self.registry:
            return
        self.title.value = f"<b>Namespaces of {self.registry}</b>"
        # A registry that refuses the catalog is listed through the repositories remembered
        # for it (typed in the image table's Repositories box).
        try:
            self.frame = namespaces(self.registry,
                                    repositories=remembered_repositories(self.registry) or None)
        except Exception as e:
            if not catalog_refused(e) or isinstance(e, Unauthorized):
                raise  # anonymous: logging in may be the answer, and the message says so
            raise ValueError(
                f"{self.registry} does not list its repositories to you (its catalog is refused: "
                "Docker Hub, GHCR and many others never give it). Type or paste the repositories "
                "in the image table's Repositories box; the namespaces of those are shown "
                "here.") from e
        display = namespace_display(self.frame)
        keep = [i for i, name in enumerate(self.frame["namespace"]) if name == self.selected]
        options = table_options(display, select={"style": "single"})
        options["selected_rows"] = keep
        self.table.update(display, **options)
        if not keep:
            self.selected = None
        self.message.status(f"{len(self.frame)} namespace(s) in {self.registry}")

    def add(self) -> None:
        """Declare the namespace typed in ``new_namespace`` (``add_namespace``)."""
        name = self.new_namespace.value.strip()
        if not name:
            raise ValueError("type the name of the new namespace first, e.g. my_namespace")
        result = add_namespace(self.registry, name)
        self.new_namespace.value = ""
        self.refresh()
        self.message.status(result.summary() if result.changed
                            else f"namespace {name!r} already exists in {self.registry}")

    def plan_removal(self) -> None:
        """Show what removing the selected namespace deletes; Confirm deletes it."""
        name = self.selected
        if name is None:
            raise ValueError("select a namespace in the table first")
        registry = self.registry
        dry = remove_namespace(registry, name, dry_run=True)

        def delete() -> None:
            result = remove_namespace(registry, name, confirm=name)
            # A declared namespace would stay listed, empty: removing it means forgetting it.
            if name in declared_namespaces(registry):
                forget_namespace(registry, name)
            self.refresh()
            self.message.status(result.summary())

        self.confirmation.ask(f"Remove namespace {name} from {registry}?",
                              namespace_plan_text(name, dry.details), delete)

    # -- selection -----------------------------------------------------------------------

    def on_select(self, callback: Callable[[str | None], Any], remove: bool = False) -> None:
        """Call ``callback(namespace)`` when the selection changes (None when cleared)."""
        if remove:
            self._select_callbacks.remove(callback)
        else:
            self._select_callbacks.append(callback)

    def select(self, namespace: str | None) -> None:
        """Select ``namespace`` as a click in the table would."""
        rows = [] if namespace is None else \
            [i for i, name in enumerate(self.frame["namespace"]) if name == namespace]
        if namespace is not None and not rows:
            raise ValueError(f"no namespace {namespace!r} in {self.registry}; Refresh?")
        self.table.selected_rows = rows[:1]

    def _rows_selected(self, change: dict) -> None:
        rows = [i for i in change["new"] if 0 <= i < len(self.frame)]
        self.selected = str(self.frame["namespace"].iloc[rows[0]]) if rows else None

    def _notify(self, change: dict) -> None:
        self.confirmation.cancel()
        for callback in list(self._select_callbacks):
            callback(change["new"])

