"""The readability checks ``notebooks/conftest.py`` applies to every notebook it runs (each
notebook, with its defaults, as a person opens it; ``pytest notebooks/``): the last output is
a table, and no output shows a raw repr, pandas' ``<NA>``, a ``None`` cell or raw bytes.

Here the checks themselves, on small notebooks written by hand (no kernel), and
``notebook_support``'s two tables that end the notebooks and show usage (07), built from
real ``Result`` and ``usage()``-shaped frames.
"""

from __future__ import annotations

import nbformat
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from registry_widgets import notebook_support as nb
from registry_widgets.operations.core.result import Result
from tests.support.notebook_outputs import ends_with_a_table, is_table, raw_outputs


def notebook(*outputs: dict) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return nbformat.v4.new_notebook(cells=[cell])


def shown(data: dict, kind: str = "display_data") -> dict:
    return {"output_type": kind, "data": data, "metadata": {},
            **({"execution_count": 1} if kind == "execute_result" else {})}


def printed(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


FRAME = pd.DataFrame({"size": ["1.0 kB"], "limit": ["—"]})
MARKDOWN = "| step | outcome |\n|---|---|\n| copy | done |"


@pytest.mark.parametrize("outputs, ends_well", [
    ([printed("{}"), shown({"text/plain": str(FRAME), "text/html": FRAME.to_html()})], True),
    ([printed("{}"), shown({"text/plain": "copy: done", "text/markdown": MARKDOWN})], True),
    ([shown({"text/plain": "t"}), printed('{"a": 1}\n')], False),  # the JSON record last
    ([shown({"text/plain": "Result(action='sync')"}, "execute_result")], False),
    ([shown({"text/markdown": "| not | a table |"})], False),
    ([], False),
])
def test_the_last_output_must_be_a_table(outputs: list, ends_well: bool) -> None:
    assert (ends_with_a_table(notebook(*outputs)) is None) is ends_well


@pytest.mark.parametrize("output, what", [
    (shown({"text/plain": "Result(action='sync', source='r/ns')"}, "execute_result"),
     "a Result repr"),
    (printed("ScanReport(reference='r/ns/app:1.0', digest='sha256:00')\n"), "a ScanReport repr"),
    (shown({"text/html": "<td>&lt;NA&gt;</td>", "text/plain": "  bytes limit\n0  12  <NA>"}),
     "pandas' <NA>"),
    (shown({"text/html": "<tr><td>12</td><td>None</td></tr>"}), "a None cell"),
    (shown({"text/markdown": "| a | b |\n|---|---|\n| 1 | NaN |"}), "a NaN cell"),
    (printed("layer: b'\\x1f\\x8b\\x08'\n"), "raw bytes"),
])
def test_raw_outputs_are_found(output: dict, what: str) -> None:
    found = raw_outputs(notebook(output))
    assert found and all(what in line for line in found), found


@pytest.mark.parametrize("output", [
    printed("Bob's image: 12.3 MB, no limit\n"),  # an apostrophe after b is no bytes
    printed('{"digest": null, "limit": null}\n'),  # JSON's null is what CI reads
    shown({"text/html": "<td>—</td><td>NoneSuch</td>"}),
    # a widget: JupyterLab draws the view, never this text
    shown({"text/plain": "ScanPanel(children=(Result(x=b'1'),))",
           "application/vnd.jupyter.widget-view+json": {"model_id": "1", "version_major": 2,
                                                        "version_minor": 0}}),
])
def test_readable_outputs_pass(output: dict) -> None:
    assert raw_outputs(notebook(output)) == []


def display_bundle(function, *args) -> dict:
    """What ``function`` displays, as the kernel would send it."""
    shell = InteractiveShell.instance()
    sent: list[dict] = []
    publisher = shell.display_pub
    original = publisher.publish
    publisher.publish = lambda data, metadata=None, **kw: sent.append(data)
    try:
        function(*args)
    finally:
        publisher.publish = original
    assert len(sent) == 1
    return sent[0]


def test_summarize_ends_a_notebook_with_a_table() -> None:
    done = Result(action="copy", source="r/a:1", target="r/b:1", digest="sha256:" + "a" * 64,
                  bytes_moved=1_234_567, duration=1.5)
    data = display_bundle(nb.summarize, {"copy": done, "push": None})
    outputs = [printed("{}"), shown(data)]
    assert ends_with_a_table(notebook(*outputs)) is None
    assert raw_outputs(notebook(*outputs)) == []
    assert "1.2 MB moved" in data["text/html"] and "not run" in data["text/markdown"]


def test_usage_rows_show_sizes_and_dashes() -> None:
    frame = pd.DataFrame({  # what usage() returns: bytes, and None/NA where there is no limit
        "level": ["namespace", "repository"], "namespace": ["demo", "demo"],
        "repository": ["", "demo/app"], "images": [3, 3], "tags": [3, 3],
        "bytes": [1_283_274, 247_551], "limit": pd.array([5_000_000, None], dtype="Int64"),
        "percent": [25.7, None], "status": ["ok", ""]})
    rows = nb.usage_rows(frame)
    assert list(rows["size"]) == ["1.3 MB", "247.6 kB"]
    assert list(rows["limit"]) == ["5.0 MB", "—"]
    assert list(rows["used"]) == ["25.7 %", "—"]
    assert list(rows["repository"]) == ["—", "demo/app"]
    assert list(rows["status"]) == ["ok", "—"]
    html = rows.to_html()
    assert raw_outputs(notebook(shown({"text/plain": str(rows), "text/html": html}))) == []


def test_a_result_and_a_scan_report_shown_as_they_are_are_tables() -> None:
    from registry_widgets.operations.security.scan import ScanReport

    done = Result(action="remove", source="r/ns/app:<1>", dry_run=True, changed=False)
    report = ScanReport(reference="r/ns/app:1.0", digest="sha256:" + "b" * 64, distro="",
                        os_supported=True, packages=3, feed="osv-demo")
    for value in (done, report):
        html = value._repr_html_()
        assert is_table({"data": {"text/html": html}}), html
        assert "None" not in html and "<1>" not in html  # escaped, and no empty value shown
    assert "dry run, nothing changed" in done._repr_html_()
    assert "No issues" in report._repr_html_() and "distribution" not in report._repr_html_()
