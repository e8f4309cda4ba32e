"""``SyncPanel``: mirror a namespace to another registry, plan first.

Source and target (``registry/namespace`` or ``registry/namespace/repository``), the filters
of ``sync`` (tag regex, semver range, latest N, accessories), then Preview (the plan: each
tag to copy, skip or replace, with its size; nothing is written) and Apply (the sync, one
progress bar per repository, then every outcome). ``sync_rows`` is the table as a plain
function of the result, shared with the notebook.

Apply hands the previewed plan back to ``sync(..., plan=...)`` unchanged: it copies exactly
the images the table showed, never a new plan (an image pushed after the Preview waits for
the next one). Apply is enabled only while a Preview of the fields as they are now is shown;
editing a field, or the dashboard moving the source to another registry (``follow``),
disables it until Preview is pressed again.

Imports the ``operations`` verbs and the sibling widget modules only.
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any, Sequence

import ipywidgets as w
import pandas as pd

from ..errors import RegistryError
from ..operations.core.result import Result
from ..operations.images.repositories import catalog_refused
from ..operations.mirror.sync import summary_line, sync
from .controls import button, registry_box, text
from .messages import catalog_pointer
from .panel import Panel, is_cancelled, plan_bound
from .progress_view import ProgressView
from .tables import human_size

ROW_COLUMNS = ["image", "kind", "action", "status", "size", "error"]


def sync_rows(result: Result) -> pd.DataFrame:
    """One row per image of a sync (or its plan): the source reference, its kind (image,
    signature...), the planned action, the outcome, its size and the error if it failed."""
    rows = [{"image": row["source"], "kind": row["kind"], "action": row["action"],
             "status": row["status"], "size": human_size(row.get("bytes") or 0),
             "error": row.get("error") or row.get("reason") or ""}
            for row in result.details.get("images", [])]
    return pd.DataFrame(rows, columns=ROW_COLUMNS)


def _table_html(frame: pd.DataFrame, max_rows: int = 500) -> str:
    shown = frame.head(max_rows)
    more = f"<p>… and {len(frame) - max_rows} more</p>" if len(frame) > max_rows else ""
    return shown.to_html(index=False, escape=True, classes="rw-sync-rows") + more


class SyncPanel(Panel):
    """Preview and apply a sync.

    Fields: ``source``, ``target``, ``tags`` (regex), ``semver``, ``latest`` (0: all),
    ``accessories`` (Checkbox). Buttons: ``preview_button`` (a dry run), ``apply_button``
    (that plan, as shown; enabled only after a Preview of the current fields).
    ``plan`` is the last preview's Result, ``last_result`` the last sync's; ``table`` shows
    their rows; ``progress`` has one bar per repository. ``executor`` (any
    ``concurrent.futures.Executor``, e.g. a Dask client's) runs the copies; default a
    thread pool here. ``repositories``: the source repositories to read where the source
    registry refuses its catalog (Docker Hub, GHCR); without them, those remembered for it
    (the image table's Repositories box).
    """

    def __init__(self, source: str = "", target: str = "", *,
                 executor: Executor | None = None,
                 repositories: str | Sequence[str] | None = None):
        self.repositories = repositories
        self.source = text("registry/namespace", "rw-sync-source", description="source",
                           value=source, width="22em")
        # The target offers the bar's registries (``offer_registries``), still taking any
        # registry/namespace typed in.
        self.target = registry_box("rw-sync-target", description="target",
                                   placeholder="registry/namespace", width="22em")
        self.target.value = target
        self.tags = text("e.g. ^1[.]", "rw-sync-tags", description="tag regex", width="14em")
        self.semver = text("e.g. ^1.2 or 1.x", "rw-sync-semver", description="semver",
                           width="14em")
        self.latest = w.BoundedIntText(value=0, min=0, max=100_000, description="latest",
                                       layout=w.Layout(width="10em"))
        self.latest.add_class("rw-sync-latest")
        self.accessories = w.Checkbox(value=True, description="signatures too", indent=False,
                                      layout=w.Layout(width="auto"))
        self.accessories.add_class("rw-sync-accessories")
        self.preview_button = button("Preview", "rw-sync-preview", icon="list")
        self.apply_button = button("Apply", "rw-sync-apply", icon="copy", style="primary")
        self.progress = ProgressView()
        self.table = w.HTML("")
        self.table.add_class("rw-sync-table")
        self.executor = executor
        self.plan: Result | None = None
        self.last_result: Result | None = None
        self._planned: dict[str, Any] | None = None  # the fields the plan was made with
        super().__init__()
        self.children = [
            w.HBox([self.source, self.target], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.tags, self.semver, self.latest, self.accessories, self.preview_button,
                    self.apply_button], layout=w.Layout(flex_flow="row wrap")),
            self.message, self.progress, self.table]
        self.add_class("rw-sync-panel")
        self.on_click(self.preview_button, self.preview)
        self.on_click(self.apply_button, self.apply)
        self.apply_button.disabled = True  # nothing previewed yet: nothing to apply
        for field in (self.source, self.target, self.tags, self.semver, self.latest,
                      self.accessories):
            field.observe(lambda _change: self._enable_apply(), names="value")

    def arguments(self) -> dict[str, Any]:
        """The fields as ``sync`` keyword arguments (empty fields: no filter)."""
        source, target = self.source.value.strip(), self.target.value.strip()
        if not source or not target:
            raise ValueError("give a source and a target: registry/namespace, e.g. "
                             "127.0.0.1:5000/tutorial and 127.0.0.1:5000/mirror")
        return {"source": source, "target": target,
                "tags": self.tags.value.strip() or None,
                "semver": self.semver.value.strip() or None,
                "latest": self.latest.value or None,
                "accessories": self.accessories.value,
                **({"repositories": self.repositories} if self.repositories is not None
                   else {})}

    def offer_registries(self, registries: list[str]) -> None:
        """What the target box offers: each of the bar's registries, to add a namespace to."""
        self.target.options = [f"{r}/" for r in registries]

    def follow(self, registry: str) -> None:
        """The dashboard chose ``registry``: the source moves there (its path stays, shown in
        the field), and the plan of the old source goes."""
        path = self.source.value.strip().partition("/")[2]
        self.source.value = f"{registry}/{path}" if registry else ""
        self.forget()

    def shows(self, registry: str) -> bool:
        return any(f.value.strip().partition("/")[0] == registry
                   for f in (self.source, self.target))

    def forget(self) -> None:
        """Drop the plan shown: Apply needs a new Preview."""
        self.plan, self._planned = None, None
        self.table.value = ""
        self._enable_apply()

    def _shown_plan_matches(self) -> bool:
        """Whether the plan on screen was made with the fields as they are now."""
        try:
            return self.plan is not None and self.arguments() == self._planned
        except ValueError:  # a field emptied: no sync to apply
            return False

    def _enable_apply(self) -> None:
        # The plan stays on screen when a field changes, but it is no longer the one the
        # fields describe: Apply would act on what the user did not ask for.
        self.apply_button.disabled = not self._shown_plan_matches()
        self.apply_button.tooltip = "" if not self.apply_button.disabled else \
            "press Preview first: Apply applies the plan shown for these fields"

    def preview(self) -> Result:
        """Plan only: what Apply would copy, skip or replace, and the bytes."""
        arguments = self.arguments()
        self.forget()
        try:
            plan = sync(**arguments, dry_run=True, executor=self.executor)
        except RegistryError as e:
            if not catalog_refused(e):
                raise
            # In this tab's words: the Images tab's Repositories box names them.
            raise ValueError(catalog_pointer(e.registry or arguments["source"], e)) from e
        self.plan, self._planned = plan, arguments
        self._enable_apply()
        self.table.value = _table_html(sync_rows(plan))
        # "3 repositories you named; this registry does not list its own"
        notes = "".join(f"; {note}" for note in plan.details.get("notes", []))
        self.message.status(f"plan: {summary_line(plan)} "
                            f"({human_size(plan.details['plan']['bytes'])} to copy){notes}")
        return plan

    def apply(self) -> Result:
        """Apply the plan shown, unchanged: ``sync(..., plan=self.plan)`` copies exactly the
        images the Preview listed, each held to what the Preview saw (a target tag that
        moved since fails, "changed since the plan"); it never plans again."""
        arguments = self.arguments()
        if self.plan is None or self._planned is None:
            raise ValueError("Sync: press Preview first: Apply copies only what a preview "
                             "showed")
        for side in ("source", "target"):
            plan_bound(self._planned[side].partition("/")[0],
                       arguments[side].partition("/")[0], tab=f"Sync ({side})")
        if arguments != self._planned:
            changed = [k for k in arguments if arguments[k] != self._planned[k]]
            raise ValueError(f"Sync: {', '.join(changed)} changed since the Preview; nothing "
                             "was copied: press Preview again")
        self.progress.start("sync", f"{arguments['source']} → {arguments['target']}")
        try:
            result = sync(**self._planned, plan=self.plan, executor=self.executor,
                          progress=self.progress)
        except BaseException as e:
            self.progress.finish("sync failed", failed=True, cancelled=is_cancelled(e))
            raise
        finally:
            self.report_changed(arguments["target"].partition("/")[0])
        self.last_result = result
        failed = result.details["counts"].get("failed", 0)
        self.progress.finish(summary_line(result), failed=bool(failed))
        self.table.value = _table_html(sync_rows(result))
        if failed:
            self.message.error(f"{summary_line(result)}: the failed images are listed below; "
                               "run Apply again once the cause is fixed (the same plan: what "
                               "was copied is skipped)")
        else:
            self.message.status(result.summary() + f" — {summary_line(result)}")
        return result
