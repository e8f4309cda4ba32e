"""Reading the tables (issue 25): tags in version order, searching an empty table, counts
in words. Plain functions over DataFrames, no kernel and no registry needed."""

from __future__ import annotations

import pandas as pd
import pytest

from registry_widgets.operations.images.inventory import COLUMNS
from registry_widgets.widgets import tables as t


@pytest.mark.parametrize("tags, ordered", [
    (["1.10", "1.9", "1.2"], ["1.2", "1.9", "1.10"]),
    (["2.0", "1.0rc1", "1.0", "v1.1"], ["1.0rc1", "1.0", "v1.1", "2.0"]),
    (["latest", "1.0", "build-10", "build-2"], ["1.0", "build-2", "build-10", "latest"]),
    (["b", "A", "a"], ["A", "a", "b"]),
    (["sha-1f2e", "2024.01.9", "2024.01.10"], ["2024.01.9", "2024.01.10", "sha-1f2e"]),
])
def test_tags_sort_as_versions_then_naturally(tags, ordered):
    assert sorted(tags, key=t.tag_key) == ordered


def test_the_image_table_rows_and_its_tag_column_sort_by_version():
    frame = pd.DataFrame([{c: None for c in COLUMNS} | {
        "namespace": "team", "repository": "team/app", "tag": tag, "size": 1,
        "platforms": [], "labels": {}} for tag in ["latest", "1.10", "1.9"]])
    shown = t.sort_tags(frame)
    assert list(shown["tag"]) == ["1.9", "1.10", "latest"]
    display = t.image_display(shown)
    assert list(display["tag order"]) == [0, 1, 2]
    defs = t.table_options(display)["columnDefs"]
    tag, hidden = list(display.columns).index("tag"), list(display.columns).index("tag order")
    assert {"targets": [tag], "orderData": [hidden]} in defs
    assert {"targets": [hidden], "visible": False, "searchable": False} in defs


@pytest.mark.parametrize("query", ["created:2024", "created:", "tag:1.0", "anything"])
def test_searching_an_empty_table_finds_nothing_and_raises_nothing(query):
    empty = pd.DataFrame(columns=COLUMNS).astype({"created": "datetime64[ns, UTC]"})
    assert t.filter_frame(empty, query).empty


def test_counts_read_as_words():
    assert [t.counted(n, "tag") for n in (0, 1, 2)] == ["0 tags", "1 tag", "2 tags"]


def test_progress_bars_have_one_legend_and_end_in_its_colours():
    from registry_widgets.progress import ProgressEvent
    from registry_widgets.widgets.progress_view import LEGEND, ProgressView

    def run(**finish) -> ProgressView:
        view = ProgressView()
        view.start("copy")
        view(ProgressEvent("copy", id="sha256:aaa", status="copied", current=10, total=10))
        view(ProgressEvent("copy", id="sha256:bbb", status="copying", current=3, total=10))
        view.finish(**finish)
        return view

    done = run(message="done")
    assert done.legend.value == LEGEND and "moving" in LEGEND and "failed" in LEGEND
    assert {b.bar_style for b in done.bars.values()} == {"success"}
    failed = run(failed=True)
    assert [b.bar_style for b in failed.bars.values()] == ["success", "danger"]
    assert failed.overall.bar_style == "danger"
    cancelled = run(failed=True, cancelled=True)  # the person pressed Cancel
    assert cancelled.label.value == "cancelled" and cancelled.overall.bar_style == ""
    assert "danger" not in {b.bar_style for b in cancelled.bars.values()}
