"""What an executed notebook shows a person: it ends with a table, and shows no raw repr.

Used by ``notebooks/conftest.py`` on the runs it makes anyway (each notebook with its
defaults, as a person opens it), so checking adds no notebook run; the checks themselves are
tested on small hand-written notebooks in ``tests/test_notebook_outputs.py``.

Why these strings: ``Result(``/``ScanReport(`` are dataclass reprs (a dump, not an answer),
``<NA>``/``NaN`` and a ``None`` cell are pandas' words for "empty", and ``b'`` is bytes shown
raw. Widget views are left out: JupyterLab draws the widget, never its text/plain repr.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
RAW = [
    ("a Result repr", re.compile(r"\bResult\(")),
    ("a ScanReport repr", re.compile(r"\bScanReport\(")),
    ("pandas' <NA>", re.compile(r"<NA>|&lt;NA&gt;")),
    ("a NaN cell", re.compile(r"<td>NaN</td>|\|\s*NaN\s*\|")),
    ("a None cell", re.compile(r"<td>None</td>|\|\s*None\s*\|")),
    ("raw bytes", re.compile(r"(?<![\w'])b'")),
]
TABLE_HTML = re.compile(r"<table\b", re.IGNORECASE)
TABLE_MARKDOWN = re.compile(r"^\|.*\|\s*\n\|\s*:?-{3,}", re.MULTILINE)


def _texts(output: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, text) of everything an output shows."""
    if output.get("output_type") == "stream":
        yield "stream", "".join(output.get("text", ""))
        return
    data = output.get("data") or {}
    if WIDGET_VIEW in data:
        return
    for kind in ("text/plain", "text/html", "text/markdown"):
        if kind in data:
            value = data[kind]
            yield kind, "".join(value) if isinstance(value, list) else str(value)


def raw_outputs(notebook: Any) -> list[str]:
    """One line per raw repr, empty cell or raw bytes any code cell shows."""
    found = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        for output in cell.get("outputs", []):
            for kind, text in _texts(output):
                for what, pattern in RAW:
                    match = pattern.search(text)
                    if match:
                        start = max(match.start() - 40, 0)
                        found.append(f"cell {index} ({cell.get('id', '?')}) {kind}: {what}: "
                                     f"...{text[start:match.end() + 40]!r}...")
    return found


def is_table(output: dict[str, Any]) -> bool:
    """Whether an output is a table a person reads: a DataFrame's or the package's HTML, or
    a Markdown table."""
    data = output.get("data") or {}
    html = data.get("text/html", "")
    markdown = data.get("text/markdown", "")
    html = "".join(html) if isinstance(html, list) else html
    markdown = "".join(markdown) if isinstance(markdown, list) else markdown
    return bool(TABLE_HTML.search(html) or TABLE_MARKDOWN.search(markdown))


def ends_with_a_table(notebook: Any) -> str | None:
    """None when the notebook's last output is a table; else what it ends with instead."""
    outputs = [o for cell in notebook["cells"] if cell["cell_type"] == "code"
               for o in cell.get("outputs", [])]
    if not outputs:
        return "no output at all"
    last = outputs[-1]
    if is_table(last):
        return None
    shown = next((text for _, text in _texts(last)), "")
    return f"a {last.get('output_type')} output: {shown[:200]!r}"
