"""``GcSection``: garbage collection in the Clean up tab: Preview says what a collection
would free, Apply runs it (``operations.cleanup.gc.collect_garbage``).

Deleting a tag or a manifest only unlinks it; the registry's garbage collection frees the
bytes. For the registry this package runs (``make lab``), Preview runs distribution's dry
run and Apply the collection itself (a read-only pause of a few seconds). Apply is enabled
only after a Preview of the same registry that found something, and runs on that registry
only. For another registry, Preview says how that registry collects its garbage.

Imports the ``operations`` verbs and the siblings ``cleanup_section``, ``controls``,
``messages``, ``panel`` and ``tables``.
"""

from __future__ import annotations

import html

import ipywidgets as w

from ..operations.cleanup.gc import collect_garbage
from ..operations.core.result import Result
from .cleanup_section import CleanupSection
from .controls import button
from .messages import for_people
from .panel import plan_bound
from .tables import counted, human_size

WHERE = "Clean up, Garbage collection"


class GcSection(CleanupSection):
    """``preview_button`` (dry run), ``apply_button`` (collect), ``summary``."""

    TITLE = "Garbage collection"
    FOLLOWS = ("registry",)  # the whole registry's, whatever the namespace
    ABOUT = ("frees the storage that deleted images left behind; after it, the Trash tab can "
             "no longer restore them")

    def __init__(self) -> None:
        self.preview_button = button("Preview GC", "rw-gc-preview", icon="search")
        self.preview_button.tooltip = "what a garbage collection would free (nothing changes)"
        self.apply_button = button("Apply GC", "rw-gc-apply", icon="recycle", style="danger")
        self.apply_button.tooltip = "run the garbage collection previewed"
        self.summary = w.HTML("")
        self.summary.add_class("rw-gc-summary")
        self.preview: Result | None = None
        self.preview_registry: str | None = None
        self.last_result: Result | None = None
        super().__init__("rw-gc-section")
        self.children = [self.heading,
                         w.HBox([self.preview_button, self.apply_button],
                                layout=w.Layout(flex_flow="row wrap")),
                         self.summary, self.message]
        self.on_click(self.preview_button, self.show_preview, background=True)
        self.on_click(self.apply_button, self.apply, background=True)
        self.update_buttons()

    def forget(self) -> None:
        self.preview, self.preview_registry = None, None
        self.summary.value = ""
        self.update_buttons()

    def button_allowed(self, btn: w.Button) -> bool:
        if btn is self.apply_button:
            return self.preview is not None and self.preview_registry == self.registry and \
                bool(self.preview.details.get("eligible_blobs"))
        return bool(self.registry)

    def show_preview(self) -> Result:
        """The dry run: what a collection would free now (nothing is deleted)."""
        self.forget()
        registry = self.need_registry()
        result = collect_garbage(registry, dry_run=True)
        if registry != self.registry:
            return result  # another registry was chosen meanwhile: not shown
        if not result.details.get("embedded"):
            self.summary.value = (f"<span>{html.escape(for_people(result.details['how']))}"
                                  "</span>")
            self.message.status(f"{registry} collects its garbage itself or from its own "
                                "console: see above. Nothing was changed")
            return result
        eligible = result.details["eligible_blobs"]
        self.summary.value = (
            f"<b>{human_size(result.details['eligible_bytes'])} would be freed</b> "
            f"({counted(len(eligible), 'blob')}) on {html.escape(registry)}")
        self.preview, self.preview_registry = result, registry
        self.update_buttons()
        self.message.status("Preview only: nothing was deleted. Apply GC frees exactly what "
                            "no image uses any more; the registry is read-only for a few "
                            "seconds meanwhile." if eligible else "Nothing to collect.")
        return result

    def apply(self) -> Result:
        """Run the collection previewed, on the registry it was previewed on."""
        if self.preview is None:
            raise ValueError(f"{WHERE}: press Preview GC first: Apply GC runs only after you "
                             "have seen what it frees")
        plan_bound(self.preview_registry, self.registry, tab=WHERE, button="Preview GC")
        registry = self.preview_registry
        self.forget()
        result = collect_garbage(registry)
        self.last_result = result
        self.report_changed(registry)
        freed = result.details.get("bytes_freed", 0)
        self.summary.value = f"<b>{human_size(freed)} freed</b> on {html.escape(registry)}"
        self.message.status(
            f"Garbage collection freed {human_size(freed)} on {registry} (read-only for "
            f"{result.details.get('read_only_seconds', 0):.1f} s). What was deleted before it "
            "can no longer be restored from the Trash tab.")
        return result
