"""``CleanupPanel``: the "Clean up" tab: retention and prune for one namespace, each
previewed before it is applied.

Retention: choose a namespace, set keep / older than / tag filter, Preview: the plan as a
table (every tag, what goes, how and why, the bytes each deleted image frees) and its total.
Apply (a second click) hands that plan back unchanged (``retention(plan.target,
dry_run=False, plan=preview)``): if the registry changed since the preview, nothing is
deleted and the message says what changed. Changing any setting forgets the preview, so
Apply never runs settings that were not previewed. The namespace's saved policy fills the
settings when there is one. Prune: "Preview prune" shows the untagged manifests of the
namespace that no tag reaches (``plan_prune``), "Apply prune" applies exactly that plan
(``prune(target, plan=plan, dry_run=False)``).

The panel is bound to its registry: the heading names it, the namespace list is its own,
and a plan is applied only on the registry it was made on (``panel.plan_bound``). When the
dashboard chooses another registry the rows, plans and namespaces of the old one go at once,
then the new one's namespaces are listed.

Imports the ``operations`` verbs and the sibling widget modules only.
"""

from __future__ import annotations

from typing import Any, Sequence

import ipywidgets as w
import pandas as pd
import traitlets
from itables.widget import ITable

from ..operations.cleanup.prune import plan_prune, prune
from ..operations.core.changes import Plan
from ..operations.core.result import Result
from ..errors import RegistryError
from ..operations.images.namespaces import namespaces
from ..operations.images.repositories import catalog_refused
from ..operations.cleanup.retention import PLAN_COLUMNS, plan_frame, retention, retention_policies
from ..reference import registry_identity
from .controls import button, text
from .gc_section import GcSection
from .messages import catalog_pointer
from .panel import Panel, is_cancelled, plan_bound
from .policies_section import PoliciesSection
from .usage_section import UsageSection
from .progress_view import ProgressView
from .tables import counted, human_size, short_digest, table_options

DISPLAY_COLUMNS = ["repository", "tag", "digest", "created", "action", "how", "reason", "frees",
                   "in use", "bytes"]
PRUNE_COLUMNS = ["repository", "digest", "action", "why", "frees"]
TAB = "Clean up"


def prune_display(plan: Plan) -> pd.DataFrame:
    """A prune plan for people: what goes (untagged, no tag reaches it), then what stays."""
    rows = [{"repository": c.repository, "digest": short_digest(c.reference),
             "action": "delete", "why": c.reason, "frees": human_size(c.size)}
            for c in plan.changes]
    rows += [{"repository": k["repository"], "digest": short_digest(k["digest"]),
              "action": "keep", "why": k["why"], "frees": ""} for k in plan.kept]
    return pd.DataFrame(rows, columns=PRUNE_COLUMNS)


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
        raise ValueError(f"{TAB}: the box 'keep newest' takes a whole number (or nothing for no "
                         f"count), not {value!r}")
    return int(value)


class CleanupPanel(Panel):
    """Retention and prune for one namespace of ``registry``, previewed before applied.

    Widgets (attributes, for tests and ``.click()``; Preview and Apply run in the worker
    thread: ``wait()`` for them): ``namespace_choice``, ``keep``, ``older_than``, ``tags``,
    ``preview_button``, ``apply_button`` (enabled only by a preview of this registry),
    ``summary`` and ``table``; ``prune_preview_button``, ``prune_apply_button``,
    ``prune_summary`` and ``prune_table``. ``preview`` holds the retention dry run's
    Result and ``frame`` its rows; ``prune_plan`` the prune plan shown; ``plan_registry``
    the registry the shown plans were made on.

    ``repositories``: the repositories of ``registry`` to clean up where it refuses its
    catalog (Docker Hub, GHCR); without them, those remembered for it (the image table's
    Repositories box). They belong to that registry: another chosen in the bar uses its own.
    """

    registry = traitlets.Unicode("", help="host[:port] of the registry cleaned up")
    namespace = traitlets.Unicode(None, allow_none=True, help="the namespace cleaned up")

    def __init__(self, registry: str = "", namespace: str | None = None, *,
                 repositories: str | Sequence[str] | None = None):
        self._named = (registry, repositories) if repositories is not None else None
        self.frame = pd.DataFrame(columns=PLAN_COLUMNS)
        empty = plan_display(self.frame)
        self.table = ITable(empty, **_options(empty))
        self.table.add_class("rw-cleanup-grid")
        self.title = w.HTML("")
        self.title.add_class("rw-cleanup-title")
        self.namespace_choice = w.Dropdown(options=[], description="namespace")
        self.namespace_choice.add_class("rw-cleanup-namespace")
        self.keep = text("e.g. 5", "rw-cleanup-keep", value="5", description="keep newest",
                         width="10em")
        self.older_than = text("e.g. 90d", "rw-cleanup-older-than", description="older than",
                               width="12em")
        self.tags = text("dev-.* or >=1.0,<2", "rw-cleanup-tags", description="tags", width="16em")
        self.preview_button = button("Preview", "rw-cleanup-preview", icon="search")
        self.apply_button = button("Apply", "rw-cleanup-apply", icon="trash", style="danger")
        self.summary = w.HTML("")
        self.summary.add_class("rw-cleanup-summary")
        self.prune_preview_button = button("Preview prune", "rw-cleanup-prune-preview",
                                           icon="search")
        self.prune_preview_button.tooltip = "the untagged manifests no tag reaches"
        self.prune_apply_button = button("Apply prune", "rw-cleanup-prune-apply", icon="trash",
                                         style="danger")
        self.prune_summary = w.HTML("")
        self.prune_summary.add_class("rw-cleanup-prune-summary")
        self.prune_table = ITable(pd.DataFrame(columns=PRUNE_COLUMNS),
                                  **table_options(pd.DataFrame(columns=PRUNE_COLUMNS),
                                                  select=False))
        self.prune_table.add_class("rw-cleanup-prune-grid")
        self.progress = ProgressView()
        self.preview: Result | None = None
        self.prune_plan: Plan | None = None
        self.plan_registry: str | None = None
        self.last_result: Result | None = None
        self._settings: dict[str, Any] = {}  # the settings the preview was made with
        self._dropped_plan: str | None = None  # registry of a plan a switch took away
        super().__init__()
        self.children = [
            self.title,
            w.HBox([self.namespace_choice, self.keep, self.older_than, self.tags,
                    self.preview_button, self.apply_button, self.cancel_action_button],
                   layout=w.Layout(flex_flow="row wrap")),
            self.summary, self.message, self.progress, self.table,
            w.HBox([w.HTML("<b>Untagged manifests</b> (no tag reaches them)"),
                    self.prune_preview_button, self.prune_apply_button],
                   layout=w.Layout(flex_flow="row wrap", align_items="center")),
            self.prune_summary, self.prune_table]
        # Garbage collection, usage, saved policies and protected tags: a module each.
        self.gc, self.usage, self.policies = GcSection(), UsageSection(), PoliciesSection()
        self.sections = [self.gc, self.usage, self.policies]
        self.children = list(self.children) + self.sections
        self.add_class("rw-cleanup-panel")
        self.on_click(self.preview_button, self.show_preview, background=True)
        self.on_click(self.prune_preview_button, self.show_prune_preview, background=True)
        # Apply hands back the plan shown when it was clicked, not whatever is there when
        # the worker gets to it (the registry may have been switched in between).
        for btn, apply in ((self.apply_button, self.apply),
                           (self.prune_apply_button, self.apply_prune)):
            self._action_buttons.append(btn)
            btn.on_click(lambda _b, apply=apply: self._apply_clicked(apply))
        for field in (self.keep, self.older_than, self.tags):
            field.observe(self.guard(lambda change: self.forget(), fresh=False), names="value")
        self.namespace_choice.observe(self.guard(self._namespace_chosen, fresh=False),
                                      names="value")
        self.observe(self.guard(self._registry_set), names="registry")
        self._wanted_namespace = namespace
        self.registry = registry
        for section in self.sections:
            section.bind(self)
        self.update_buttons()

    def wait(self, timeout: float | None = None) -> None:
        """Return when neither the panel nor one of its sections works (see Panel.wait)."""
        super().wait(timeout)
        for section in self.sections:
            section.wait(timeout)

    # -- what is cleaned up --------------------------------------------------------------

    def follow(self, registry: str) -> None:
        """The dashboard chose ``registry``: clean up there (its own namespaces)."""
        self.registry = registry

    def browse(self, registry: str, namespace: str | None = None) -> Any:
        """Point the panel at ``registry`` and ``namespace`` (listing its namespaces in the
        worker thread: ``wait()`` for it)."""
        self._wanted_namespace = namespace
        if registry != self.registry:
            self.registry = registry  # empties and lists
            return None
        return self.refresh()

    def _registry_set(self, change: dict) -> None:
        # What came from the old registry goes now, before the new listing starts: no old
        # namespace, row or plan may show under the new heading, nor be applied.
        dropped = self.plan_registry if (self.preview or self.prune_plan) else None
        if change["old"]:
            self._wanted_namespace = None  # a namespace named for the first registry only
        self.forget(prune=True)
        self._dropped_plan = dropped
        self._set_namespaces([])
        self._heading("listing namespaces…")
        self.refresh()

    def _heading(self, note: str = "") -> None:
        self.title.value = (f"<b>Clean up {self.registry}</b>" +
                            (f" ({note})" if note else "")) if self.registry else ""

    def refresh(self) -> Any:
        """List the registry's namespaces again (after a change); a plan shown goes, as the
        registry no longer holds what it was made from."""
        if self.preview is not None or self.prune_plan is not None:
            self.forget(prune=True)
            self.message.status(f"{self.registry} changed since the preview: press Preview "
                                "again")
        return self.start("namespaces", self._list_namespaces, fresh=False)

    def _list_namespaces(self) -> None:
        registry = self.registry
        if not registry:
            self._set_namespaces([])
            return
        try:
            # A registry that refuses its catalog: the repositories remembered for it.
            listed = namespaces(registry, repositories=self.named_repositories(registry))
        except RegistryError as e:
            if not catalog_refused(e):
                raise
            self._set_namespaces([])
            self.message.status(catalog_pointer(registry, e))  # the Images tab explains
            self.last_error = e  # kept, as in the namespace table; not raised by wait()
            return
        names = [n for n in listed["namespace"] if n]
        if registry != self.registry:
            return  # another registry was chosen meanwhile; its listing is queued
        wanted = self._wanted_namespace or self.namespace_choice.value
        if wanted and wanted not in names and wanted == self._wanted_namespace:
            names.append(wanted)  # named by the caller: it may have no tags yet
        self._set_namespaces(sorted(names), wanted)
        # "3 repositories you named; this registry does not list its own"
        self._heading("; ".join(listed.attrs.get("notes", [])))

    def _set_namespaces(self, names: list[str], wanted: str | None = None) -> None:
        value = wanted if wanted in names else (names[0] if names else None)
        self.namespace_choice.options = names
        self.namespace_choice.value = value
        self.namespace = value

    def _namespace_chosen(self, change: dict) -> None:
        self.namespace = change["new"]
        # Saved policies are keyed by the registry's identity, whatever spelling shows here.
        saved = retention_policies().get(f"{registry_identity(self.registry)}/{change['new']}") \
            if change["new"] and self.registry else None
        if saved:  # the saved policy is the starting point
            self.keep.value = "" if saved.get("keep") is None else str(saved["keep"])
            self.older_than.value = saved.get("older_than") or ""
            self.tags.value = saved.get("tags") or ""
        self.forget(prune=True)

    def named_repositories(self, registry: str) -> str | Sequence[str] | None:
        """The repositories given for ``registry`` when the panel was made, else None (the
        catalog, else those remembered for it)."""
        return self._named[1] if self._named and self._named[0] == registry else None

    @property
    def target(self) -> str:
        if not self.registry or not self.namespace_choice.value:
            raise ValueError(f"{TAB}: choose a namespace in the 'namespace' box first"
                             + ("" if self.registry else " (and a registry in the bar above)"))
        return f"{self.registry}/{self.namespace_choice.value}"

    def settings(self) -> dict[str, Any]:
        return {"keep": _keep_value(self.keep.value),
                "older_than": self.older_than.value.strip() or None,
                "tags": self.tags.value.strip() or None}

    def shows(self, registry: str) -> bool:
        return registry in (self.registry, self.plan_registry)

    def button_allowed(self, btn: w.Button) -> bool:
        # Apply needs a plan of the registry the heading names, with something to change.
        if btn is self.apply_button:
            return self.preview is not None and self.plan_registry == self.registry and \
                bool((self.frame["action"] == "remove").any())
        if btn is self.prune_apply_button:
            return self.prune_plan is not None and self.plan_registry == self.registry and \
                bool(self.prune_plan.changes)
        return bool(self.registry)

    # -- actions -------------------------------------------------------------------------

    def forget(self, *, prune: bool = False) -> None:
        """Drop the retention preview (and with ``prune`` the prune plan): Apply needs a new
        one. Their rows go too."""
        self.preview = None
        self.frame = pd.DataFrame(columns=PLAN_COLUMNS)
        display = plan_display(self.frame)
        self.table.update(display, **_options(display))
        self.summary.value = ""
        if prune:
            self.prune_plan = None
            empty = pd.DataFrame(columns=PRUNE_COLUMNS)
            self.prune_table.update(empty, **table_options(empty, select=False))
            self.prune_summary.value = ""
        self.update_buttons()

    def show_preview(self) -> None:
        """Plan (dry run: nothing is deleted) and show it; Apply is enabled if anything goes."""
        self.forget()
        target, settings, registry = self.target, self.settings(), self.registry
        result = retention(target, dry_run=True, **settings,
                           repositories=self.named_repositories(registry))
        if registry != self.registry:
            return  # another registry was chosen meanwhile: this plan is not shown
        self.frame = plan_frame(result.details["plan"])
        display = plan_display(self.frame)
        self.table.update(display, **_options(display))
        going = (self.frame["action"] == "remove").sum()
        freed = result.details["bytes_freed_estimate"]
        kept = result.details["no_created"]
        self.summary.value = (
            f"<b>{going} of {len(self.frame)} tags go</b> from {target}, up to "
            f"{human_size(freed)} freed once the registry's garbage collection runs"
            + (f"; kept without a created time: {len(kept)}" if kept else "")
            + ("" if result.details["in_use_checked"] else "; local containers not checked")
            + "".join(f"; {note}" for note in result.details.get("notes", [])))
        self.preview, self._settings, self.plan_registry = result, settings, registry
        self._dropped_plan = None
        self.update_buttons()
        self.message.status("Preview only: nothing was deleted. Apply deletes exactly this plan."
                            if going else "Nothing to remove with these settings.")

    def show_prune_preview(self) -> None:
        """Plan the prune of the namespace (nothing is deleted) and show it."""
        self.prune_plan = None
        target, registry = self.target, self.registry
        plan = plan_prune(target, repositories=self.named_repositories(registry))
        if registry != self.registry:
            return  # another registry was chosen meanwhile: this plan is not shown
        display = prune_display(plan)
        self.prune_table.update(display, **table_options(display, select=False))
        self.prune_summary.value = (
            f"<b>{counted(len(plan.changes), 'untagged manifest')} go</b> from {target}, up to "
            f"{human_size(plan.bytes_freed)} freed once the registry's garbage collection "
            f"runs; {len(plan.kept)} kept. " + " ".join(plan.notes))
        self.prune_plan, self.plan_registry = plan, registry
        self._dropped_plan = None
        self.update_buttons()
        self.message.status("Prune preview only: nothing was deleted. Apply prune deletes "
                            "exactly this plan." if plan.changes
                            else "Nothing to prune: every manifest is reached by a tag.")

    def _apply_clicked(self, apply: Any) -> None:
        shown = (self.preview, self.prune_plan, self._settings, self.plan_registry,
                 self._dropped_plan)
        self.start(apply.__name__, lambda: apply(shown))

    def _shown(self, shown: tuple | None) -> tuple:
        return shown if shown is not None else (
            self.preview, self.prune_plan, self._settings, self.plan_registry,
            self._dropped_plan)

    def apply(self, shown: tuple | None = None) -> Result:
        """Apply the previewed retention plan (the second click), on its own registry."""
        preview, _, settings, made_on, dropped = self._shown(shown)
        if preview is None:
            if dropped:
                plan_bound(dropped, self.registry, tab=TAB)
            raise ValueError(f"{TAB}: press Preview first: Apply deletes only a plan you have "
                             "seen")
        plan_bound(made_on, self.registry, tab=TAB)
        self.preview = None
        self.update_buttons()
        self.progress.start("retention", preview.target)
        try:
            result = retention(preview.target, dry_run=False, plan=preview,
                               progress=self.progress, **settings)
        except BaseException as e:
            self.progress.finish(failed=True, cancelled=is_cancelled(e))
            raise
        finally:
            self.report_changed(made_on)  # a part may have landed: others list again
        self.progress.finish(result.summary())
        removed = len(result.details["tags_removed"])
        self.message.status(f"Removed {counted(removed, 'tag')} from {preview.target}. Restore in "
                            "the Trash tab undoes it until garbage collection runs.")
        self.last_result = result
        return result

    def apply_prune(self, shown: tuple | None = None) -> Result:
        """Apply the previewed prune plan exactly, on the registry it was made on."""
        _, plan, _, made_on, dropped = self._shown(shown)
        if plan is None:
            if dropped:
                plan_bound(dropped, self.registry, tab=TAB, button="Preview prune")
            raise ValueError(f"{TAB}: press Preview prune first: Apply prune deletes only a "
                             "plan you have seen")
        plan_bound(made_on, self.registry, tab=TAB, button="Preview prune")
        self.prune_plan = None
        self.update_buttons()
        self.progress.start("prune", plan.target)
        try:
            result = prune(plan.target, plan=plan, dry_run=False,
                           cancel=self.cancel_event, progress=self.progress)
        except BaseException as e:
            self.progress.finish(failed=True, cancelled=is_cancelled(e))
            raise
        finally:
            self.report_changed(made_on)
        self.progress.finish(result.summary())
        self.message.status(f"Deleted {counted(len(plan.changes), 'untagged manifest')} from "
                            f"{plan.target}. Restore in the Trash tab undoes it until "
                            "garbage collection runs.")
        self.last_result = result
        return result


def _options(display: pd.DataFrame) -> dict[str, Any]:
    options = table_options(display, select=False)
    hidden = list(display.columns).index("bytes")
    frees = list(display.columns).index("frees")
    options["columnDefs"] = [{"targets": [hidden], "visible": False, "searchable": False},
                             {"targets": [frees], "orderData": [hidden]}]
    return options
