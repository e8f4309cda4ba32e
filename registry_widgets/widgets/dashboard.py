"""``Dashboard``: the registry bar over tabs (Images, Build, Clean up, Sync, Scan, Trash,
Log in), linked: choosing a registry moves every panel to it (each empties what it showed
of the old one, then lists the new one), choosing a namespace opens it in the image table
and gives the build panel its target, and any action that changes a registry makes every
panel that shows it list again.

The tabs are a list of ``(title, factory)`` pairs (``PANELS``; ``Dashboard(panels=...)``
adds more): a factory takes the dashboard and returns a widget. A ``Panel`` follows the
chooser through ``follow(registry)`` and reports the registries its actions wrote to
through ``on_changed``; the dashboard's one notification, ``changed(registry)``, then
refreshes every panel whose ``shows(registry)`` is true.

Imports the sibling widget modules only.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import ipywidgets as w

from .archive_panel import ArchivePanel, table_selection
from .build_panel import BuildPanel
from .cleanup_panel import CleanupPanel
from .image_table import ImageTable
from .login_panel import LoginPanel
from .namespace_table import NamespaceTable
from .registry_bar import RegistryBar, registry_options  # noqa: F401 - re-exported
from .scan_panel import ScanPanel, security_status
from .sync_panel import SyncPanel
from .trash_panel import TrashPanel
from .details import DetailView, security_cells
from .local_panel import LocalPanel

PanelFactory = Callable[["Dashboard"], w.Widget]


def _images_tab(board: "Dashboard") -> w.Widget:
    # Export to archive / Import archive act on what the image table shows and selects.
    board.archive_panel = panel = ArchivePanel(table_selection(board.image_table))
    board.image_table.observe(lambda _c: panel.refresh_choice(),
                              names=["rows_registry", "rows_namespace"])
    board.image_table.table.observe(lambda _c: panel.refresh_choice(), names="selected_rows")
    panel.on_changed(lambda registry: board.changed(registry, source=panel))
    tab = w.VBox([board.namespace_table, board.image_table, panel])
    tab.add_class("rw-images-tab")
    return tab


def _build_tab(board: "Dashboard") -> w.Widget:
    board.build_panel = BuildPanel(board.registry)
    return board.build_panel


def _trash_tab(board: "Dashboard") -> w.Widget:
    board.trash_panel = TrashPanel(board.registry)
    return board.trash_panel


def _cleanup_tab(board: "Dashboard") -> w.Widget:
    board.cleanup_panel = CleanupPanel(board.registry)
    return board.cleanup_panel


def _sync_tab(board: "Dashboard") -> w.Widget:
    # The source follows the chosen registry; the rest is typed, as for skopeo sync.
    board.sync_panel = SyncPanel(board.registry + "/")
    return board.sync_panel


def _scan_tab(board: "Dashboard") -> w.Widget:
    # Scans what the image table has selected, or a reference typed in.
    board.scan_panel = panel = ScanPanel(registry=board.registry)
    # The image table gets IBM's Security status column, from the reports of this panel.
    board.image_table.security = lambda shown: security_status(shown, panel.reports)
    panel.on_scanned(lambda report: board.image_table.apply_filter())

    def chosen(change: dict) -> None:
        try:
            refs = board.image_table.selected_references
        except (IndexError, KeyError):  # a redraw in between: the next change says it
            return
        if refs:
            panel.image.value = refs[0]

    board.image_table.table.observe(chosen, names="selected_rows")
    return board.scan_panel


def _login_tab(board: "Dashboard") -> w.Widget:
    board.login_panel = LoginPanel(board.registry)
    board.login_panel.on_login(board._logged_in)
    return board.login_panel


def _details_tab(board: "Dashboard") -> w.Widget:
    # One image at a time, opened from the Images tab (Details, or a click in its Security
    # column); its scans are the Scan tab's, with that tab's feed.
    scans = board.scan_panel
    board.detail_view = view = DetailView(
        reports=scans.reports if scans is not None else None,
        feed=(lambda: scans.feed.value) if scans is not None else None,
        exemptions=(lambda: scans.exemptions.value) if scans is not None else None)
    board.image_table.security = lambda shown: security_cells(shown, view.reports)
    # Drawn again with the column: a first listing that finished before this line drew
    # none. In the table's own worker, after that listing: two threads drawing one grid race.
    board.image_table.start("redraw", board.image_table.apply_filter, fresh=False)
    view.on_scanned(lambda report: board.image_table.apply_filter())

    def opened(reference: str) -> None:
        board.tabs.selected_index = list(board.panels).index("Details")
        view.show_image(reference)

    board.image_table.on_details(opened)
    return view


def _local_tab(board: "Dashboard") -> w.Widget:
    # The engine's images; Push sends to the bar's registry and the chosen namespace.
    board.local_panel = panel = LocalPanel(board.registry)
    board.namespace_table.on_select(
        lambda namespace: setattr(panel.push_namespace, "value", namespace or ""))
    return panel


PANELS: list[tuple[str, PanelFactory]] = [
    ("Images", _images_tab), ("Build", _build_tab), ("Clean up", _cleanup_tab),
    ("Sync", _sync_tab), ("Scan", _scan_tab), ("Trash", _trash_tab), ("Log in", _login_tab),
    ("Details", _details_tab), ("Local images", _local_tab)]


class Dashboard(w.VBox):
    """Registries, namespaces, images, builds, the trash and logins in one widget.

    Parts (attributes): ``registry_bar`` (``registry_chooser`` is its Dropdown),
    ``namespace_table``, ``image_table``, ``build_panel``, ``trash_panel``,
    ``login_panel``, ``tabs``, ``panels`` ({title: widget}). ``wait()`` waits for every
    panel; ``busy`` says whether one is working.
    """

    def __init__(self, registries: str | Sequence[str] | Mapping[str, str], *,
                 panels: Sequence[tuple[str, PanelFactory]] = (),
                 remember_added: bool = True):
        self.registry_bar = RegistryBar(registries, remember_added=remember_added)
        self.registry_chooser = self.registry_bar.chooser
        first = self.registry_bar.value
        self.namespace_table = NamespaceTable(first)
        self.image_table = ImageTable(first)
        self.build_panel: Any = None
        self.trash_panel: Any = None
        self.cleanup_panel: Any = None
        self.scan_panel: Any = None
        self.sync_panel: Any = None
        self.login_panel: Any = None
        self.detail_view: Any = None
        self.local_panel: Any = None
        self.panels: dict[str, w.Widget] = {}
        for title, factory in list(PANELS) + list(panels):
            self.panels[title] = factory(self)
        self.tabs = w.Tab(children=list(self.panels.values()))
        self.tabs.titles = tuple(self.panels)
        self.tabs.add_class("rw-tabs")
        super().__init__([self.registry_bar, self.tabs])
        self.add_class("rw-dashboard")

        self.registry_bar.observe(self._registry_chosen, names="value")
        # Fields that take a registry (copy and sync targets) offer the bar's registries.
        self.registry_bar.chooser.observe(lambda _change: self._offer_registries(),
                                          names="options")
        self._offer_registries()
        # After every action the bar asks the chosen registry again: one that went down
        # shows down, not the green "reachable" of its last check.
        for panel in self._panels_with_wait():
            if panel is not self.registry_bar and panel.has_trait("busy"):
                panel.observe(self._action_ended, names="busy")
        self.namespace_table.on_select(self._namespace_chosen)
        for widget in self._panels_with_wait():
            if hasattr(widget, "on_changed"):
                # The panel that acted has refreshed itself already.
                widget.on_changed(lambda registry, source=widget:
                                  self.changed(registry, source=source))

    @property
    def registry(self) -> str:
        return self.registry_bar.value

    def _registry_chosen(self, change: dict) -> None:
        # Every panel moves: each empties what it showed of the old registry at once (so
        # nothing old shows under the new heading, nor can be acted on), then lists.
        every = self._panels_with_wait()
        for panel in every + [p for p in self.panels.values() if p not in every]:
            if panel is self.registry_bar:
                continue
            if hasattr(panel, "follow"):
                panel.follow(change["new"])
            elif panel.has_trait("registry"):  # a tab added with panels=, not a Panel
                panel.registry = change["new"]

    def _action_ended(self, change: dict) -> None:
        if change["old"] and not change["new"]:
            self.registry_bar.check_later()

    def _offer_registries(self) -> None:
        for panel in [self.image_table, *self.panels.values()]:
            if hasattr(panel, "offer_registries"):
                panel.offer_registries(self.registry_bar.registries)

    def _namespace_chosen(self, namespace: str | None) -> None:
        # The namespace belongs to the rows' registry, not necessarily to the chooser's
        # (a listing of the chooser's may still be on its way).
        registry = self.namespace_table.rows_registry or self.registry
        if self.build_panel is not None:
            self.build_panel.namespace = namespace
        self.image_table.browse(registry, namespace)

    def _logged_in(self, registry: str, username: str | None) -> None:
        if username:
            self.registry_bar.logged_in[registry] = username
        else:
            self.registry_bar.logged_in.pop(registry, None)
        self.registry_bar.check_later()
        self.changed(registry)

    def changed(self, registry: str, *, source: Any = None) -> None:
        """``registry`` changed (an apply, a login): every panel that shows it lists again,
        but ``source``, the panel that acted and has listed again itself."""
        for panel in self._panels_with_wait():
            if panel is source or panel is self.registry_bar or not hasattr(panel, "shows"):
                continue
            if panel.shows(registry):
                panel.refresh()

    def refresh_tables(self, registry: str, *, exclude: Any = None) -> None:
        """The same as ``changed(registry, source=exclude)`` (the older name)."""
        self.changed(registry, source=exclude)

    @property
    def busy(self) -> bool:
        return any(getattr(p, "busy", False) for p in self._panels_with_wait())

    def _panels_with_wait(self) -> list[Any]:
        found = [self.registry_bar, self.namespace_table, self.image_table]
        found += [p for p in self.panels.values() if hasattr(p, "wait") and p not in found]
        return found

    def wait(self, timeout: float | None = None) -> None:
        """Return when no panel is working (actions may start others: loops until all are
        idle); raise the first error one of them raised."""
        first: BaseException | None = None
        for _ in range(10):
            for panel in self._panels_with_wait():
                try:
                    panel.wait(timeout)
                except TimeoutError:
                    raise
                except Exception as e:  # noqa: BLE001 - the first is raised below
                    first = first or e
            if not self.busy:
                break
        if first is not None:
            raise first
