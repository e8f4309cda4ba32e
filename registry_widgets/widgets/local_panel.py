"""``LocalPanel``: the Local images tab, Docker Desktop's Images view for the engine on this
machine: each image's names, id, size, created, the containers that use it, and whether it
is dangling; Push (to the registry chosen in the bar), Run test, Remove, and Prune.

Remove and Prune show their plan first (``plan_remove_images``, ``plan_prune_images``: what
goes, what is kept because a container uses it); Apply hands that plan back unchanged
(``apply_local_plan`` re-reads the engine and skips whatever changed since). The Push form
takes the image selected in the table, shows the target ``registry/namespace/repository:tag``
and says what it replaces when the tag exists (the push backs that image up first).

Without an engine the tab says why and every button stays disabled. Imports the
``operations`` verbs, ``errors``, ``reference`` and the sibling widget modules only.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
import pandas as pd
import traitlets
from itables.widget import ITable

from ..errors import EngineUnavailable
from ..operations.images.inspect import current_digest
from ..operations.images.local import (LocalPlan, apply_local_plan, local_images_table,
                                       local_inventory, plan_prune_images, plan_remove_images,
                                       push, run, tag)
from ..reference import parse_reference
from .controls import Confirmation, button, show, text
from .messages import result_text
from .panel import Panel
from .tables import counted, format_time, human_size, rows_at, short_digest, table_options


def local_display(images: pd.DataFrame) -> pd.DataFrame:
    """The Local images table as shown: one row per name, ``<none>`` for dangling images,
    containers joined, the hidden ``bytes`` behind ``size``."""
    out = pd.DataFrame(index=images.index)
    out["repository"] = images["repository"].astype(str)
    out["tag"] = images["tag"].astype(str)
    out["image id"] = [short_digest(i) for i in images["image_id"]]
    sizes = images["size"].fillna(0).astype("int64")
    out["size"] = [human_size(s) for s in sizes]
    out["created"] = [format_time(t) for t in images["created"]]
    out["in use by"] = [", ".join(c) for c in images["containers"]]
    out["dangling"] = ["dangling" if d else "" for d in images["dangling"]]
    out["bytes"] = sizes
    return out.reset_index(drop=True)


class LocalPanel(Panel):
    """The engine's images. Buttons (for ``.click()``; ``wait()`` for them):
    ``refresh_button``, ``push_button``, ``run_button``, ``remove_button``,
    ``prune_button`` (dangling; with ``prune_unused`` ticked also unused), ``apply_button``
    and ``cancel_button`` of the plan shown. Push fields: ``push_namespace``,
    ``push_repository``, ``push_tag`` (filled from the selected row); ``target`` shows where
    it goes. ``frame`` holds the rows; ``plan`` the plan shown; ``available`` says whether
    an engine answered."""

    registry = traitlets.Unicode("", help="host[:port] Push sends to (the bar's choice)")
    available = traitlets.Bool(False, help="whether a Docker engine answered")

    def __init__(self, registry: str = "", *, engine: Any = None):
        self._engine = engine
        self.frame = local_images_table([])
        self.plan: LocalPlan | None = None
        self.title = w.HTML("<b>Local images</b>")
        self.title.add_class("rw-local-title")
        self.why = w.HTML("")
        self.why.add_class("rw-local-why")
        empty = local_display(self.frame)
        self.table = ITable(empty, **table_options(empty, select=True))
        self.table.add_class("rw-local-grid")
        self.refresh_button = button("Refresh", "rw-local-refresh", icon="refresh")
        self.remove_button = button("Remove", "rw-local-remove", icon="trash", style="warning")
        self.prune_button = button("Prune", "rw-local-prune", icon="scissors", style="warning")
        self.prune_unused = w.Checkbox(False, description="and unused (no container)",
                                       indent=False, layout=w.Layout(width="auto"))
        self.prune_unused.add_class("rw-local-prune-unused")
        self.run_command = text("image default", "rw-local-run-command",
                                description="Test command", width="18em")
        self.run_button = button("Run test", "rw-local-run", icon="play")
        self.push_namespace = text("none", "rw-local-push-namespace",
                                   description="Namespace", width="14em")
        self.push_repository = text("select an image", "rw-local-push-repository",
                                    description="Repository", width="16em")
        self.push_tag = text("tag", "rw-local-push-tag", description="Tag", width="9em")
        self.push_button = button("Push", "rw-local-push", icon="upload", style="primary")
        self.target = w.HTML("")
        self.target.add_class("rw-local-target")
        self.logs = w.Textarea(disabled=True, layout=w.Layout(width="100%", height="8em"))
        self.logs.add_class("rw-local-logs")
        show(self.logs, False)
        self.confirmation = Confirmation("rw-local")
        self.apply_button = self.confirmation.confirm_button
        self.apply_button.description = self.apply_button.tooltip = "Apply"
        self.cancel_button = self.confirmation.cancel_button
        super().__init__()
        self._row_buttons = [self.push_button, self.run_button, self.remove_button]
        self.children = [
            self.title, self.why,
            w.HBox([self.refresh_button, self.remove_button, self.prune_button,
                    self.prune_unused, self.run_command, self.run_button,
                    self.cancel_action_button], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.push_namespace, self.push_repository, self.push_tag,
                    self.push_button], layout=w.Layout(flex_flow="row wrap")),
            self.target, self.confirmation, self.message, self.logs, self.table]
        self.add_class("rw-local-panel")
        for btn, action in ((self.refresh_button, self._list),
                            (self.push_button, self.push), (self.run_button, self.run_test),
                            (self.remove_button, self.plan_remove),
                            (self.prune_button, self.plan_prune),
                            (self.apply_button, self.confirmation.confirm)):
            self.on_click(btn, action, background=True)
        self.on_click(self.cancel_button, self._forget_plan)
        self.confirmation.on_typed = self.update_buttons
        self.table.observe(self.guard(self._selected, fresh=False), names="selected_rows")
        for field in (self.push_namespace, self.push_repository, self.push_tag):
            field.observe(self.guard(lambda change: self._show_target(), fresh=False),
                          names="value")
        self.registry = registry
        self.observe(self.guard(lambda change: self._show_target(), fresh=False),
                     names="registry")
        self.refresh()

    # -- what is listed ------------------------------------------------------------------

    def follow(self, registry: str) -> None:
        """The bar chose ``registry``: Push goes there (the local images stay)."""
        self.registry = registry

    def shows(self, registry: str) -> bool:
        return False  # local images belong to no registry: a registry change lists nothing

    def refresh(self) -> Any:
        """List the engine's images again (worker thread)."""
        return self.start("refresh", self._list)

    def _list(self) -> None:
        try:
            inventory = local_inventory(engine=self._engine)
        except EngineUnavailable as e:
            self.available = False
            self.frame = local_images_table([])
            self._draw()
            self.why.value = (f"<span style='color:#b00020'>No local Docker engine answers, so "
                              f"this tab has nothing to show: {html.escape(str(e))} Then press "
                              "Refresh.</span>")
            return
        self.available = True
        self.why.value = ""
        self.frame = local_images_table(inventory)
        self._draw()
        dangling = sum(1 for i in inventory if i.dangling)
        self.message.status(f"{counted(len(inventory), 'local image')}, {dangling} dangling")

    def _draw(self) -> None:
        display = local_display(self.frame)
        self.table.update(display, **table_options(display, select=True))
        self.update_buttons()

    def button_allowed(self, btn: w.Button) -> bool:
        if btn is self.refresh_button:
            return True
        if not self.available:
            return False
        if btn in self._row_buttons:
            return bool(self.table.selected_rows)
        return True

    @property
    def selected(self) -> pd.DataFrame:
        """The rows selected in the table."""
        return rows_at(self.frame, self.table.selected_rows)

    def select(self, *names: str) -> None:
        """Select the rows of these ``repository:tag`` names (or image ids), as clicks do."""
        wanted = set(names)
        self.table.selected_rows = [
            i for i, (repo, tg, image_id) in enumerate(zip(
                self.frame["repository"], self.frame["tag"], self.frame["image_id"]))
            if f"{repo}:{tg}" in wanted or image_id in wanted]

    def _selected(self, change: dict) -> None:
        self.update_buttons()
        rows = self.selected
        if len(rows) == 1 and not rows["dangling"].iloc[0]:
            # The repository's last path part and the tag: the rest comes from the bar.
            self.push_repository.value = str(rows["repository"].iloc[0]).rsplit("/", 1)[-1]
            self.push_tag.value = str(rows["tag"].iloc[0]) or "latest"
        self._show_target()

    def _names(self, action: str) -> list[str]:
        rows = self.selected
        if rows.empty:
            raise ValueError(f"Local images, {action}: select an image in the table first")
        return [row["image_id"] if row["dangling"] else f"{row['repository']}:{row['tag']}"
                for _, row in rows.iterrows()]

    # -- Push ----------------------------------------------------------------------------

    def push_target(self) -> str:
        """``registry/namespace/repository:tag`` from the bar and the Push boxes."""
        if not self.registry:
            raise ValueError("Local images, Push: choose a registry in the bar first")
        repository = self.push_repository.value.strip().strip("/")
        if not repository:
            raise ValueError("Local images, Push: select an image in the table (or type a name "
                             "in the Repository box)")
        namespace = self.push_namespace.value.strip().strip("/")
        path = f"{namespace}/{repository}" if namespace else repository
        target = f"{self.registry}/{path}:{self.push_tag.value.strip() or 'latest'}"
        try:
            return str(parse_reference(target))
        except ValueError as e:
            raise ValueError(f"Local images, Push: {target} is not a valid target ({e}); "
                             "correct the Namespace, Repository or Tag box") from e

    def _show_target(self) -> None:
        try:
            target = self.push_target()
        except ValueError:
            self.target.value = ""
            return
        self.target.value = f"Push goes to <code>{html.escape(target)}</code>"
        if self.available:
            self.start("check target", lambda: self._check_target(target), fresh=False)

    def _check_target(self, target: str) -> None:
        try:
            before = current_digest(target)
        except Exception as e:  # noqa: BLE001 - the Push itself says what is wrong
            note = f" (could not read the registry: {html.escape(str(e).splitlines()[0])})"
        else:
            note = (f": <b>replaces</b> <code>{short_digest(before)}</code>, which the push "
                    "backs up first (the Trash tab restores it)" if before else
                    " (a new tag)")
        if self.target.value.startswith(f"Push goes to <code>{html.escape(target)}</code>"):
            self.target.value = f"Push goes to <code>{html.escape(target)}</code>{note}"

    def push(self) -> Any:
        """Tag the selected image as ``push_target()`` and push it."""
        (local,) = self._names("Push")[:1]
        if local.startswith("sha256:"):
            raise ValueError("Local images, Push: a dangling image has no name to push; "
                             "select a named image")
        target = self.push_target()
        tag(local, target, engine=self._engine)
        result = push(target, engine=self._engine, progress=self.watching(None))
        replaced = (result.details.get("replaces") or {}).values()
        note = "".join(f"; replaced {short_digest(d)} (backed up: the Trash tab restores it)"
                       for d in replaced)
        self.report_changed(parse_reference(target).registry)
        self._list()  # the new name is an image's name now
        self.message.status(result_text(result) + note)
        return result

    # -- Run test ------------------------------------------------------------------------

    def run_test(self) -> Any:
        """Run the selected image once (no network), as Build's test run does; show its
        exit code and logs."""
        (local,) = self._names("Run test")[:1]
        command = self.run_command.value.strip() or None
        ran = run(local, command, engine=self._engine)
        code = ran.details.get("exit_code")
        self.logs.value = ran.details.get("logs") or ""
        show(self.logs, True)
        line = f"test run of {local}: exit code {code}"
        if code:
            self.message.error(line + " (the logs are below)")
        else:
            self.message.status(line)
        return ran

    # -- Remove and Prune: plan first, then Apply ----------------------------------------

    def plan_remove(self) -> None:
        """Show what removing the selected images does."""
        self._ask(plan_remove_images(self._names("Remove"), engine=self._engine))

    def plan_prune(self) -> None:
        """Show what pruning removes: dangling images, and unused ones when ticked."""
        self._ask(plan_prune_images(unused=self.prune_unused.value, engine=self._engine))

    def _ask(self, plan: LocalPlan) -> None:
        self.plan = plan

        def apply() -> None:
            # Exactly the plan shown: the verb re-reads the engine and skips what moved.
            result = apply_local_plan(plan, engine=self._engine)
            self.plan = None
            self._list()
            lines = [f"{plan.action[0].upper()}{plan.action[1:]}: "
                     f"{len(result.details['removed'])} removed, "
                     f"{human_size(result.details['freed'])} freed"]
            lines += [f"skipped {s}" for s in result.details["skipped"]]
            (self.message.error if result.details["skipped"] else self.message.status)(
                "\n".join(lines))

        self.confirmation.ask(f"{plan.action[0].upper()}{plan.action[1:]}?", plan.text(), apply,
                              can_confirm=bool(plan.removals))
        self.update_buttons()

    def _forget_plan(self) -> None:
        self.plan = None
        self.confirmation.cancel()
