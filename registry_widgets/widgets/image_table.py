"""``ImageTable``: the tags of a registry (or of one namespace), one row per tag, with a
toolbar acting on the selected rows.

The table is an itables ``ITable`` with every row sent (``maxBytes=0``): sorting, search
and per-column filters run in the browser over all rows, and ``selected_rows`` are
positions in ``shown`` (the full ``images()`` rows behind the display), so a selection maps
back to references, digests and sizes with ``tables.rows_at``. Rows are short strings
(``tables.image_display``), which keeps 10,000 tags quick to draw.

The one rule: the table knows the registry and namespace its rows came from
(``rows_registry``, ``rows_namespace``); every plan and action is built from the rows' own
references, never from the chooser. A listing that fails empties the table, and the buttons
that need rows are disabled until a listing succeeds.

Remove tag and Delete digest show the plan of the selected rows first
(``plan_remove_many``: one change set, each repository read once); Confirm hands exactly
that plan back (``remove_many``): the engine re-reads the registry and deletes only if it
still holds ("changed since the plan: ..." otherwise, nothing deleted), with one backup, so
``restore(result)`` brings every row back. Listing, Pull, Push, Copy, planning and deleting run in
the panel's worker thread (``busy``, ``wait()``, Cancel) and report to a ``ProgressView``.

A registry that refuses the catalog (Docker Hub, GHCR) gets a Repositories box (typed or
pasted, remembered per registry) and a plain sentence saying why. The "as of" line says how
current the rows are (``images()``'s ``attrs``); accessory tags (signatures, attestations,
SBOMs) are a column of their image, not rows.

Imports the ``operations`` verbs, ``errors``, ``reference`` and the sibling widget modules only.
"""

from __future__ import annotations

import html
from typing import Any, Callable

import ipywidgets as w
import pandas as pd
import traitlets
from itables.widget import ITable

from ..errors import ConfirmationRequired
from ..operations.core.clients import refresh_credentials
from ..operations.images.copy import copy
from ..operations.images.inspect import inspect
from ..operations.images.inventory import COLUMNS, catalog_refused, images, indexed
from ..operations.images.local import pull, push, tag
from ..operations.images.namespaces import remember_repositories, remembered_repositories
from ..operations.images.repositories import reworded
from ..operations.images.remove import plan_remove_many, remove_many
from ..reference import parse_reference
from .controls import Confirmation, button, registry_box, show, text
from .export import ExportBar
from .messages import catalog_refusal_text, registry_input, result_text
from .panel import Panel, is_cancelled
from .progress_view import ProgressView
from .tables import (copy_target, counted, digest_reference, filter_frame, inspect_details,
                     image_display, inspect_text, plan_text, pull_commands, push_target, rows_at,
                     sort_tags, table_options)
from .clipboard import clipboard_buttons


class ImageTable(Panel):
    """One row per tag of ``registry`` (all namespaces, or ``namespace``).

    Buttons (attributes, for ``.click()``; those that talk to a registry run in the worker
    thread: ``wait()`` for them): ``refresh_button``, ``pull_button``, ``push_button`` (the
    local image named in ``push_source``, to the listed registry and namespace),
    ``copy_button`` (to ``copy_registry``/``copy_namespace``/``copy_tag``),
    ``remove_tag_button``, ``delete_digest_button``, ``confirm_button``,
    ``cancel_button`` (of the plan), ``cancel_action_button`` (stops what runs),
    ``inspect_button``, ``pull_command_button`` (commands to the clipboard), and the
    ``export`` bar (CSV or JSON of exactly the rows shown, as a file and a browser download).
    ``filter_text`` is the search box: plain words match any column, ``column:text`` one
    column. ``frame`` is everything listed, ``shown`` what the table holds.
    ``on_changed(callback)`` is called with the registry after an action changed it.
    ``last_result`` is the last removal's Result (``restore(table.last_result)`` undoes it).
    """

    registry = traitlets.Unicode("", help="host[:port] of the registry to list")
    namespace = traitlets.Unicode(None, allow_none=True,
                                  help="the namespace to list; None lists them all")
    rows_registry = traitlets.Unicode(None, allow_none=True, read_only=True,
                                      help="the registry the rows shown came from")
    rows_namespace = traitlets.Unicode(None, allow_none=True, read_only=True,
                                       help="the namespace the rows shown came from")

    def __init__(self, registry: str = "", namespace: str | None = None, *,
                 repositories: str | list[str] | None = None, background: bool = False):
        # background: show what the local index holds at once ("as of …, checking the
        # registry"), then the registry's answer replaces it in place.
        self.background = background
        self.frame = pd.DataFrame(columns=COLUMNS)
        self.shown = self.frame
        empty = image_display(self.frame)
        self.table = ITable(empty, **table_options(empty, search=False))
        self.table.add_class("rw-image-grid")
        self.title = w.HTML("")
        self.title.add_class("rw-img-title")

        self.refresh_button = button("Refresh", "rw-img-refresh", icon="refresh")
        self.filter_text = text("words, or column:text (Enter)", "rw-img-filter",
                                description="search",
                                width="20em")
        self.filter_text.continuous_update = False
        self.pull_button = button("Pull", "rw-img-pull", icon="download")
        self.inspect_button = button("Inspect", "rw-img-inspect", icon="search")
        self.details_button = button("Details", "rw-img-details", icon="info-circle")
        # A click in the Security column writes the row's reference here (details.py). Hidden;
        # labelled all the same, as every field is.
        self.details_request = text("", "rw-img-details-request", width="1px",
                                    description="details of")
        show(self.details_request, False)
        self._details_callbacks: list[Callable[[str], Any]] = []
        self.pull_command_button = button("Pull commands", "rw-img-pull-command",
                                          icon="clipboard")
        self.remove_tag_button = button("Remove tag", "rw-img-remove-tag", icon="tag",
                                        style="warning")
        self.delete_digest_button = button("Delete digest", "rw-img-delete-digest",
                                           icon="trash", style="danger")
        self.copy_registry = registry_box("rw-img-copy-registry", description="to registry")
        self.copy_namespace = text("same", "rw-img-copy-namespace", description="namespace",
                                   width="10em")
        self.copy_tag = text("same", "rw-img-copy-tag", description="tag", width="8em")
        self.copy_button = button("Copy to…", "rw-img-copy", icon="copy")
        self.push_source = text("e.g. hello:1.0", "rw-img-push-source", description="local image",
                                width="14em")
        self.push_button = button("Push", "rw-img-push", icon="upload")
        self.export = ExportBar("images", lambda: self.shown, css="rw-img",
                                selected=lambda: self.selected)
        self.export_path = self.export.path
        self.export_button = self.export.csv_button
        self.confirmation = Confirmation("rw-img")
        self.confirm_button = self.confirmation.confirm_button
        self.cancel_button = self.confirmation.cancel_button
        self.progress = ProgressView()
        self.output = w.Textarea(value="", disabled=True,
                                 layout=w.Layout(width="100%", height="10em", display="none"))
        self.output.add_class("rw-img-output")
        self.clipboard = w.HTML("")
        self.clipboard.add_class("rw-img-clipboard")
        self.as_of = w.HTML("")
        self.as_of.add_class("rw-img-as-of")
        self.repositories_text = w.Textarea(
            placeholder="e.g. team/app, team/db (commas or lines)",
            description="repositories to list", style={"description_width": "initial"},
            layout=w.Layout(width="50em", height="4em"))
        self.repositories_text.add_class("rw-img-repositories")
        self.repositories_button = button("List these repositories", "rw-img-repositories-list",
                                          icon="list")
        self.repositories_box = w.HBox([self.repositories_text, self.repositories_button])
        self.repositories_box.add_class("rw-img-repositories-box")
        show(self.repositories_box, False)
        super().__init__()
        self.cancel_action_button.add_class("rw-img-cancel-action")
        self._quiet = False
        # security(shown) -> one status per row ("No issues", "N issues", "not scanned"...):
        # the dashboard sets it from its Scan panel's reports; None shows no column.
        self.security: Callable[[pd.DataFrame], list[str]] | None = None
        self._listed: tuple[str, str | None] | None = None  # what the table holds
        self.last_result: Any = None  # the Result of the last removal: restore() takes it
        self._row_buttons = [self.pull_button, self.inspect_button, self.details_button,
                             self.pull_command_button,
                             self.remove_tag_button, self.delete_digest_button,
                             self.copy_button, self.export.csv_button, self.export.json_button]
        # Grouped so the toolbars fit 1280 px with the file browser open: what reads the
        # selection, then what moves images, then what deletes.
        self.toolbar = w.HBox([self.refresh_button, self.filter_text, self.pull_button,
                               self.inspect_button, self.details_button,
                               self.pull_command_button, self.remove_tag_button,
                               self.delete_digest_button, self.cancel_action_button],
                              layout=w.Layout(flex_flow="row wrap"))
        self.toolbar.add_class("rw-img-toolbar")
        self.transfer_bar = w.HBox([self.copy_registry, self.copy_namespace, self.copy_tag,
                                    self.copy_button, self.push_source, self.push_button],
                                   layout=w.Layout(flex_flow="row wrap"))
        self.more = w.Accordion(children=[w.VBox([self.transfer_bar, self.export])],
                                titles=("Copy, push and export",))
        self.more.add_class("rw-img-more")
        self.children = [
            self.title, self.toolbar, self.more, self.repositories_box, self.as_of,
            self.confirmation, self.message, self.progress, self.clipboard, self.output,
            self.table, self.details_request]
        self.add_class("rw-image-table")

        for btn, action in ((self.refresh_button, self._refresh_pressed),
                            (self.pull_button, self.pull),
                            (self.push_button, self.push), (self.copy_button, self.copy),
                            (self.remove_tag_button, self.plan_remove_tags),
                            (self.delete_digest_button, self.plan_delete_digests),
                            (self.confirm_button, self.confirmation.confirm),
                            (self.inspect_button, self.inspect),
                            (self.repositories_button, self.list_repositories)):
            self.on_click(btn, action, background=True)
        self.on_click(self.cancel_button, self.confirmation.cancel)
        self.on_click(self.pull_command_button, self.pull_commands)
        self.on_click(self.details_button, self.open_details)
        self.details_request.observe(self.guard(self._details_requested, fresh=False),
                                     names="value")
        self.export.owner = self
        self._action_buttons += [self.pull_command_button, self.export.csv_button,
                                self.export.json_button]
        self.filter_text.observe(self.guard(lambda change: self.apply_filter()), names="value")
        self.table.observe(self.guard(self._selection_changed, fresh=False),
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
            self.refresh()

    def follow(self, registry: str) -> None:
        """The dashboard chose ``registry``: its namespaces' images, none of the old rows."""
        self.browse(registry, None)

    def _source_changed(self, change: dict) -> None:
        if not self._quiet:  # browse() sets both traits, then lists once
            self.refresh()

    def refresh(self) -> Any:
        """List the registry again in the worker thread (``wait()`` for it) and redraw."""
        if not self.registry:
            # Nothing to list: empty the table here and now. A worker doing it later would
            # race a show_frame() made right after the table was built (and win under load).
            self.confirmation.cancel()
            self._empty()
            self._listed = (self.registry, self.namespace)
            return None
        # The rows go at once: until the new listing arrives nothing may act on the old one.
        if (self.registry, self.namespace) != self._listed:
            self._empty()
            where = self.registry + (f"/{self.namespace}" if self.namespace else "")
            self.title.value = f"<b>Images in {where}</b> (listing…)" if self.registry else ""
            if self.background and self.registry:
                self._show_index()
        if self.busy:
            # An action (a copy) still runs: its result must stay readable after this
            # listing, which is queued behind it (a registry switch mid-copy).
            return self.start("refresh", lambda: self._refresh_now(keep_result=True),
                              fresh=False)
        return self.start("refresh", self._refresh_now)

    def _show_index(self) -> None:
        repositories = self.repositories_text.value.strip() or None
        known = indexed(self.registry, self.namespace, repositories=repositories)
        if known is None:
            return
        # These rows are the registry's own, as of their last check; any plan re-reads the
        # registry before deleting, and a failed revalidation empties the table.
        self.set_trait("rows_registry", self.registry)
        self.set_trait("rows_namespace", self.namespace)
        self.show_frame(known)
        self._say_as_of(known, checking=True)

    def _refresh_pressed(self) -> None:
        """Refresh as the user pressed it: Docker's config is read again first."""
        self._refresh_now(relogin=True)

    def _refresh_now(self, *, relogin: bool = False, keep_result: bool = False) -> None:
        """List and redraw, here and now (the worker thread, or after an action).
        ``relogin``: read Docker's config and helpers again first (a Refresh the user
        pressed, maybe right after ``docker login``; automatic retries re-read it at most
        every few seconds). ``keep_result``: the message the action before left (its result)
        stays, the listing's line under it."""
        self.confirmation.cancel()
        kept = (self.message.kind, self.message.text) if keep_result else ("", "")
        listing = (self.registry, self.namespace)
        if not self.registry:
            self._empty()
            self._listed = listing
            return
        where = self.registry + (f"/{self.namespace}" if self.namespace else "")
        self.title.value = f"<b>Images in {where}</b> (listing…)"
        self.progress.start("listing", f"listing {where}")
        repositories = self.repositories_text.value.strip() or None
        if repositories:
            show(self.repositories_box, True)
        try:
            def first_rows(part: pd.DataFrame) -> None:
                # a cold listing: its first repositories show early, while still wanted
                if self.frame.empty and self._wanted(listing):
                    self.set_trait("rows_registry", listing[0])
                    self.set_trait("rows_namespace", listing[1])
                    self.show_frame(part)

            if relogin:
                refresh_credentials(self.registry)
            frame = images(self.registry, self.namespace, repositories=repositories,
                           progress=self.watching(self.progress), on_partial=first_rows,
                           **self.cancel_kwargs(images))
        except BaseException as e:
            if not self._wanted(listing):
                return  # a listing nobody looks at any more: the queued one says how it went
            # The rule: a table whose listing failed holds no rows, so nothing can act on
            # what an earlier registry returned.
            self._empty()
            self._listed = listing
            self.as_of.value = ""
            self.title.value = f"<b>Images in {where}</b>: could not be listed"
            self.progress.finish("listing failed", failed=True)
            if catalog_refused(e):
                show(self.repositories_box, True)
                # Its kind kept (Unauthorized: log in; Denied: name them), in this table's words.
                raise reworded(e, catalog_refusal_text(self.registry, e)) from e
            raise
        self.progress.finish(counted(len(frame), "tag"))
        show(self.progress, False)
        if not self._wanted(listing):
            # Another registry or namespace was chosen while this one was listed: its rows
            # must not show under the new heading (the new listing is queued behind this).
            return
        self.set_trait("rows_registry", listing[0])
        self.set_trait("rows_namespace", listing[1])
        self.title.value = f"<b>Images in {where}</b>"
        self._update(frame)
        self._listed = listing
        self._say_as_of(frame)
        skipped = self.frame.attrs.get("skipped") or []
        note = f" ({len(skipped)} gone while listing)" if skipped else ""
        line = f"{counted(len(self.frame), 'tag')} in {where}{note}"
        if kept[1]:
            shown = getattr(self.message, kept[0], self.message.status)
            before = kept[1].rsplit("\n", 1)
            # a second listing queued behind the action: its line replaces the first one's
            if len(before) == 2 and before[1].split(" tag")[0].isdigit() and \
                    before[1].endswith(f" in {where}{note}"):
                kept = (kept[0], before[0])
            shown(f"{kept[1]}\n{line}")
        else:
            self.message.status(line)

    def _wanted(self, listing: tuple[str, str | None]) -> bool:
        return (self.registry, self.namespace) == listing

    def _update(self, table: pd.DataFrame) -> None:
        """Show ``table`` in place of ``frame``: nothing is redrawn when the rows are the same,
        and the selection follows its references while they keep their digests."""
        before = self.frame
        self.frame = table
        if len(before) == len(table) and all(
                before[column].tolist() == table[column].tolist()
                for column in ("reference", "digest", "accessories") if column in table):
            self.shown = sort_tags(filter_frame(table, self.filter_text.value))
            self.update_buttons()
            return
        # The selection stays on a row only while it is the same image: a tag that now
        # points elsewhere is not what the user chose, so it is no longer selected.
        chosen = set(zip(self.selected["reference"], self.selected["digest"])) \
            if self.table.selected_rows else set()
        self.apply_filter()
        if chosen:
            self.table.selected_rows = [
                i for i, row in enumerate(zip(self.shown["reference"], self.shown["digest"]))
                if row in chosen]

    def _say_as_of(self, table: pd.DataFrame, *, checking: bool = False) -> None:
        when = table.attrs.get("as_of")
        if when is None:
            self.as_of.value = ""
            return
        note = (" (from the local index; checking the registry…)" if checking else
                " (partly from the local index)" if table.attrs.get("from_index") else "")
        self.as_of.value = f'<span class="rw-as-of">as of {when:%Y-%m-%d %H:%M:%S} UTC{note}</span>'

    def list_repositories(self) -> None:
        """List the repositories typed or pasted in ``repositories_text`` (for registries
        that refuse the catalog) and remember them for this registry; empty: the catalog."""
        kept = remember_repositories(self.registry, self.repositories_text.value)
        self.repositories_text.value = ", ".join(kept)
        self._listed = None
        self._refresh_now(relogin=True)
        # The other tabs (namespaces, Clean up) read the remembered names too: they list again.
        self.report_changed(self.registry)

    def _empty(self) -> None:
        self.set_trait("rows_registry", None)
        self.set_trait("rows_namespace", None)
        self.show_frame(pd.DataFrame(columns=COLUMNS))

    def show_frame(self, frame: pd.DataFrame) -> None:
        """Show an ``images()`` frame (what Refresh does after listing)."""
        self.frame = frame
        self.apply_filter()

    def apply_filter(self) -> None:
        """Narrow ``frame`` to ``filter_text`` and redraw; clears the selection."""
        self.confirmation.cancel()
        self.shown = sort_tags(filter_frame(self.frame, self.filter_text.value))
        display = image_display(self.shown)
        if "accessories" in self.shown and any(self.shown["accessories"].map(bool)):
            # Signatures, attestations and SBOMs belong to their image: a column, not rows.
            display.insert(display.columns.get_loc("labels") if "labels" in display else
                           len(display.columns), "accessories",
                           [", ".join(sorted(a)) if a else "" for a in self.shown["accessories"]])
        kinds = self.shown["artifact_type"].fillna("") if "artifact_type" in self.shown else []
        if any(kinds):
            # OCI artifacts (models, datasets) say what they are; images leave it blank
            display.insert(display.columns.get_loc("platforms") + 1, "artifact type",
                           list(kinds))
        allow_html = self.security is not None
        if self.security is not None:
            # The Security column is HTML (coloured counts that open the details), so every
            # other cell is escaped: a label may hold anything. It goes before the labels,
            # the widest column, so that it is in view at 1280 px.
            display = display.map(lambda v: html.escape(v) if isinstance(v, str) else v)
            display.insert(display.columns.get_loc("accessories") if "accessories" in display
                           else display.columns.get_loc("labels") if "labels" in display
                           else len(display.columns), "security", self.security(self.shown))
        # After every column is in place: the options hide "bytes" and sort "size" by position.
        options = table_options(display, search=False)
        if allow_html:
            options["allow_html"] = True
        self.table.update(display, **options)
        self.update_buttons()

    def button_allowed(self, btn: w.Button) -> bool:
        return btn not in self._row_buttons or len(self.shown) > 0

    def _selection_changed(self, change: dict) -> None:
        self.confirmation.cancel()
        self.clipboard.value = ""

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

    def _changed(self, registries: set[str]) -> None:
        if self.rows_registry in registries or self.registry in registries:
            self._refresh_now()
        self.report_changed(*registries)

    def reset_feedback(self) -> None:
        show(self.output, False)
        show(self.progress, False)
        self.clipboard.value = ""

    # -- long actions --------------------------------------------------------------------

    def _long(self, action: str, work: Callable[[Callable], list[Any]],
              changed: set[str]) -> None:
        """Run ``work(progress)`` with the progress view; refresh what it changed; show each
        result in the user's units."""
        self.progress.start(action)
        try:
            results = work(self.watching(self.progress))
        except BaseException as e:
            self.progress.finish(f"{action} failed", failed=True, cancelled=is_cancelled(e))
            if changed:
                self._changed(changed)  # a part may have landed: show the registry as it is
            raise
        self.progress.finish(f"{action}: done")
        if changed:
            self._changed(changed)
        self.message.status("\n".join(result_text(r) for r in results))

    def pull(self) -> None:
        """Pull the selected images into the local engine (``docker pull``)."""
        refs = list(self._need_selection()["reference"])

        def work(progress: Callable) -> list[Any]:
            done = []
            for ref in refs:
                self.check_cancel(ref)
                done.append(pull(ref, progress=progress))
            return done

        self._long("pull", work, set())

    def push(self) -> None:
        """Tag the local image in ``push_source`` for the listed registry and namespace,
        push it."""
        local = self.push_source.value.strip()
        if not local:
            raise ValueError("type the local image to push, e.g. hello:1.0 (see docker images)")
        registry = self.rows_registry or self.registry
        namespace = self.rows_namespace if self.rows_registry else self.namespace
        target = push_target(local, registry, namespace)
        self._long("push", lambda progress: [tag(local, target),
                                             push(target, progress=progress)],
                   {parse_reference(target).registry})

    def offer_registries(self, registries: list[str]) -> None:
        """The registries the 'to registry' box offers (the registry bar's)."""
        self.copy_registry.options = list(registries)

    def copy(self) -> None:
        """Copy the selected images to ``copy_registry`` (``copy_namespace``, ``copy_tag``)."""
        rows = self._need_selection()
        if self.copy_tag.value.strip() and len(rows) > 1:
            raise ValueError(f"{len(rows)} rows are selected but one target tag is given: "
                             "they would overwrite each other; clear the tag or select one row")
        registry = registry_input(self.copy_registry.value, where="Images, Copy to…",
                                  box="to registry")
        pairs = [(ref, copy_target(ref, registry, self.copy_namespace.value,
                                   self.copy_tag.value)) for ref in rows["reference"]]

        def work(progress: Callable) -> list[Any]:
            done = []
            for source, target in pairs:
                self.check_cancel(f"before {source}")
                done.append(copy(source, target, progress=progress, **self.cancel_kwargs(copy)))
            return done

        self._long("copy", work, {parse_reference(t).registry for _, t in pairs})

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
        # The rows' own references name their registry: never the chooser's. One plan for
        # all the rows: each repository read once, every row planned from that one read.
        self.check_cancel("planning")
        shown = plan_remove_many(refs)
        registry = shown.registry

        def delete() -> None:
            # Exactly the plan shown, as one change set: the engine re-reads every repository
            # it covers and refuses it whole if one moved, so a stale plan deletes nothing at
            # all (not the first rows), and restore(result) undoes every row at once.
            self.progress.start("remove", f"removing from {registry}")
            try:
                result = remove_many(shown, progress=self.watching(self.progress),
                                     **self.cancel_kwargs(remove_many))
            except ConfirmationRequired as e:
                self.progress.finish("nothing removed", failed=True)
                self._refresh_now()
                button = title.split("(")[0].strip()
                raise ConfirmationRequired(
                    f"Images, {title}: {str(e).rstrip('.')}. The table was listed again: "
                    f"select the rows and press {button} to plan anew", registry=registry) from e
            except BaseException as e:
                self.progress.finish("remove failed", failed=True, cancelled=is_cancelled(e))
                self._changed({registry})  # a part may have landed: show the registry as is
                raise
            self.progress.finish("removed")
            show(self.progress, False)
            self.last_result = result
            self._changed({registry})
            lines = [result_text(result)]
            lines += [f"skipped (blocked, see the plan): {target}"
                      for target in result.details.get("skipped", [])]
            self.message.status("\n".join(lines))

        self.confirmation.ask(f"{title} in {registry}?", plan_text(list(shown.plans)), delete,
                              can_confirm=bool(shown.changes.changes))

    # -- read-only helpers ---------------------------------------------------------------

    def inspect(self) -> None:
        """Show the selected images: digest, platforms, labels, size, pull commands, then
        the run config, history, layers and raw manifest (``inspect`` verb)."""
        rows = self._need_selection()
        parts = []
        for _, row in rows.iterrows():
            self.check_cancel("inspect")
            info = inspect(row["reference"])
            text = inspect_text(row) + "\n" + inspect_details(info)
            # A multi-arch index: every platform's config, history and layers, not the first
            # one's alone (the manifest shown is the index itself, once).
            for platform in list(dict.fromkeys(info["platforms"]))[1:]:
                other = inspect(row["reference"], platform=platform)
                text += f"\n\nplatform {platform}:\n" + inspect_details(
                    dict(other, raw_manifest=None))
            parts.append(text)
        self._output("\n\n".join(parts))

    def on_details(self, callback: Callable[[str], Any], remove: bool = False) -> None:
        """Call ``callback(reference)`` when Details (or a Security cell) asks for a row's
        detail view (the dashboard opens it)."""
        if remove:
            self._details_callbacks.remove(callback)
        else:
            self._details_callbacks.append(callback)

    def open_details(self) -> None:
        """Details: open the detail view of the selected row."""
        rows = self._need_selection()
        if len(rows) > 1:
            raise ValueError(f"Images, Details: {len(rows)} rows are selected; select one")
        self._ask_details(str(rows["reference"].iloc[0]))

    def _details_requested(self, change: dict) -> None:
        reference = change["new"].split(" #")[0].strip()
        if reference:
            self.details_request.value = ""  # the same cell may be clicked again
            self._ask_details(reference)

    def _ask_details(self, reference: str) -> None:
        if not self._details_callbacks:
            raise ValueError("Images, Details: this table is not part of a dashboard with a "
                             "Details tab")
        for callback in list(self._details_callbacks):
            callback(reference)

    def pull_commands(self) -> None:
        """The pull commands of the selected rows (docker, podman, digest-pinned), shown
        and offered as clipboard buttons."""
        rows = self._need_selection()
        commands = pull_commands(rows)
        self._output("\n".join(line for lines in commands.values() for line in lines))
        self.clipboard.value = clipboard_buttons(
            {name: "\n".join(lines) for name, lines in commands.items()})

    def export_csv(self) -> str:
        """Write the rows shown (search applied) as CSV to the export path; offer it as a
        download. Returns the path."""
        return self.export.write("csv")

    def _output(self, value: str) -> None:
        self.output.value = value
        lines = value.count("\n") + 1
        self.output.layout.height = f"{min(max(lines, 2), 30) * 1.4 + 1:.1f}em"
        show(self.output, True)
