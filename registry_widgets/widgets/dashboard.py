"""``Dashboard``: one registry chooser over the namespace table, the image table and the
build panel, linked: choosing a registry lists it, choosing a namespace opens it in the
image table and gives the build panel its target, a push from the build panel refreshes
both tables.

Imports the sibling widget modules only.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import ipywidgets as w

from .build_panel import BuildPanel
from .image_table import ImageTable
from .namespace_table import NamespaceTable


def registry_options(registries: str | Sequence[str] | Mapping[str, str]) -> list[tuple[str, str]]:
    """``(label, registry)`` pairs for the chooser: a string, a list of registries, or a
    mapping of labels (``"us-south"``) to registries (``"us.icr.io"``)."""
    if isinstance(registries, str):
        registries = [registries]
    if isinstance(registries, Mapping):
        pairs = [(str(label), str(host)) for label, host in registries.items()]
    else:
        pairs = [(str(host), str(host)) for host in registries]
    if not pairs:
        raise ValueError("give at least one registry, e.g. Dashboard(['us.icr.io'])")
    return pairs


class Dashboard(w.VBox):
    """Registries, namespaces, images and builds in one widget.

    Parts (attributes): ``registry_chooser`` (Dropdown), ``namespace_table``,
    ``image_table``, ``build_panel``, ``tabs`` ("Images", "Build").
    """

    def __init__(self, registries: str | Sequence[str] | Mapping[str, str]):
        options = registry_options(registries)
        first = options[0][1]
        self.registry_chooser = w.Dropdown(options=options, value=first, description="Registry")
        self.registry_chooser.add_class("rw-registry-chooser")
        self.namespace_table = NamespaceTable(first)
        self.image_table = ImageTable(first)
        self.build_panel = BuildPanel(first)
        images_tab = w.VBox([self.namespace_table, self.image_table])
        images_tab.add_class("rw-images-tab")
        self.tabs = w.Tab(children=[images_tab, self.build_panel])
        self.tabs.titles = ("Images", "Build")
        self.tabs.add_class("rw-tabs")
        super().__init__([self.registry_chooser, self.tabs])
        self.add_class("rw-dashboard")

        self.registry_chooser.observe(self._registry_chosen, names="value")
        self.namespace_table.on_select(self._namespace_chosen)
        self.build_panel.on_pushed(self._pushed)

    @property
    def registry(self) -> str:
        return self.registry_chooser.value

    def _registry_chosen(self, change: dict) -> None:
        # Listing the namespaces keeps a selection whose name exists in the new registry too
        # (then no selection event comes), so the image table follows explicitly; browse()
        # lists once even when the selection event already did.
        self.build_panel.registry = change["new"]
        self.namespace_table.registry = change["new"]
        self.build_panel.namespace = self.namespace_table.selected
        self.image_table.browse(change["new"], self.namespace_table.selected)

    def _namespace_chosen(self, namespace: str | None) -> None:
        self.build_panel.namespace = namespace
        self.image_table.browse(self.registry, namespace)

    def _pushed(self, reference: str) -> None:
        self.namespace_table.refresh()
        self.image_table.refresh()
