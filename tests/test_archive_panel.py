"""The Images tab's "Export to archive" and "Import archive", driven without a browser.

The dashboard runs on real registries; the archive it writes is read by skopeo, and what the
import writes is read back with the raw-HTTP oracle.
"""

from __future__ import annotations

import hashlib
import secrets
import subprocess

import pytest

from registry_widgets.widgets.dashboard import Dashboard
from tests.support.images import push_image
from tests.support.oracle import get_manifest, list_repositories

pytest_plugins = ["faults_fixtures"]  # fresh clients for every test


def skopeo_digest(transport_ref: str) -> str:
    raw = subprocess.run(["skopeo", "inspect", "--raw", transport_ref], check=True,
                         capture_output=True, timeout=60).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.fixture
def team(registry):
    ns = f"arch-{secrets.token_hex(3)}"
    one = push_image(registry, f"{ns}/app", "1.0", layer_sizes=(9000,), seed=ns + "1")
    two = push_image(registry, f"{ns}/app", "2.0", layer_sizes=(9000,), seed=ns + "2")
    db = push_image(registry, f"{ns}/db", "1.0", layer_sizes=(7000,), seed=ns + "db")
    return {"ns": ns, "app:1.0": one, "app:2.0": two, "db:1.0": db}


def browse(board: Dashboard, registry: str, namespace: str) -> None:
    board.image_table.browse(registry, namespace)
    board.wait(60)


def test_export_says_what_it_writes_then_import_shows_the_plan_and_applies_it(
        registry, registry_b, team, tmp_path):
    board = Dashboard([registry.host, registry_b.host], remember_added=False)
    panel = board.archive_panel
    browse(board, registry.host, team["ns"])
    assert f"whole namespace {registry.host}/{team['ns']}" in panel.export_what.value
    board.image_table.select(team["app:1.0"].reference, team["db:1.0"].reference)
    assert "2 selected image(s)" in panel.export_what.value

    archive = tmp_path / "carry" / "two.tar"
    panel.export_path.value = str(archive)
    panel.export_button.click()
    panel.wait(60)
    assert skopeo_digest(f"oci-archive:{archive}:app:1.0") == team["app:1.0"].digest
    assert skopeo_digest(f"oci-archive:{archive}:db:1.0") == team["db:1.0"].digest
    assert "app:2.0" not in str(panel.last_result.details["images"])  # not selected

    mirror = f"mirror-{secrets.token_hex(3)}"
    panel.import_path.value = str(archive)
    panel.import_target.value = f"{registry_b.host}/{mirror}"
    assert panel.apply_button.disabled  # no plan yet
    panel.import_button.click()
    panel.wait(60)
    assert "2 to copy" in panel.message.value and f"{mirror}/app:1.0" in panel.table.value
    assert not any(r.startswith(mirror) for r in list_repositories(registry_b))
    assert not panel.apply_button.disabled
    panel.apply_button.click()
    panel.wait(60)
    assert get_manifest(registry_b, f"{mirror}/app", "1.0").digest == team["app:1.0"].digest
    assert get_manifest(registry_b, f"{mirror}/db", "1.0").digest == team["db:1.0"].digest
    assert panel.last_result.details["from_plan"]


def test_export_of_the_namespace_with_no_row_selected_and_a_bad_archive_named_on_import(
        registry, registry_b, team, tmp_path):
    board = Dashboard([registry.host, registry_b.host], remember_added=False)
    panel = board.archive_panel
    browse(board, registry.host, team["ns"])
    archive = tmp_path / "ns.tar"
    panel.export_path.value = str(archive)
    panel.export_button.click()
    panel.wait(60)
    assert panel.last_result.details["counts"] == {"copied": 3}
    assert skopeo_digest(f"oci-archive:{archive}:app:2.0") == team["app:2.0"].digest

    cut = tmp_path / "cut.tar"
    cut.write_bytes(archive.read_bytes()[:20_000])
    panel.import_path.value = str(cut)
    panel.import_target.value = f"{registry_b.host}/elsewhere"
    panel.import_button.click()
    with pytest.raises(Exception, match="cut short"):
        panel.wait(60)
    assert "cut.tar" in panel.message.value and panel.apply_button.disabled


def test_cancel_of_an_export_leaves_no_archive(registry, team, tmp_path):
    board = Dashboard([registry.host], remember_added=False)
    panel = board.archive_panel
    browse(board, registry.host, team["ns"])
    archive = tmp_path / "stopped.tar"
    panel.export_path.value = str(archive)
    seen = panel.progress.update

    def press_cancel_when_copying(event):
        seen(event)
        if event.status == "copying":
            panel.cancel_action_button.click()  # what the Cancel button in the tab does

    panel.progress.update = press_cancel_when_copying
    panel.export_button.click()
    with pytest.raises(Exception, match="cancelled"):
        panel.wait(60)
    assert "cancelled" in panel.message.value
    assert not archive.exists() and not list(tmp_path.glob("*.partial"))
