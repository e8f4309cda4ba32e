"""``ImageTable``: the tags of a registry (or of one namespace), one row per tag, with a
toolbar acting on the selected rows.

The table is an itables ``ITable`` with every row sent (``maxBytes=0``): sorting, search
and per-column filters run in the browser over all rows, and ``selected_rows`` are
positions in ``shown`` (the full ``images()`` rows behind the display), so a selection maps
back to references, digests and sizes with ``tables.rows_at``. Rows are short strings
(``tables.image_display``), which keeps 10,000 tags quick to draw.

Remove tag and Delete digest show the plan (``plan_remove`` per row) first; Confirm
deletes exactly what was planned. Pull, Push and Copy report to a ``ProgressView``.

With ``background=True`` a listing shows what the local index holds at once ("as of …"),
then revalidates with the registry in a background thread and updates the rows in place
(the selection follows its references). A cold listing shows its first rows while the rest
load. A registry that refuses the catalog gets a Repositories box (typed or pasted,
remembered per registry) and a plain sentence saying why.

Imports the ``operations`` verbs, ``reference`` and the sibling widget modules only.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable

import ipywidgets as w
import pandas as pd
import traitlets
from itables.widget import ITable

from ..errors import Unauthorized
from ..operations.copy import copy
from ..operations.inspection import inspect
from ..operations.inventory import COLUMNS, catalog_refused, images, indexed
from ..operations.namespaces import remember_repositories, remembered_repositories
from ..operations.local import pull, push, tag
from ..operations.remove import plan_remove, remove
from ..reference import parse_reference
from .feedback import Confirmation, Panel, ProgressView, button, show, text
from .tables import (copy_target, digest_reference, export_frame, filter_frame, inspect_details,
                     image_display, inspect_text, plan_text, pull_command, push_target,
                     rows_at, table_options)

EXPORT_PREVIEW_LINES = 20  # of the CSV, shown after Export


class ImageTable(Panel):
    """One row per tag of ``registry`` (all namespaces, or ``namespace``).

    Buttons (attributes, for ``.click()``): ``refresh_button``, ``pull_button``,
    ``push_button`` (the local image named in ``push_source``, to this registry and
    namespace), ``copy_button`` (to ``copy_registry``/``copy_namespace``/``copy_tag``),
    ``remove_tag_button``, ``delete_digest_button``, ``confirm_button``, ``cancel_button``,
    ``inspect_button``, ``pull_command_button``, ``export_button`` (CSV to
    ``export_path``). ``filter_text`` narrows ``shown`` (``tables.filter_frame``) before the
    browser's own search. ``frame`` is everything listed, ``shown`` what the table holds.
    """

    registry = traitlets.Unicode("", help="host[:port] of the registry listed")
    namespace = traitlets.Unicode(None, allow_none=True,
                                  help="the namespace listed; None lists them all")

    background = traitlets.Bool(False, help="show the index at once, revalidate in a thread")

    def __init__(self, registry: str = "", namespace: str | None = None, *,
                 repositories: str | list[str] | None = None, background: bool = False):
        self.frame = pd.DataFrame(columns=COLUMNS)
        self.shown = self.frame
        empty = image_display(self.frame)
        self.table = ITable(empty, **table_options(empty), column_filters="footer")
        self.table.add_class("rw-image-grid")
        self.title = w.HTML("")
        self.title.add_class("rw-img-title")

        self.refresh_button = button("Refresh", "rw-img-refresh", icon="refresh")
        self.filter_text = text("filter: text or column:text", "rw-img-filter", width="18em")
        self.filter_text.continuous_update = False
        self.pull_button = button("Pull", "rw-img-pull", icon="download")
        self.inspect_button = button("Inspect", "rw-img-inspect", icon="search")
        self.pull_command_button = button("Copy pull command", "rw-img-pull-command",
                                          icon="clipboard")
        self.remove_tag_button = button("Remove tag", "rw-img-remove-tag", icon="tag",
                                        style="warning")
        self.delete_digest_button = button("Delete digest", "rw-img-delete-digest",
                                           icon="trash", style="danger")
        self.copy_registry = text("target registry", "rw-img-copy-registry")
        self.copy_namespace = text("namespace (same)", "rw-img-copy-namespace", width="12em")
        self.copy_tag = text("tag (same)", "rw-img-copy-tag", width="10em")
        self.copy_button = button("Copy to…", "rw-img-copy", icon="copy")
        self.push_source = text("local image, e.g. hello:1.0", "rw-img-push-source")
        self.push_button = button("Push", "rw-img-push", icon="upload")
        self.export_path = text("images.csv", "rw-img-export-path", value="images.csv")
        self.export_button = button("Export CSV", "rw-img-export", icon="file")
        self.confirmation = Confirmation("rw-img")
        self.confirm_button = self.confirmation.confirm_button
        self.cancel_button = self.confirmation.cancel_button
        self.progress = ProgressView()
        self.output = w.Textarea(value="", disabled=True,
                                 layout=w.Layout(width="100%", height="10em", display="none"))
        self.output.add_class("rw-img-output")
        self.as_of = w.HTML("")
        self.as_of.add_class("rw-img-as-of")
        self.repositories_text = w.Textarea(
            placeholder="repositories to list, e.g. team/app, team/db (commas or lines)",
            layout=w.Layout(width="40em", height="4em"))
        self.repositories_text.add_class("rw-img-repositories")
        self.repositories_button = button("List these repositories", "rw-img-repositories-list",
                                          icon="list")
        self.repositories_box = w.HBox([self.repositories_text, self.repositories_button])
        self.repositories_box.add_class("rw-img-repositories-box")
        show(self.repositories_box, False)
        super().__init__()
        self.background = background
        self._generation = 0  # a newer refresh makes older background results stale
        self._thread: threading.Thread | None = None
        self._quiet = False
        self._listed: tuple[str, str | None] | None = None  # what the table holds
        self.children = [
            self.title,
            w.HBox([self.refresh_button, self.filter_text, self.pull_button,
                    self.inspect_button, self.pull_command_button, self.remove_tag_button,
                    self.delete_digest_button], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.copy_registry, self.copy_namespace, self.copy_tag, self.copy_button,
                    self.push_source, self.push_button, self.export_path,
                    self.export_button], layout=w.Layout(flex_flow="row wrap")),
            self.repositories_box, self.as_of, self.confirmation, self.message, self.progress,
            self.output, self.table]
        self.add_class("rw-image-table")

        for btn, action in ((self.refresh_button, self.refresh), (self.pull_button, self.pull),
                            (self.push_button, self.push), (self.copy_button, self.copy),
                            (self.remove_tag_button, self.plan_remove_tags),
                            (self.delete_digest_button, self.plan_delete_digests),
                            (self.confirm_button, self.confirmation.confirm),
                            (self.cancel_button, self.confirmation.cancel),
                            (self.inspect_button, self.inspect),
                            (self.pull_command_button, self.pull_commands),
                            (self.export_button, self.export_csv),
                            (self.repositories_button, self.list_repositories)):
            self.on_click(btn, action)
        self.filter_text.observe(self.guard(lambda change: self.apply_filter()), names="value")
        self.table.observe(self.guard(lambda change: self.confirmation.cancel(), fresh=False),
                           names="selected_rows")
        self.observe(self.guard(self._source_changed), names=["registry", "namespace"])
        self._given_repositories = (repositories if isinstance(repositories, str) else
                                    ", ".join(repositories or [])) or None
        self.browse(registry, namespace)

    # -- what is listed ------------------------------------------------------------------

    def browse(self, registry: str, namespace: str | None = None) -> None:
        """List ``registry`` (and ``namespace``) with one refresh, however many changed;
        nothing is asked of the registry when the table already holds that listing."""
        self._quiet = True
        try:
            if registry != self.registry:  # each registry has its own repositories, if any
                given, self._given_repositories = self._given_repositories, None
                self.repositories_text.value = given or ", ".join(
                    remembered_repositories(registry) if registry else [])
            self.registry, self.namespace = registry, namespace
        finally:
            self._quiet = False
        if (registry, namespace) != self._listed:
            self.guard(self.refresh)()

    def _source_changed(self, change: dict) -> None:
        if not self._quiet:  # browse() sets both traits, then lists once
            self.refresh()

    def refresh(self) -> None:
        """List the registry again and redraw (the selection is cleared). With
        ``background``, the index's rows show at once and the registry's answer follows."""
        self.confirmation.cancel()
        self._generation += 1
        generation = self._generation
        listing = (self.registry, self.namespace)
        if not self.registry:
            self.show_frame(pd.DataFrame(columns=COLUMNS))
            self.as_of.value = ""
            self._listed = listing
            return
        where = self.registry + (f"/{self.namespace}" if self.namespace else "")
        self.title.value = f"<b>Images in {where}</b>"
        repositories = self.repositories_text.value.strip() or None
        if repositories:
            show(self.repositories_box, True)
        if not self.background:
            self._revalidate(generation, listing, repositories, in_place=False)
            return
        known = indexed(self.registry, self.namespace, repositories=repositories)
        if known is not None:
            self._update(known)
            self._listed = listing
            self._say_as_of(known, checking=True)
        self._thread = threading.Thread(
            target=self.guard(self._revalidate, fresh=False),
            args=(generation, listing, repositories, True), daemon=True, name="rw-image-table")
        self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background revalidation to finish (notebooks and tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _revalidate(self, generation: int, listing: tuple[str, str | None],
                    repositories: str | None, in_place: bool) -> None:
        registry, namespace = listing
        where = registry + (f"/{namespace}" if namespace else "")

        def first_rows(part: pd.DataFrame) -> None:
            if generation == self._generation and self.frame.empty:
                self._update(part)
                self.message.status(f"first {len(part)} tag(s) of {where}; listing the rest…")

        try:
            table = images(registry, namespace, repositories=repositories,
                           on_partial=first_rows)
        except Exception as e:
            if not catalog_refused(e) or generation != self._generation:
                raise
            show(self.repositories_box, True)
            if isinstance(e, Unauthorized):  # anonymous: logging in may be the answer
                raise
            self.as_of.value = ""
            self.message.error(
                f"{registry} does not list its repositories to you (the registry's catalog is "
                "refused: Docker Hub, GHCR and many others never give it). Type or paste the "
                "repositories you want to see in the box above, e.g. team/app, and press "
                "'List these repositories'; they are remembered for this registry.")
            return
        if generation != self._generation:  # a newer refresh is under way
            return
        if in_place:
            self._update(table)
        else:
            self.show_frame(table)
        self._listed = listing
        self._say_as_of(table, checking=False)
        skipped = table.attrs.get("skipped") or []
        note = f" ({len(skipped)} gone while listing)" if skipped else ""
        self.message.status(f"{len(table)} tag(s) in {where}{note}")

    def _update(self, table: pd.DataFrame) -> None:
        """Show ``table`` in place of ``frame``: nothing is redrawn when the rows are the same,
        and the selection follows its references."""
        before = self.frame
        self.frame = table
        if len(before) == len(table) and all(
                before[column].tolist() == table[column].tolist()
                for column in ("reference", "digest", "accessories")):
            self.shown = filter_frame(table, self.filter_text.value)
            return
        chosen = set(self.selected_references) if self.table.selected_rows else set()
        self.apply_filter()
        if chosen:
            self.table.selected_rows = [i for i, ref in enumerate(self.shown["reference"])
                                        if ref in chosen]

    def _say_as_of(self, table: pd.DataFrame, *, checking: bool) -> None:
        when = table.attrs.get("as_of")
        if when is None:
            self.as_of.value = ""
            return
        text = f"as of {when:%Y-%m-%d %H:%M:%S} UTC"
        text += " (from the local index; checking the registry…)" if checking else \
            ("" if not table.attrs.get("from_index") else " (partly from the local index)")
        self.as_of.value = f'<span class="rw-as-of">{text}</span>'

    def list_repositories(self) -> None:
        """List the repositories typed or pasted in ``repositories_text`` (for registries
        that refuse the catalog) and remember them for this registry; empty: the catalog."""
        kept = remember_repositories(self.registry, self.repositories_text.value)
        self.repositories_text.value = ", ".join(kept)
        self.refresh()

    def show_frame(self, frame: pd.DataFrame) -> None:
        """Show an ``images()`` frame (what Refresh does after listing)."""
        self.frame = frame
        self.apply_filter()

    def apply_filter(self) -> None:
        """Narrow ``frame`` to ``filter_text`` and redraw; clears the selection."""
        self.confirmation.cancel()
        self.shown = filter_frame(self.frame, self.filter_text.value)
        display = image_display(self.shown)
        if "accessories" in self.shown and any(self.shown["accessories"].map(bool)):
            # Signatures, attestations and SBOMs belong to their image: a column, not rows.
            display.insert(display.columns.get_loc("labels"), "accessories",
                           [", ".join(sorted(a)) if a else "" for a in self.shown["accessories"]])
        self.table.update(display, **table_options(display), column_filters="footer")

    @property
    def selected(self) -> pd.DataFrame:
        """The full ``images()`` rows selected in the table."""
        return rows_at(self.shown, self.table.selected_rows)

    @property
    def selected_references(self) -> list[str]:
        return [str(r) for r in self.selected["reference"]]

    def select(self, *references: str) -> None:
        """Select the rows of these references, as clicks in the table would."""
        wanted = [str(parse_reference(r)) for r in references]
        positions = [i for i, ref in enumerate(self.shown["reference"]) if ref in wanted]
        if len(positions) != len(set(wanted)):
            raise ValueError(f"not all of {wanted} are in the table; Refresh?")
        self.table.selected_rows = positions

    def _need_selection(self) -> pd.DataFrame:
        rows = self.selected
        if rows.empty:
            raise ValueError("select one or more rows in the table first")
        return rows

    # -- long actions --------------------------------------------------------------------

    def _long(self, action: str, work: Callable[[], list[Any]], *, refresh: bool) -> None:
        """Run ``work`` with the progress view; show each result's summary; refresh after."""
        self.progress.start(action)
        try:
            results = work()
        except BaseException:
            self.progress.finish(f"{action} failed", failed=True)
            raise
        self.progress.finish(f"{action}: done")
        if refresh:
            self.refresh()
        self.message.status("\n".join(r.summary() for r in results))

    def pull(self) -> None:
        """Pull the selected images into the local engine (``docker pull``)."""
        refs = list(self._need_selection()["reference"])
        self._long("pull", lambda: [pull(ref, progress=self.progress) for ref in refs],
                   refresh=False)

    def push(self) -> None:
        """Tag the local image in ``push_source`` for this registry and namespace, push it."""
        local = self.push_source.value.strip()
        if not local:
            raise ValueError("type the local image to push, e.g. hello:1.0 (see docker images)")
        target = push_target(local, self.registry, self.namespace)

        def work() -> list[Any]:
            return [tag(local, target), push(target, progress=self.progress)]

        self._long("push", work, refresh=True)

    def copy(self) -> None:
        """Copy the selected images to ``copy_registry`` (``copy_namespace``, ``copy_tag``)."""
        rows = self._need_selection()
        if self.copy_tag.value.strip() and len(rows) > 1:
            raise ValueError(f"{len(rows)} rows are selected but one target tag is given: "
                             "they would overwrite each other; clear the tag or select one row")
        pairs = [(ref, copy_target(ref, self.copy_registry.value, self.copy_namespace.value,
                                   self.copy_tag.value)) for ref in rows["reference"]]
        here = any(parse_reference(t).registry == parse_reference(s).registry
                   for s, t in pairs)
        self._long("copy", lambda: [copy(s, t, progress=self.progress) for s, t in pairs],
                   refresh=here)

    # -- destructive actions: plan first, then Confirm -----------------------------------

    def plan_remove_tags(self) -> None:
        """Show what removing the selected tags does (co-tags of a digest are kept)."""
        refs = list(self._need_selection()["reference"])
        self._ask("Remove tag(s)", refs)

    def plan_delete_digests(self) -> None:
        """Show what deleting the selected rows' digests does: every tag on them goes."""
        refs = list(dict.fromkeys(digest_reference(row)
                                  for _, row in self._need_selection().iterrows()))
        self._ask("Delete digest(s)", refs)

    def _ask(self, title: str, refs: list[str]) -> None:
        plans = [(ref, plan_remove(ref)) for ref in refs]

        allowed = [(ref, plan) for ref, plan in plans if plan.allowed]
        skipped = [ref for ref, plan in plans if not plan.allowed]

        def delete() -> None:
            # ``plan=``: the verb re-reads the registry and refuses if it changed meanwhile.
            results = [remove(ref, plan=plan) for ref, plan in allowed]
            self.refresh()
            lines = [r.summary() for r in results]
            lines += [f"skipped (blocked, see the plan): {ref}" for ref in skipped]
            self.message.status("\n".join(lines))

        self.confirmation.ask(f"{title} in {self.registry}?",
                              plan_text([plan for _, plan in plans]), delete,
                              can_confirm=bool(allowed))

    # -- read-only helpers ---------------------------------------------------------------

    def inspect(self) -> None:
        """Show the selected images: digest, platforms, labels, size, pull commands, then
        the run config, history, layers and raw manifest (``inspect`` verb)."""
        rows = self._need_selection()
        self._output("\n\n".join(inspect_text(row) + "\n" + inspect_details(inspect(row["reference"]))
                                  for _, row in rows.iterrows()))

    def pull_commands(self) -> None:
        """Put ``docker pull REF`` for each selected row in the output box, to copy."""
        rows = self._need_selection()
        self._output("\n".join(pull_command(ref) for ref in rows["reference"]))

    def export_csv(self) -> str:
        """Write the rows in the table (after ``filter_text``) to ``export_path``, all
        columns with full digests; show the path and the first lines."""
        path = os.path.abspath(os.path.expanduser(self.export_path.value.strip() or "images.csv"))
        export_frame(self.shown).to_csv(path, index=False)
        with open(path, encoding="utf-8") as written:
            head = [line.rstrip("\n") for _, line in zip(range(EXPORT_PREVIEW_LINES), written)]
        more = len(self.shown) + 1 - len(head)
        self._output("\n".join(head + ([f"… {more} more line(s)"] if more > 0 else [])))
        self.message.status(f"wrote {len(self.shown)} row(s) to {path}")
        return path

    def _output(self, value: str) -> None:
        self.output.value = value
        lines = value.count("\n") + 1
        self.output.layout.height = f"{min(max(lines, 2), 30) * 1.4 + 1:.1f}em"
        show(self.output, True)
