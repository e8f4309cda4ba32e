"""``TrashPanel``: what this package deleted on the chosen registry (``trash()``, from the
journal), and Restore for the rows that can still come back.

Restore puts the selected rows back (``restore_from_trash`` by digest: the manifest and
every tag removed with it); a tag that was pushed again since is not moved unless "Move
tags pushed since" is ticked. It works while the registry still has the blobs, i.e. until
its garbage collection runs; the ``restorable`` column says which rows can.

Imports the ``operations`` verbs and the sibling widget modules only.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import pandas as pd
import traitlets
from itables.widget import ITable

from ..operations.cleanup.trash import COLUMNS, restore_from_trash, trash
from ..operations.core.clients import refresh_credentials
from .controls import button
from .messages import result_text
from .panel import Panel
from .tables import counted, format_time, rows_at, short_digest, table_options


def trash_display(frame: pd.DataFrame) -> pd.DataFrame:
    """deleted at, repository, tags, digest (short), restorable (yes/no/back) and why."""
    out = pd.DataFrame(index=frame.index)
    out["deleted at"] = [format_time(t) for t in frame["deleted_at"]]
    out["repository"] = frame["repository"].astype(str)
    out["tags"] = [", ".join(t) for t in frame["tags"]]
    out["digest"] = [short_digest(d) for d in frame["digest"]]
    out["restorable"] = ["back" if live else ("yes" if ok else ("?" if ok is None else "no"))
                         for ok, live in zip(frame["restorable"], frame["live"])]
    out["why"] = frame["why"].astype(str)
    return out.reset_index(drop=True)


class TrashPanel(Panel):
    """``refresh_button``, ``restore_button``, ``force`` (Checkbox: move tags pushed
    since) and the table of ``trash(registry)`` (``frame``). ``on_changed(callback)`` is
    called with the registry after a restore."""

    registry = traitlets.Unicode("", help="the registry whose trash is shown")

    def __init__(self, registry: str = ""):
        self.frame = pd.DataFrame(columns=COLUMNS)
        empty = trash_display(self.frame)
        self.table = ITable(empty, **table_options(empty))
        self.table.add_class("rw-trash-grid")
        self.title = w.HTML("")
        self.title.add_class("rw-trash-title")
        self.refresh_button = button("Refresh", "rw-trash-refresh", icon="refresh")
        self.restore_button = button("Restore", "rw-trash-restore", icon="undo",
                                     style="primary")
        self.force = w.Checkbox(value=False, description="Move tags pushed since",
                                indent=False, layout=w.Layout(width="auto"))
        self.force.add_class("rw-trash-force")
        super().__init__()
        self.children = [self.title,
                         w.HBox([self.refresh_button, self.restore_button, self.force,
                                 self.cancel_action_button]),
                         self.message, self.table]
        self.add_class("rw-trash-panel")
        self.on_click(self.refresh_button, self._refresh_pressed, background=True)
        self.on_click(self.restore_button, self.restore, background=True)
        self.observe(lambda change: self._registry_set(), names="registry")
        self.registry = registry

    def follow(self, registry: str) -> None:
        """The dashboard chose ``registry``: its trash, none of the old one's rows."""
        self.registry = registry

    def _registry_set(self) -> None:
        # The old rows and heading go at once: Restore may not act on them meanwhile.
        self._empty()
        self._title()
        self.refresh()

    def _title(self) -> None:
        self.title.value = (f"<b>Deleted from {self.registry} by this package</b> "
                            "(restorable until the registry's garbage collection runs)"
                            if self.registry else "")

    def _empty(self) -> None:
        self.frame = pd.DataFrame(columns=COLUMNS)
        self.table.update(trash_display(self.frame), **table_options(trash_display(self.frame)))
        self.update_buttons()

    def refresh(self) -> Any:
        return self.start("refresh", self._refresh_now)

    def _refresh_pressed(self) -> None:
        """Refresh as the user pressed it: Docker's config is read again first, so a
        ``docker login`` just made shows which rows can be restored."""
        self._refresh_now(relogin=True)

    def _refresh_now(self, *, relogin: bool = False) -> None:
        registry = self.registry
        self._empty()
        self._title()
        if not registry:
            return
        if relogin:
            refresh_credentials(registry)
        frame = trash(registry)
        if registry != self.registry:
            return  # another registry was chosen meanwhile; its listing is queued
        self.frame = frame
        display = trash_display(frame)
        self.table.update(display, **table_options(display))
        self.update_buttons()
        ready = int(frame["restorable"].fillna(False).astype(bool).sum())
        self.message.status(f"{counted(len(frame), 'deleted image')}, {ready} restorable")

    def button_allowed(self, btn: w.Button) -> bool:
        return btn is not self.restore_button or len(self.frame) > 0

    @property
    def selected(self) -> pd.DataFrame:
        return rows_at(self.frame, self.table.selected_rows)

    def select(self, *references: str) -> None:
        """Select the rows of these ``registry/repository@digest`` references."""
        positions = [i for i, ref in enumerate(self.frame["reference"]) if ref in references]
        if not positions:
            raise ValueError(f"none of {list(references)} is in the trash; Refresh?")
        self.table.selected_rows = positions

    def restore(self) -> None:
        """Restore the selected rows, each with the tags removed with it."""
        rows = self.selected
        if rows.empty:
            raise ValueError("select what to restore in the table first")
        results = []
        try:
            for _, row in rows.iterrows():
                self.check_cancel(row["reference"])
                results.append(restore_from_trash(row["reference"], force=self.force.value,
                                                  backup_id=row["backup_id"]))
        finally:
            if results:
                self._refresh_now()
                self.report_changed(self.registry)
        self.message.status("\n".join(
            f"restored {', '.join(r.details.get('tags') or r.details.get('manifests') or [])}"
            f" ({result_text(r).rsplit('(', 1)[-1]}" for r in results))
