"""``NamespaceTable``: the namespaces of one registry, with Refresh, Add and Remove.

Selecting a row sets ``selected`` (the namespace name) and calls the ``on_select``
callbacks; the Dashboard uses that to open the namespace in the image table. The table
knows the registry its rows came from (``rows_registry``); a listing that fails empties it.
Remove shows what goes first (``plan_remove_namespace`` on the rows' registry) and asks
for the namespace's name to be typed (``confirm_name``), as Harbor does; Confirm is enabled
only while it matches, and hands exactly the plan shown back (``remove_namespace(...,
plan=shown, confirm=typed)``): the engine deletes nothing if the registry moved since
("changed since the plan: ..."). On IBM Cloud Container Registry the plan is IBM's image
list and Confirm deletes the namespace through IBM's API (``ibm_remove_namespace``, the
same plan check). Listing and removing run in the panel's worker thread (``busy``,
``wait()``).

Imports the ``operations`` verbs and the sibling widget modules only.
"""

from __future__ import annotations

from typing import Any, Callable

import ipywidgets as w
import pandas as pd
import traitlets
from itables.widget import ITable

from ..errors import ConfirmationRequired
from ..operations.core.clients import refresh_credentials
from ..operations.images.inventory import catalog_refused
from ..operations.images.namespaces import (COLUMNS, add_namespace, declared_namespaces,
                                            forget_namespace, namespaces, remembered_repositories)
from ..operations.images.ibm_cloud import (ibm_remove_namespace, is_ibm,
                                            plan_ibm_remove_namespace)
from ..operations.images.remove import plan_remove_namespace, remove_namespace
from .controls import Confirmation, button, show, text
from .messages import catalog_pointer, result_text
from .panel import Panel
from .progress_view import ProgressView
from .tables import counted, namespace_display, namespace_plan_text, table_options

# Rows a page shows before the page controls are needed: a team's namespaces fit on one page.
PAGE_LENGTH = 25


class NamespaceTable(Panel):
    """The namespaces of ``registry``: repositories, tags, size and newest image.

    Buttons (attributes, for ``.click()``; ``wait()`` for the ones that run in the worker
    thread): ``refresh_button``, ``add_button`` (adds the name in ``new_namespace``),
    ``remove_button`` (shows the plan), ``confirm_button`` and ``cancel_button``.
    ``frame`` is the ``namespaces()`` DataFrame shown, from ``rows_registry``.
    """

    registry = traitlets.Unicode("", help="host[:port] of the registry to list")
    rows_registry = traitlets.Unicode(None, allow_none=True, read_only=True,
                                      help="the registry the rows shown came from")
    selected = traitlets.Unicode(None, allow_none=True,
                                 help="the selected namespace, None when none is")

    def __init__(self, registry: str = ""):
        self.frame = pd.DataFrame(columns=COLUMNS)
        empty = namespace_display(self.frame)
        self.table = ITable(empty, **table_options(empty, select={"style": "single"},
                                                   page_length=PAGE_LENGTH))
        self.table.add_class("rw-namespace-grid")
        self.refresh_button = button("Refresh", "rw-ns-refresh", icon="refresh")
        self.new_namespace = text("e.g. my_namespace", "rw-ns-new-name",
                                  description="new namespace")
        self.add_button = button("Add namespace", "rw-ns-add", icon="plus")
        self.remove_button = button("Remove namespace", "rw-ns-remove", icon="trash",
                                    style="warning")
        self.confirmation = Confirmation("rw-ns")
        self.confirm_button = self.confirmation.confirm_button
        self.confirm_name = self.confirmation.typed  # the namespace's name, typed to confirm
        self.cancel_button = self.confirmation.cancel_button
        self.progress = ProgressView()
        self.title = w.HTML("")
        self.title.add_class("rw-ns-title")
        self._select_callbacks: list[Callable[[str | None], Any]] = []
        self._keep: str | None = None
        super().__init__()
        self.cancel_action_button.add_class("rw-ns-cancel-action")
        self.children = [
            self.title,
            w.HBox([self.refresh_button, self.new_namespace, self.add_button,
                    self.remove_button, self.cancel_action_button],
                   layout=w.Layout(flex_flow="row wrap")),
            self.confirmation, self.message, self.progress, self.table]
        self.add_class("rw-namespace-table")
        self.confirmation.on_typed = self.update_buttons  # Confirm waits for the typed name

        self.on_click(self.refresh_button, self._refresh_pressed, background=True)
        self.on_click(self.add_button, self.add, background=True)
        self.on_click(self.remove_button, self.plan_removal, background=True)
        self.on_click(self.confirm_button, self.confirmation.confirm, background=True)
        self.on_click(self.cancel_button, self.confirmation.cancel)
        self.table.observe(self.guard(self._rows_selected, fresh=False), names="selected_rows")
        self.observe(self.guard(lambda change: self._registry_set()), names="registry")
        self.observe(self.guard(self._notify, fresh=False), names="selected")
        self.registry = registry  # lists it (an error shows in the widget, not here)

    # -- actions -------------------------------------------------------------------------

    def _registry_set(self) -> None:
        # The old rows go now, with their selection: nothing may act on them meanwhile. A
        # namespace of the same name in the new registry is selected again once listed.
        self._keep = self.selected or self._keep
        self._show(pd.DataFrame(columns=COLUMNS), None)
        self.title.value = f"<b>Namespaces of {self.registry}</b> (listing…)" \
            if self.registry else ""
        self.refresh()

    def follow(self, registry: str) -> None:
        """The dashboard chose ``registry``: its namespaces, none of the old ones."""
        self.registry = registry

    def refresh(self) -> Any:
        """List the registry again in the worker thread (``wait()`` for it)."""
        return self.start("refresh", self._refresh_now)

    def _refresh_pressed(self) -> None:
        """Refresh as the user pressed it: Docker's config is read again first."""
        self._refresh_now(relogin=True)

    def _refresh_now(self, *, relogin: bool = False) -> None:
        """List the namespaces here and now (keeps the selection if it still exists);
        ``relogin``: read Docker's config and helpers again first (see ``ImageTable``)."""
        self.confirmation.cancel()
        registry = self.registry
        if not registry:
            self._show(pd.DataFrame(columns=COLUMNS), None)
            return
        self.title.value = f"<b>Namespaces of {registry}</b> (listing…)"
        self.progress.start("listing", f"listing {registry}")
        try:
            # A registry that refuses the catalog is listed through the repositories
            # remembered for it (typed in the image table's Repositories box).
            if relogin:
                refresh_credentials(registry)
            frame = namespaces(registry, repositories=remembered_repositories(registry) or None,
                               progress=self.watching(self.progress),
                               **self.cancel_kwargs(namespaces))
        except BaseException as e:
            if registry != self.registry:
                return  # another registry was chosen meanwhile; its listing is queued
            self._show(pd.DataFrame(columns=COLUMNS), None)
            self.title.value = f"<b>Namespaces of {registry}</b>: could not be listed"
            self.progress.finish("listing failed", failed=True)
            if catalog_refused(e):
                # Said once, in red, by the image table (which has the Repositories box);
                # kept in last_error for notebooks and tests, not raised again by wait().
                self.message.status(catalog_pointer(registry, e))
                self.last_error = e
                return
            raise
        self.progress.finish(counted(len(frame), "namespace"))
        show(self.progress, False)
        if registry != self.registry:
            # Another registry was chosen while this one was listed: its rows must not show
            # under the new heading (the new listing is queued behind this one).
            return
        self.title.value = f"<b>Namespaces of {registry}</b>"
        self._show(frame, registry)
        self.message.status(f"{counted(len(self.frame), 'namespace')} in {registry}")

    def _show(self, frame: pd.DataFrame, registry: str | None) -> None:
        self.frame = frame
        self.set_trait("rows_registry", registry)
        display = namespace_display(frame)
        wanted = self.selected or (self._keep if registry else None)
        keep = [i for i, name in enumerate(frame["namespace"]) if name == wanted]
        if registry:
            self._keep = None
        options = table_options(display, select={"style": "single"}, page_length=PAGE_LENGTH)
        options["selected_rows"] = keep
        self.table.update(display, **options)
        if not keep:
            self.selected = None
        self.update_buttons()

    def button_allowed(self, btn: w.Button) -> bool:
        if btn is self.remove_button:
            return self.rows_registry is not None and len(self.frame) > 0
        if btn is self.add_button:
            return self.rows_registry is not None
        return True

    def reset_feedback(self) -> None:
        show(self.progress, False)

    def add(self) -> None:
        """Declare the namespace typed in ``new_namespace`` (``add_namespace``)."""
        name = self.new_namespace.value.strip()
        if not name:
            raise ValueError("type the name of the new namespace first, e.g. my_namespace")
        registry = self.rows_registry or self.registry
        result = add_namespace(registry, name)
        self.new_namespace.value = ""
        self._refresh_now()
        if not result.changed:
            self.message.status(f"namespace {name!r} already exists in {registry}")
        elif result.details.get("created_on_registry"):  # a registry with namespace objects
            self.message.status(f"namespace {name} created on {registry}")
        else:
            # A plain registry has no namespace object: say where it lives, or people
            # expect it on the registry (and in other kernels' machines).
            self.message.status(f"namespace {name} added to this list only: remembered here "
                                f"for this user, not created on {registry}, which creates "
                                "it with the first image pushed into it")

    def plan_removal(self) -> None:
        """Show what removing the selected namespace deletes; Confirm (enabled once the
        namespace's name is typed) hands exactly that plan back: it is deleted only if the
        registry still holds exactly that."""
        name = self.selected
        if name is None:
            raise ValueError("Namespaces: select a namespace in the table first, then press "
                             "Remove namespace")
        registry = self.rows_registry
        if registry is None:
            raise ValueError("the namespace table holds no listing: Refresh first")
        # IBM Cloud has namespace objects of its own: IBM's API deletes the namespace and
        # its images (keeping them in IBM's trash); elsewhere the change engine deletes
        # every manifest under the name, backed up first.
        ibm = is_ibm(registry)
        if ibm:
            shown = plan_ibm_remove_namespace(registry, name)
            plan_text = (shown.describe() + "\nNothing has been deleted yet: Confirm deletes "
                         "the namespace in the IBM Cloud account, Cancel keeps everything.")
        else:
            shown = plan_remove_namespace(registry, name)
            dry = remove_namespace(registry, name, plan=shown, dry_run=True)
            plan_text = namespace_plan_text(name, dry.details)

        def delete() -> None:
            self.progress.start("remove namespace", f"removing {registry}/{name}/")
            typed = self.confirmation.typed.value.strip()
            try:
                if ibm:
                    result = ibm_remove_namespace(registry, name, plan=shown, confirm=typed)
                else:
                    result = remove_namespace(registry, name, plan=shown, confirm=typed,
                                              progress=self.watching(self.progress))
            except ConfirmationRequired as e:
                self._refresh_now()
                raise ConfirmationRequired(
                    f"Namespaces, Remove namespace: {str(e).rstrip('.')}. Nothing was deleted "
                    f"from {registry}/{name}/: the table was listed again; press Remove "
                    "namespace to plan anew and check it",
                    registry=registry, reference=f"{registry}/{name}/") from e
            finally:
                self.progress.finish("")
                show(self.progress, False)
            # A declared namespace would stay listed, empty: removing it means forgetting it.
            if name in declared_namespaces(registry):
                forget_namespace(registry, name)
            self._refresh_now()
            self.report_changed(registry)
            self.message.status(result_text(result))

        self.confirmation.ask(f"Remove namespace {name} from {registry}?", plan_text, delete,
                              type_to_confirm=name,
                              prompt="type the namespace name to confirm")

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
