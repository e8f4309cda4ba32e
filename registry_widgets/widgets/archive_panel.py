"""``ArchivePanel``: the Images tab's "Export to archive" and "Import archive".

Export writes the image table's selected rows, or, with none selected, every tag of the
namespace it shows, into one oci-archive (``export_images`` / ``sync``), at a path in the
Jupyter server's file system (by default ``archives/NAMESPACE.tar`` under the notebook's
folder, so it shows in JupyterLab's file browser), with a progress bar and Cancel; the line
above the button says which of the two it will export. Import reads an oci-archive (or an
``oci:`` folder), shows the plan first (each image it will create, replace or skip, in
``registry/namespace``), and Apply hands that plan back unchanged (``sync(..., plan=...)``):
a target tag that moved since fails alone. A damaged archive is refused before anything is
sent (the message names the file and what is wrong).

``archive_rows`` is the plan or outcome as a plain DataFrame. Imports the ``operations``
verbs and the sibling widget modules only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import ipywidgets as w
import pandas as pd

from ..operations.core.result import Result
from ..operations.mirror.layouts import export_images
from ..operations.mirror.sync import summary_line, sync
from .controls import button, text
from .panel import Panel
from .progress_view import ProgressView
from .tables import human_size

ROW_COLUMNS = ["image", "target", "action", "status", "size", "error"]


def archive_rows(result: Result) -> pd.DataFrame:
    """One row per image of an import plan or outcome (or an export)."""
    rows = [{"image": row.get("ref") or row["source"], "target": row["target"],
             "action": row["action"], "status": row["status"],
             "size": human_size(row.get("bytes") or row.get("bytes_moved") or 0),
             "error": row.get("error") or ""}
            for row in result.details.get("images", [])]
    return pd.DataFrame(rows, columns=ROW_COLUMNS)


def _location(path: str) -> str:
    """``oci:`` for a folder, ``oci-archive:`` for a file (skopeo's names)."""
    return f"oci:{path}" if Path(path).is_dir() else f"oci-archive:{path}"


class ArchivePanel(Panel):
    """Export the selected images (or the namespace) to an archive; import one, plan first.

    ``selection`` returns (registry, namespace, selected references) as the image table has
    them now. Parts: ``export_path``, ``export_what`` (what Export will write),
    ``export_button``; ``import_path``, ``import_target`` (registry/namespace),
    ``import_button`` (the plan), ``apply_button`` (that plan); ``progress``, ``table``.
    ``plan`` is the import plan shown; ``last_result`` the last export or import.
    """

    def __init__(self, selection: Callable[[], tuple[str, str | None, list[str]]], *,
                 folder: str | Path | None = None):
        self.selection = selection
        self.folder = Path(folder) if folder is not None else Path.cwd() / "archives"
        self.export_path = text("path of the .tar to write", "rw-export-path",
                                description="archive", width="30em")
        self.export_what = w.HTML("")
        self.export_what.add_class("rw-export-what")
        self.export_button = button("Export to archive", "rw-export-archive", icon="download")
        self.import_path = text("path of an oci-archive .tar or oci: folder", "rw-import-path",
                                description="archive", width="30em")
        self.import_target = text("registry/namespace", "rw-import-target",
                                  description="into", width="22em")
        self.import_button = button("Import archive", "rw-import-archive", icon="upload")
        self.apply_button = button("Apply", "rw-import-apply", icon="check", style="primary")
        self.progress = ProgressView()
        self.table = w.HTML("")
        self.table.add_class("rw-archive-table")
        self.plan: Result | None = None
        self.last_result: Result | None = None
        self._planned: tuple[str, str] | None = None
        super().__init__()
        self.children = [
            w.HBox([self.export_path, self.export_button, self.cancel_action_button],
                   layout=w.Layout(flex_flow="row wrap")),
            self.export_what,
            w.HBox([self.import_path, self.import_target, self.import_button,
                    self.apply_button], layout=w.Layout(flex_flow="row wrap")),
            self.message, self.progress, self.table]
        self.add_class("rw-archive-panel")
        self.on_click(self.export_button, self.export, background=True)
        self.on_click(self.import_button, self.preview, background=True)
        self.on_click(self.apply_button, self.apply, background=True)
        for field in (self.import_path, self.import_target):
            field.observe(lambda _change: self.update_buttons(), names="value")
        self.refresh_choice()

    # -- what Export will write ------------------------------------------------------------

    def refresh_choice(self) -> None:
        """Say what Export writes now (the selection, or the whole namespace), and propose
        a path and an import target for the namespace shown."""
        registry, namespace, selected = self.selection()
        if selected:
            names = ", ".join(selected[:3]) + (f" and {len(selected) - 3} more"
                                               if len(selected) > 3 else "")
            self.export_what.value = (f"Export writes the {len(selected)} selected image(s): "
                                      f"{names}")
        elif namespace:
            self.export_what.value = (f"No rows selected: Export writes the whole namespace "
                                      f"{registry}/{namespace}, every tag")
        else:
            self.export_what.value = ("Choose a namespace, or select images, to export")
        stem = namespace or "images"
        default = str(self.folder / f"{stem}.tar")
        if not self.export_path.value or self.export_path.value.endswith(".tar") and \
                Path(self.export_path.value).parent == self.folder:
            self.export_path.value = default
        if registry and not self.import_target.value:
            self.import_target.value = f"{registry}/{namespace}" if namespace else ""
        self.update_buttons()

    def follow(self, registry: str) -> None:
        """The dashboard chose ``registry``: the import target moves there, its plan goes."""
        path = self.import_target.value.strip().partition("/")[2]
        self.import_target.value = f"{registry}/{path}" if registry and path else ""
        self.forget()

    def shows(self, registry: str) -> bool:
        return False  # it lists nothing of a registry: nothing to list again

    def forget(self) -> None:
        self.plan, self._planned = None, None
        self.table.value = ""
        self.update_buttons()

    def button_allowed(self, btn: w.Button) -> bool:
        if btn is self.apply_button:
            return self.plan is not None and self._planned == self._import_fields()
        return True

    # -- export ----------------------------------------------------------------------------

    def export(self) -> Result:
        """Write the selection (or the namespace) to the archive path, with progress."""
        registry, namespace, selected = self.selection()
        path = self.export_path.value.strip()
        if not path:
            raise ValueError("Images tab, Export: give the archive's path (a .tar file on the "
                             "Jupyter server); nothing was written")
        if not selected and not namespace:
            raise ValueError("Images tab, Export: choose a namespace or select images first; "
                             "nothing was written")
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        target = f"oci-archive:{Path(path).expanduser()}"
        what = f"{len(selected)} image(s)" if selected else f"{registry}/{namespace}"
        self.progress.start("export", f"{what} → {path}")
        watch = self.watching(self.progress)
        try:
            if selected:
                result = export_images(selected, target, progress=watch,
                                       cancel=self.cancel_event)
            else:
                result = sync(f"{registry}/{namespace}", target, progress=watch,
                              cancel=self.cancel_event)
        except BaseException:
            self.progress.finish("export stopped: no archive was written", failed=True)
            raise
        self.last_result = result
        failed = result.details["counts"].get("failed", 0)
        self.progress.finish(f"{summary_line(result)} → {path}", failed=bool(failed))
        self.table.value = _html(archive_rows(result))
        self.message.status(f"Exported {summary_line(result)} to {path} "
                            f"({human_size(Path(path).expanduser().stat().st_size)})")
        return result

    # -- import ----------------------------------------------------------------------------

    def _import_fields(self) -> tuple[str, str]:
        return self.import_path.value.strip(), self.import_target.value.strip().rstrip("/")

    def preview(self) -> Result:
        """The import plan: each image of the archive and what it will create, replace or
        skip in the target namespace. Nothing is written."""
        path, target = self._import_fields()
        if not path or "/" not in target:
            raise ValueError("Images tab, Import: give the archive's path and the target "
                             "registry/namespace; nothing was read")
        self.forget()
        plan = sync(_location(path), target, dry_run=True)
        self.plan, self._planned = plan, (path, target)
        self.table.value = _html(archive_rows(plan))
        actions = plan.details["counts"]
        self.message.status("plan: " + ", ".join(f"{n} to {a}" for a, n in actions.items())
                            + " — press Apply to import exactly this")
        self.update_buttons()
        return plan

    def apply(self) -> Result:
        """Import exactly the plan shown (``sync(..., plan=...)``); it never plans again."""
        if self.plan is None or self._planned != self._import_fields():
            raise ValueError("Images tab, Import: press Import archive first (the plan of "
                             "these fields); nothing was imported")
        path, target = self._planned
        self.progress.start("import", f"{path} → {target}")
        try:
            result = sync(_location(path), target, plan=self.plan,
                          progress=self.watching(self.progress), cancel=self.cancel_event)
        except BaseException:
            self.progress.finish("import stopped", failed=True)
            raise
        finally:
            self.report_changed(target.partition("/")[0])
        self.last_result = result
        failed = result.details["counts"].get("failed", 0)
        self.progress.finish(summary_line(result), failed=bool(failed))
        self.table.value = _html(archive_rows(result))
        if failed:
            self.message.error(f"Import: {summary_line(result)}; the failed images are listed "
                               "below (press Import archive for a new plan)")
        else:
            self.message.status(f"Imported: {summary_line(result)}")
        self.plan = None
        return result


def _html(frame: pd.DataFrame, max_rows: int = 500) -> str:
    more = f"<p>… and {len(frame) - max_rows} more</p>" if len(frame) > max_rows else ""
    return frame.head(max_rows).to_html(index=False, escape=True,
                                        classes="rw-archive-rows") + more


def table_selection(image_table: Any) -> Callable[[], tuple[str, str | None, list[str]]]:
    """What an ``ImageTable`` shows and has selected, for :class:`ArchivePanel`."""
    def selection() -> tuple[str, str | None, list[str]]:
        try:
            selected = image_table.selected_references
        except (IndexError, KeyError):  # a redraw in between
            selected = []
        registry = image_table.rows_registry or image_table.registry
        return registry, image_table.rows_namespace or image_table.namespace, selected
    return selection
