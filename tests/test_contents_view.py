"""The detail-view pieces (``widgets/contents_view``), driven with ``Button.click()`` against
a real registry: Files (list, filter, download one), Diff against another tag, and an
artifact's files with Pull files. What they show and save is checked against the images'
known contents (written by hand, as in tests/test_contents.py)."""

from __future__ import annotations

import pytest

from registry_widgets.operations.core import clients
from registry_widgets.operations.images.artifacts import push_artifact
from registry_widgets.widgets.contents_view import artifact_view, diff_view, files_view
from tests.support import push_image
from tests.test_contents import layer


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def test_files_view_lists_filters_and_downloads(registry, unique_repo, tmp_path):
    image = push_image(registry, unique_repo, "v1", layers=[
        layer(("f", "etc/os-release", b"ID=test\n"), ("f", "app/main.py", b"print(1)\n"))])
    view = files_view(image.reference, folder=str(tmp_path))
    assert view.message.text == ""  # nothing is read until asked
    filt, listing = view.children[0].children
    table = view.children[1]
    filt.value = "/etc"
    listing.click()
    assert view.last_error is None
    assert "/etc/os-release" in table.value and "/app/main.py" not in table.value
    path, download = view.children[2].children
    download.click()
    assert "File box" in view.message.text and view.message.kind == "error"
    path.value = "/etc/os-release"
    download.click()
    assert (tmp_path / "os-release").read_bytes() == b"ID=test\n"
    path.value = "/nowhere"
    download.click()
    assert view.message.kind == "error" and "/nowhere is not in" in view.message.text
    assert "Press List files" in view.message.text and "files()" not in view.message.text
    path.value = "/etc"
    download.click()
    assert "/etc is a directory" in view.message.text and "files()" not in view.message.text
    assert view.message.text.count("Files:") == 1


def test_diff_view_compares_with_another_tag(registry, unique_repo):
    base = layer(("f", "etc/conf", b"v1"))
    push_image(registry, unique_repo, "1.0", layers=[base])
    new = push_image(registry, unique_repo, "1.1", layers=[base, layer(("f", "etc/new", b"n"))])
    view = diff_view(new.reference)
    other, compare = view.children[0].children
    compare.click()
    assert "Against tag" in view.message.text
    other.value = "1.0"
    compare.click()
    assert view.last_error is None
    assert "/etc/new" in view.children[1].value
    assert "files: 1 added" in view.message.text


def test_artifact_view_lists_and_pulls(registry, unique_repo, tmp_path):
    model = tmp_path / "weights.bin"
    model.write_bytes(b"\x00\x01weights")
    ref = f"{registry.host}/{unique_repo}:model"
    push_artifact(ref, model, artifact_type="application/vnd.example.model.v1")
    view = artifact_view(ref, folder=str(tmp_path / "pulled"))
    assert "weights.bin" in view.children[0].value
    view.children[1].children[1].click()
    assert view.last_error is None, view.message.text
    assert (tmp_path / "pulled" / "weights.bin").read_bytes() == b"\x00\x01weights"


def test_the_image_table_has_an_artifact_type_column(registry, unique_repo, tmp_path):
    import json

    from registry_widgets.reference import namespace_of
    from registry_widgets.widgets import ImageTable
    from tests.test_widgets import assert_ok, ready

    model = tmp_path / "weights.bin"
    model.write_bytes(b"w")
    push_artifact(f"{registry.host}/{unique_repo}:model", model,
                  artifact_type="application/vnd.example.model.v1")
    push_image(registry, unique_repo, "app")
    table = ready(ImageTable(registry.host, namespace_of(unique_repo)))
    assert_ok(table)
    rows = json.loads(table.table._dt_args["data_json"])
    # repository, tag, digest, platforms, artifact type, ...
    assert [(r[1], r[3], r[4]) for r in rows] == [
        ("app", "linux/amd64", ""), ("model", "", "application/vnd.example.model.v1")]


def test_the_details_of_an_artifact_row_name_its_type():
    from registry_widgets.widgets.tables import inspect_text

    row = {"reference": "r.io/ns/model:v1", "digest": "sha256:" + "a" * 64,
           "media_type": "application/vnd.oci.image.manifest.v1+json", "platforms": [],
           "size": 10, "artifact_type": "application/vnd.example.model.v1"}
    text = inspect_text(row)
    assert "artifact:   application/vnd.example.model.v1" in text and "unknown" not in \
        text.split("created")[0]
    assert "platforms:  linux/amd64" in inspect_text({**row, "artifact_type": "",
                                                      "platforms": ["linux/amd64"]})
