"""The Details tab (``widgets/details.py``) and the Security column, driven in Python through
the dashboard (``Button.click()``), against a real registry read back over raw HTTP."""

from __future__ import annotations

import html
import json
import re

import ipywidgets
import pytest

from registry_widgets import Dashboard
from registry_widgets.operations.core import clients
from tests.scan_images import OSV, alpine_layers, push
from tests.support import get_manifest, push_image, push_index

TIMEOUT = 120


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def text_of(value: str) -> str:
    """What a browser shows of an HTML value: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", value))


def board_on(registry, namespace: str) -> Dashboard:
    board = Dashboard([registry.host], remember_added=False)
    board.wait(TIMEOUT)
    board.namespace_table.select(namespace)
    board.wait(TIMEOUT)
    return board


def open_details(board: Dashboard, reference: str):
    board.image_table.select(reference)
    board.image_table.details_button.click()
    board.wait(TIMEOUT)
    view = board.detail_view
    assert board.tabs.titles[board.tabs.selected_index] == "Details"
    assert view.last_error is None, view.last_error
    return view


def values(widget) -> list[str]:
    """The HTML values of ``widget`` and everything inside it."""
    out = [getattr(widget, "value", "") or ""] if isinstance(widget, ipywidgets.HTML) else []
    for child in getattr(widget, "children", ()):
        out += values(child)
    return out


def section(view, title: str, *, raw: bool = False) -> str:
    """The text a section shows (its HTML parts, joined); ``raw``: the HTML itself."""
    shown = values(view.tabs.children[view.tabs.titles.index(title)])
    return " ".join(shown if raw else [text_of(v) for v in shown])


def test_a_multi_arch_index_shows_every_platform_its_layers_and_the_manifest_indented(
        registry, unique_repo):
    amd = push_image(registry, unique_repo, None, layer_sizes=(1500, 700), seed="amd",
                     labels={"org.opencontainers.image.version": "1.0"},
                     created="2024-03-01T10:00:00Z", cmd=("/app", "--serve"))
    arm = push_image(registry, unique_repo, None, layer_sizes=(1600,), seed="arm",
                     platform=("linux", "arm64", "v8"), created="2024-03-01T10:00:00Z")
    digest = push_index(registry, unique_repo, "1.0", [amd, arm])
    ref = f"{registry.host}/{unique_repo}:1.0"
    board = board_on(registry, unique_repo.split("/")[0])
    view = open_details(board, ref)

    oracle = get_manifest(registry, unique_repo, "1.0")
    assert oracle.digest == digest == view.info["digest"]
    platforms = section(view, "Platforms")
    for child in (amd, arm):
        assert child.digest[:19] in platforms
    assert "linux/amd64" in platforms and "linux/arm64/v8" in platforms
    assert "/app --serve" in platforms
    layers = section(view, "Layers")
    for child in (amd, arm):
        for blob in child.layers:
            assert blob.digest in layers
    # The manifest as stored, indented: one line per key, not one raw JSON line.
    shown = section(view, "Manifest")
    assert json.loads(shown) == json.loads(oracle.data)
    assert shown.count("\n") > 10
    overview = section(view, "Overview")
    assert f"docker pull {ref}" in overview
    assert f"docker pull {registry.host}/{unique_repo}@{digest}" in overview
    assert "rw-clipboard-digest-pinned" in section(view, "Overview", raw=True)
    assert "org.opencontainers.image.version" in section(view, "Labels")
    assert "tests.support.push_image" in section(view, "History")


def test_signatures_by_tag_are_listed_with_their_image(registry, unique_repo):
    image = push_image(registry, unique_repo, "2.0", layer_sizes=(900,), seed="signed")
    signature = "sha256-" + image.digest.split(":", 1)[1] + ".sig"
    push_image(registry, unique_repo, signature, layer_sizes=(50,), seed="sig")
    board = board_on(registry, unique_repo.split("/")[0])
    view = open_details(board, f"{registry.host}/{unique_repo}:2.0")
    shown = section(view, "Signatures")
    assert "signature" in shown and signature in shown


def test_the_security_column_counts_by_severity_and_opens_the_details_where_scan_works(
        registry, unique_repo):
    alpine = push(registry, f"{unique_repo}-alpine", "3.19.1", alpine_layers())
    plain = push_image(registry, unique_repo, "1.0", layer_sizes=(800,), seed="plain",
                       labels={"note": "<b>bold</b>"})
    board = board_on(registry, unique_repo.split("/")[0])
    table = board.image_table
    cells = dict(zip(table.shown["digest"], table.table.df["security"]))
    assert {text_of(c).strip() for c in cells.values()} == {"not scanned"}
    # The other cells are escaped once the Security column is HTML: a label stays text.
    assert "&lt;b&gt;bold&lt;/b&gt;" in " ".join(table.table.df["labels"])

    # A click in a Security cell writes the row's reference to the request box.
    table.details_request.value = f"{alpine['reference']} #1"
    board.wait(TIMEOUT)
    view = board.detail_view
    assert view.reference == alpine["reference"] and view.info["digest"] == alpine["digest"]
    assert table.details_request.value == ""
    assert "Not scanned yet" in section(view, "Vulnerabilities")

    # Scan from the details, with no feed in the Scan tab: one message naming the box.
    view.scan_button.click()
    with pytest.raises(ValueError):
        view.wait(TIMEOUT)
    assert "Scan tab's feed box" in view.message.text
    assert alpine["digest"] not in view.reports

    board.scan_panel.feed.value = str(OSV)
    view.scan_button.click()
    view.wait(TIMEOUT)
    report = view.reports[alpine["digest"]]
    assert board.scan_panel.reports is view.reports  # one set of reports for both tabs
    counts = {level: n for level, n in report.counts().items() if n}
    assert counts, "the sample image has findings"
    shown = section(view, "Vulnerabilities")
    for level, n in counts.items():
        assert f"{n} {level}" in shown
    for finding in report.open_findings:
        assert finding.id in shown
    cells = dict(zip(table.shown["digest"], table.table.df["security"]))
    for level, n in counts.items():
        assert f'class="rw-sev rw-sev-{level}"' in cells[alpine["digest"]]
        assert f"{n} {level}" in text_of(cells[alpine["digest"]])
    assert text_of(cells[plain.digest]).strip() == "not scanned"
    sbom = section(view, "SBOM")
    assert f"{report.packages} packages" in sbom and "Download CycloneDX JSON" in sbom


def test_details_without_a_selection_says_what_to_do_and_reads_nothing(registry, unique_repo):
    push_image(registry, unique_repo, "1.0", layer_sizes=(500,), seed="none")
    board = board_on(registry, unique_repo.split("/")[0])
    board.image_table.details_button.click()
    assert "select one or more rows" in board.image_table.message.text
    assert board.detail_view.info is None
    board.detail_view.sbom_button.click()
    with pytest.raises(ValueError):
        board.detail_view.wait(TIMEOUT)
    assert "press Details" in board.detail_view.message.text


def test_inspect_of_a_multi_arch_index_shows_every_platform_and_the_manifest_indented(
        registry, unique_repo):
    amd = push_image(registry, unique_repo, None, layer_sizes=(600,), seed="i-amd")
    arm = push_image(registry, unique_repo, None, layer_sizes=(700,), seed="i-arm",
                     platform=("linux", "arm64", "v8"))
    push_index(registry, unique_repo, "3.0", [amd, arm])
    board = board_on(registry, unique_repo.split("/")[0])
    table = board.image_table
    table.select(f"{registry.host}/{unique_repo}:3.0")
    table.inspect_button.click()
    board.wait(TIMEOUT)
    shown = table.output.value
    for child in (amd, arm):
        assert child.layers[0].digest in shown
    assert "platform linux/arm64/v8:" in shown
    oracle = get_manifest(registry, unique_repo, "3.0")
    assert json.dumps(json.loads(oracle.data), indent=2) in shown
    assert shown.count("manifest (") == 1


def test_with_the_security_column_bytes_stay_hidden_and_size_sorts_by_them(registry,
                                                                           unique_repo):
    push_image(registry, unique_repo, "1.0", layer_sizes=(500,), seed="cols",
               labels={"a": "b"})
    board = board_on(registry, unique_repo.split("/")[0])
    table = board.image_table.table
    columns = list(table.df.columns)
    defs = table._dt_args["columnDefs"]
    hidden = [i for d in defs if d.get("visible") is False for i in d["targets"]]
    # Hidden: the bytes "size" sorts by, and the version order "tag" sorts by.
    assert sorted(hidden) == sorted([columns.index("bytes"), columns.index("tag order")])
    assert any(d.get("orderData") == [columns.index("bytes")]
               and d["targets"] == [columns.index("size")] for d in defs), defs
    assert columns.index("security") < columns.index("labels")


def _find(widget, css: str):
    """The first widget inside ``widget`` carrying the CSS class ``css``."""
    if css in getattr(widget, "_dom_classes", ()):
        return widget
    for child in getattr(widget, "children", ()):
        found = _find(child, css)
        if found is not None:
            return found
    return None


def test_files_and_diff_sections_read_the_image_only_when_asked(registry, unique_repo):
    from tests.test_contents import layer

    base = layer(("f", "etc/conf", b"v1"))
    push_image(registry, unique_repo, "1.0", layers=[base])
    new = push_image(registry, unique_repo, "1.1",
                     layers=[base, layer(("f", "etc/new", b"n"), ("f", "app/run", b"go"))])
    board = board_on(registry, unique_repo.split("/")[0])
    view = open_details(board, new.reference)
    files_tab = view.tabs.children[view.tabs.titles.index("Files")]
    assert "/etc/new" not in section(view, "Files")  # nothing read until List files
    _find(files_tab, "rw-files-list").click()
    listed = section(view, "Files")
    for path in ("/etc/conf", "/etc/new", "/app/run"):
        assert path in listed
    diff_tab = view.tabs.children[view.tabs.titles.index("Diff")]
    _find(diff_tab, "rw-diff-tag").value = "1.0"
    _find(diff_tab, "rw-diff-compare").click()
    assert "/etc/new" in section(view, "Diff") and "/etc/conf" not in section(view, "Diff")


def test_an_artifact_shows_its_files_to_pull_not_a_filesystem(registry, unique_repo, tmp_path):
    from registry_widgets import push_artifact

    model = tmp_path / "model.onnx"
    model.write_bytes(b"weights" * 100)
    ref = f"{registry.host}/{unique_repo}:v1"
    push_artifact(ref, [model], artifact_type="application/vnd.example.model.v1")
    board = board_on(registry, unique_repo.split("/")[0])
    view = open_details(board, ref)
    shown = section(view, "Files")
    assert "model.onnx" in shown
    assert _find(view.tabs.children[view.tabs.titles.index("Files")], "rw-artifact-pull")
    # The registry's own record of what was pushed (raw HTTP), not the package's listing.
    oracle = json.loads(get_manifest(registry, unique_repo, "v1").data)
    assert oracle["artifactType"] == "application/vnd.example.model.v1"
    assert oracle["layers"][0]["annotations"]["org.opencontainers.image.title"] == "model.onnx"
