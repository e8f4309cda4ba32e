"""``CleanupPanel``: the "Clean up" tab, retention for one namespace with a preview.

Choose a namespace, set keep / older than / tag filter, Preview: the plan as a table (every
tag, what goes, how and why, the bytes each deleted image frees) and its total. Apply (a
second click) applies exactly that plan (``retention(..., dry_run=False, plan=preview)``):
if the registry changed since the preview, nothing is deleted and the message says what
changed. Changing any setting forgets the preview, so Apply never runs settings that were not
previewed. The namespace's saved policy fills the settings when there is one.

Imports the ``operations`` verbs and the sibling widget modules only.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import pandas as pd
import traitlets
from itables.widget import ITable

from ..operations.images.namespaces import namespaces
from ..operations.core.result import Result
from ..operations.cleanup.retention import PLAN_COLUMNS, plan_frame, retention, retention_policies
from ..reference import registry_identity
from .controls import button, text
from .panel import Panel
from .progress_view import ProgressView
from .tables import human_size, short_digest, table_options

DISPLAY_COLUMNS = ["repository", "tag", "digest", "created", "action", "how", "reason", "frees",
                   "in use", "bytes"]


def plan_display(plan: pd.DataFrame) -> pd.DataFrame:
    """The plan rows for people: short digests, sizes, what goes first; ``bytes`` hidden."""
    out = pd.DataFrame(index=plan.index)
    for column in ("repository", "tag"):
        out[column] = plan[column].astype(str)
    out["digest"] = [short_digest(d) for d in plan["digest"]]
    out["created"] = [str(c)[:19].replace("T", " ") if c else "unknown" for c in plan["created"]]
    out["action"] = plan["action"].astype(str)
    out["how"] = plan["how"].astype(str)
    out["reason"] = plan["reason"].astype(str)
    sizes = plan["bytes"].fillna(0).astype("int64")
    out["frees"] = [human_size(s) if s else "" for s in sizes]
    out["in use"] = plan["in_use"].astype(str)
    out["bytes"] = sizes
    order = out["action"].map({"remove": 0, "keep": 1}).fillna(2)
    return out.assign(_order=order).sort_values(["_order", "repository", "tag"],
                                                kind="stable").drop(columns="_order") \
        .reset_index(drop=True)


def _keep_value(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValueError(f"keep must be a whole number (or empty for no count), not {value!r}")
    return int(value)


class CleanupPanel(Panel):
    """Retention for one namespace of ``registry``, previewed before it is applied.

    Widgets (attributes, for tests and ``.click()``): ``namespace_choice``, ``keep``,
    ``older_than``, ``tags``, ``preview_button``, ``apply_button`` (enabled only by a
    preview), ``summary`` and ``table``. ``preview`` holds the dry run's Result,
    ``frame`` its plan rows.
    """

    registry = traitlets.Unicode("", help="host[:port] of the registry cleaned up")
    namespace = traitlets.Unicode(None, allow_none=True, help="the namespace cleaned up")

    def __init__(self, registry: str = "", namespace: str | None = None):
        self.frame = pd.DataFrame(columns=PLAN_COLUMNS)
        empty = plan_display(self.frame)
        self.table = ITable(empty, **_options(empty))
        self.table.add_class("rw-cleanup-grid")
        self.title = w.HTML("")
        self.namespace_choice = w.Dropdown(options=[], description="namespace")
        self.namespace_choice.add_class("rw-cleanup-namespace")
        self.keep = text("keep newest (e.g. 5)", "rw-cleanup-keep", value="5", width="10em")
        self.older_than = text("older than (e.g. 90d)", "rw-cleanup-older-than", width="12em")
        self.tags = text("tags: dev-.* or >=1.0,<2", "rw-cleanup-tags", width="16em")
        self.preview_button = button("Preview", "rw-cleanup-preview", icon="search")
        self.apply_button = button("Apply", "rw-cleanup-apply", icon="trash", style="danger")
        self.apply_button.disabled = True
        self.summary = w.HTML("")
        self.summary.add_class("rw-cleanup-summary")
        self.progress = ProgressView()
        self.preview: Result | None = None
        super().__init__()
        self.children = [
            self.title,
            w.HBox([self.namespace_choice, self.keep, self.older_than, self.tags,
                    self.preview_button, self.apply_button],
                   layout=w.Layout(flex_flow="row wrap")),
            self.summary, self.message, self.progress, self.table]
        self.add_class("rw-cleanup-panel")
        self.on_click(self.preview_button, self.show_preview)
        self.on_click(self.apply_button, self.apply)
        for field in (self.keep, self.older_than, self.tags):
            field.observe(self.guard(lambda change: self.forget(), fresh=False), names="value")
        self.namespace_choice.observe(self.guard(self._namespace_chosen, fresh=False),
                                      names="value")
        self.browse(registry, namespace)

    # -- what is cleaned up --------------------------------------------------------------

    def browse(self, registry: str, namespace: str | None = None) -> None:
        """Point the panel at ``registry`` (listing its namespaces) and ``namespace``."""
        self.registry = registry
        names: list[str] = []
        if registry:
            try:
                names = [n for n in namespaces(registry)["namespace"] if n]
            except Exception as e:  # shown, never raised: a widget must not throw
                self.message.error(e)
        if namespace and namespace not in names:
            names.append(namespace)
        self.namespace_choice.options = sorted(names)
        self.namespace_choice.value = namespace if namespace else (names[0] if names else None)
        self.title.value = f"<b>Clean up {registry}</b>" if registry else ""

    def _namespace_chosen(self, change: dict) -> None:
        self.namespace = change["new"]
        # Saved policies are keyed by the registry's identity, whatever spelling shows here.
        saved = retention_policies().get(
            f"{registry_identity(self.registry)}/{change['new']}") if self.registry else None
        if saved:  # the saved policy is the starting point
            self.keep.value = "" if saved.get("keep") is None else str(saved["keep"])
            self.older_than.value = saved.get("older_than") or ""
            self.tags.value = saved.get("tags") or ""
        self.forget()

    @property
    def target(self) -> str:
        if not self.registry or not self.namespace_choice.value:
            raise ValueError("choose a registry and a namespace first")
        return f"{self.registry}/{self.namespace_choice.value}"

    def settings(self) -> dict[str, Any]:
        return {"keep": _keep_value(self.keep.value),
                "older_than": self.older_than.value.strip() or None,
                "tags": self.tags.value.strip() or None}

    # -- actions -------------------------------------------------------------------------

    def forget(self) -> None:
        """Drop the preview: Apply needs a new one."""
        self.preview = None
        self.apply_button.disabled = True

    def show_preview(self) -> None:
        """Plan (dry run: nothing is deleted) and show it; Apply is enabled if anything goes."""
        self.forget()
        result = retention(self.target, dry_run=True, **self.settings())
        self.frame = plan_frame(result.details["plan"])
        display = plan_display(self.frame)
        self.table.update(display, **_options(display))
        going = (self.frame["action"] == "remove").sum()
        freed = result.details["bytes_freed_estimate"]
        kept = result.details["no_created"]
        self.summary.value = (
            f"<b>{going} of {len(self.frame)} tags go</b>, up to {human_size(freed)} freed once "
            "the registry's garbage collection runs"
            + (f"; kept without a created time: {len(kept)}" if kept else "")
            + ("" if result.details["in_use_checked"] else "; local containers not checked"))
        self.preview = result
        self.apply_button.disabled = not going
        self.message.status("Preview only: nothing was deleted. Apply deletes exactly this plan."
                            if going else "Nothing to remove with these settings.")

    def apply(self) -> None:
        """Apply the previewed plan (the second click)."""
        if self.preview is None:
            raise ValueError("click Preview first: Apply deletes only a plan you have seen")
        preview, self.preview = self.preview, None
        self.apply_button.disabled = True
        self.progress.start("retention", self.target)
        try:
            result = retention(self.target, dry_run=False, plan=preview, progress=self.progress,
                               **self.settings())
        except BaseException:
            self.progress.finish(failed=True)
            raise
        self.progress.finish(result.summary())
        removed = len(result.details["tags_removed"])
        self.message.status(f"Removed {removed} tag(s) from {self.target}. "
                            "restore(result) undoes it until garbage collection runs.")
        self.last_result = result


def _options(display: pd.DataFrame) -> dict[str, Any]:
    options = table_options(display, select=False)
    hidden = list(display.columns).index("bytes")
    frees = list(display.columns).index("frees")
    options["columnDefs"] = [{"targets": [hidden], "visible": False, "searchable": False},
                             {"targets": [frees], "orderData": [hidden]}]
    return options
