"""``UsageSection``: storage usage in the Clean up tab, like ``ibmcloud cr quota``: the bytes
each namespace and repository stores (a shared layer counted once), the namespace's limit,
and the 80 % warning (``operations.cleanup.usage``).

Show lists the registry's usage as a table; the limit box and Set limit save the chosen
namespace's limit (kept in this user's policies, nothing is sent to the registry); an empty
box removes it. Namespaces at 80 % of their limit or more are named in the message.

Imports the ``operations`` verbs and the siblings ``cleanup_section``, ``controls`` and
``tables``.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import pandas as pd
from itables.widget import ITable

from ..operations.cleanup.usage import parse_size, set_usage_limit, usage
from .cleanup_section import CleanupSection
from .controls import button, text
from .tables import human_size, table_options

WHERE = "Clean up, Usage"
DISPLAY_COLUMNS = ["namespace", "repository", "images", "tags", "size", "limit", "used",
                   "status", "bytes"]


def usage_display(frame: pd.DataFrame) -> pd.DataFrame:
    """``usage()`` rows for people: sizes in units, the limit and its percentage, a
    namespace's row before its repositories (``bytes`` hidden, for sorting)."""
    rows = []
    for _, row in frame.iterrows():
        limit = row["limit"]
        has_limit = limit is not None and not pd.isna(limit)
        rows.append({
            "namespace": row["namespace"], "repository": row["repository"] or "(all)",
            "images": int(row["images"]), "tags": int(row["tags"]),
            "size": human_size(int(row["bytes"])),
            "limit": human_size(int(limit)) if has_limit else "",
            "used": f"{row['percent']} %" if has_limit else "",
            "status": row["status"] or "", "bytes": int(row["bytes"])})
    return pd.DataFrame(rows, columns=DISPLAY_COLUMNS)


class UsageSection(CleanupSection):
    """``show_button``, the ``table``, the ``limit`` box and ``set_limit_button``."""

    TITLE = "Usage"
    ABOUT = "bytes per namespace and repository (shared layers once), limits, 80 % warning"
    FOLLOWS = ("registry",)

    def __init__(self) -> None:
        self.show_button = button("Show usage", "rw-usage-show", icon="pie-chart")
        self.limit = text("e.g. 500MB or 2GiB; empty: no limit", "rw-usage-limit",
                          description="limit of the namespace", width="26em")
        self.set_limit_button = button("Set limit", "rw-usage-set-limit", icon="save")
        self.frame = pd.DataFrame()
        empty = usage_display(pd.DataFrame(columns=["namespace", "repository", "images",
                                                    "tags", "bytes", "limit", "percent",
                                                    "status"]))
        self.table = ITable(empty, **_options(empty))
        self.table.add_class("rw-usage-grid")
        super().__init__("rw-usage-section")
        self.children = [self.heading,
                         w.HBox([self.show_button, self.limit, self.set_limit_button],
                                layout=w.Layout(flex_flow="row wrap", align_items="center")),
                         self.message, self.table]
        self.on_click(self.show_button, self.show, background=True)
        self.on_click(self.set_limit_button, self.save_limit, background=True)
        self.update_buttons()

    def forget(self) -> None:
        self.frame = pd.DataFrame()
        empty = usage_display(pd.DataFrame(columns=["namespace", "repository", "images",
                                                    "tags", "bytes", "limit", "percent",
                                                    "status"]))
        self.table.update(empty, **_options(empty))

    def button_allowed(self, btn: w.Button) -> bool:
        return bool(self.registry)

    def show(self) -> pd.DataFrame:
        """List the registry's usage (reads only)."""
        registry = self.need_registry()
        frame = usage(registry)
        if registry != self.registry:
            return frame  # another registry was chosen meanwhile: not shown
        self.frame = frame
        display = usage_display(frame)
        self.table.update(display, **_options(display))
        warnings = frame.attrs.get("warnings") or []
        if warnings:
            self.message.error("; ".join(warnings) + ". Clean up above (retention, prune), "
                               "then Garbage collection frees the bytes")
        else:
            total = int(frame.loc[frame["level"] == "namespace", "bytes"].sum()) \
                if not frame.empty else 0
            self.message.status(f"{registry} stores {human_size(total)}; no namespace is at "
                                "80 % of a limit")
        return frame

    def save_limit(self) -> Any:
        """Save (or, with an empty box, remove) the chosen namespace's limit."""
        namespace = self.need_namespace()
        typed = self.limit.value.strip()
        if typed:
            try:
                parse_size(typed)
            except ValueError as e:
                raise ValueError(f"{WHERE}: the box 'limit of the namespace' takes a size "
                                 f"like 500MB or 2GiB, not {typed!r}; nothing was saved") from e
        result = set_usage_limit(f"{self.registry}/{namespace}", typed or None)
        self.message.status(
            (f"limit of {namespace} set to {human_size(result.details['limit'])}"
             if typed else f"{namespace} has no limit now")
            + " (kept here for this user; the registry is not changed). Press Show usage to "
              "see it against the bytes stored")
        return result



def _options(display: pd.DataFrame) -> dict[str, Any]:
    # size sorts by the hidden bytes (table_options does it for every size column)
    return table_options(display, select=False, page_length=10)
