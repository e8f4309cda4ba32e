"""``ExportBar``: the rows a table shows, as CSV or JSON, written to a file on the kernel's
machine and offered as a download in the browser.

The download is a link with a ``data:`` URL (``download="images.csv"``): the browser saves
it where the person's downloads go, which matters when the kernel runs on a server. What is
exported is said next to the buttons and in the message: the rows selected in the table,
or, when none is, every row its search shows (the table passes functions returning its
``selected`` and its ``shown`` rows).

Imports pandas, ipywidgets, the standard library and the siblings ``controls`` and ``tables``.
"""

from __future__ import annotations

import base64
import html
import os
from typing import Any, Callable

import ipywidgets as w
import pandas as pd

from .controls import button, show, text
from .tables import counted, export_frame, export_json

MEDIA_TYPES = {"csv": "text/csv", "json": "application/json"}


def encode(frame: pd.DataFrame, kind: str) -> bytes:
    """The bytes of an export: ``csv`` (lists joined, labels ``k=v; ...``) or ``json``."""
    if kind == "csv":
        return export_frame(frame).to_csv(index=False).encode("utf-8")
    if kind == "json":
        return export_json(frame).encode("utf-8")
    raise ValueError(f"export as csv or json, not {kind!r}")


class ExportBar(w.HBox):
    """A path field, Export CSV and Export JSON buttons, and the download link.

    ``write(kind)`` writes ``rows()`` to the path (its extension set to ``kind``), shows the
    link and a status in ``owner.message``, and returns the absolute path.
    """

    def __init__(self, name: str, rows: Callable[[], pd.DataFrame], *, css: str,
                 selected: Callable[[], pd.DataFrame] | None = None):
        self.rows = rows
        self.selected = selected
        self.owner: Any = None
        self.path = text(f"{name}.csv", f"{css}-export-path", value=f"{name}.csv",
                         description="export to file", width="12em")
        self.scope = w.HTML("<span style='color:#555'>exports "
                            + ("the selected rows, or every row the search shows when none is "
                               "selected" if selected else "every row the search shows")
                            + "</span>")
        self.scope.add_class(f"{css}-export-scope")
        self.csv_button = button("Export CSV", f"{css}-export", icon="file")
        self.json_button = button("Export JSON", f"{css}-export-json", icon="file-code-o")
        self.download = w.HTML("")
        self.download.add_class(f"{css}-download")
        self.last_path: str | None = None
        super().__init__([self.path, self.csv_button, self.json_button, self.scope,
                          self.download],
                         layout=w.Layout(flex_flow="row wrap", align_items="center"))
        self.add_class(f"{css}-export-bar")
        self.csv_button.on_click(lambda _b: self._clicked("csv"))
        self.json_button.on_click(lambda _b: self._clicked("json"))

    def _clicked(self, kind: str) -> None:
        if self.owner is not None:
            self.owner.guard(lambda: self.write(kind))()
        else:
            self.write(kind)

    def chosen(self) -> tuple[pd.DataFrame, str]:
        """The rows an export writes now, and how to say which they are."""
        picked = self.selected() if self.selected is not None else None
        if picked is not None and len(picked):
            return picked, f"the {counted(len(picked), 'selected row')}"
        frame = self.rows()
        return frame, f"every row the search shows ({counted(len(frame), 'row')})"

    def write(self, kind: str = "csv") -> str:
        frame, what = self.chosen()
        data = encode(frame, kind)
        typed = os.path.expanduser(self.path.value.strip() or f"export.{kind}")
        root, ext = os.path.splitext(typed)
        path = os.path.abspath((root if ext.lower() in (".csv", ".json") else typed) + f".{kind}")
        with open(path, "wb") as out:
            out.write(data)
        name = os.path.basename(path)
        url = f"data:{MEDIA_TYPES[kind]};base64,{base64.b64encode(data).decode('ascii')}"
        self.download.value = (f'<a class="rw-download-link" download="{html.escape(name)}" '
                               f'href="{url}" style="margin-left:8px">⬇ Download {html.escape(name)}'
                               "</a>")
        show(self.download, True)
        self.last_path = path
        if self.owner is not None:
            self.owner.message.status(f"wrote {what} to {path}; the link downloads the same "
                                      "file")
        return path
