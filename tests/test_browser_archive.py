"""The Images tab's "Export to archive" and "Import archive" in a real browser.

The same page, Voila server, registry and helpers as ``test_browser`` (imported from it, not
copied): Chromium selects a row, exports it to an oci-archive on the Jupyter server's disk
(read back by skopeo), then imports that archive into another namespace, plan first, and
the registry is read back over raw HTTP.
"""

from __future__ import annotations

import hashlib
import re
import subprocess

from tests.support import get_manifest, list_repositories
from tests.test_browser import (NAMESPACE, TIMEOUT, browser, choose_namespace,  # noqa: F401
                                dashboard, demo_registry, failing, idle, no_error,
                                open_dashboard, pytestmark, select_row)

REPOSITORY, TAG = "acme/web", "3.5.0"


def skopeo_digest(transport_ref: str) -> str:
    raw = subprocess.run(["skopeo", "inspect", "--raw", transport_ref], check=True,
                         capture_output=True, timeout=60).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def test_export_a_selected_image_then_import_it_plan_first(dashboard, demo_registry,  # noqa: F811
                                                           browser, tmp_path) -> None:
    from playwright.sync_api import expect

    reg, pushed = demo_registry
    digest = pushed[f"{reg.host}/{REPOSITORY}:{TAG}"]
    archive = tmp_path / "carried.tar"
    page, board = open_dashboard(browser, dashboard)
    try:
        panel = board.locator(".rw-archive-panel")
        grid = board.locator(".rw-image-table .rw-image-grid")
        choose_namespace(board, NAMESPACE)
        expect(panel.locator(".rw-export-what")).to_contain_text(
            f"whole namespace {reg.host}/{NAMESPACE}", timeout=TIMEOUT)
        select_row(grid, REPOSITORY, TAG)
        expect(panel.locator(".rw-export-what")).to_contain_text(
            f"1 selected image(s): {reg.host}/{REPOSITORY}:{TAG}", timeout=TIMEOUT)

        panel.locator(".rw-export-path input").fill(str(archive))
        panel.locator("button.rw-export-archive").click()
        idle(board)
        expect(panel.locator(".rw-message .rw-status")).to_contain_text(
            f"Exported 1 copied to {archive}", timeout=TIMEOUT)
        no_error(panel)
        assert skopeo_digest(f"oci-archive:{archive}:web:{TAG}") == digest

        panel.locator(".rw-import-path input").fill(str(archive))
        panel.locator(".rw-import-target input").fill(f"{reg.host}/carried")
        apply = panel.locator("button.rw-import-apply")
        expect(apply).to_be_disabled()
        panel.locator("button.rw-import-archive").click()
        idle(board)
        expect(panel.locator(".rw-message .rw-status")).to_contain_text(
            "1 to copy", timeout=TIMEOUT)
        expect(panel.locator(".rw-archive-table")).to_contain_text(
            f"{reg.host}/carried/web:{TAG}")
        assert "carried/web" not in list_repositories(reg)  # the plan wrote nothing
        expect(apply).to_be_enabled(timeout=TIMEOUT)
        apply.click()
        idle(board)
        expect(panel.locator(".rw-message .rw-status")).to_contain_text(
            re.compile(r"Imported: 1 copied"), timeout=TIMEOUT)
        no_error(panel)
    except Exception:
        failing(page, dashboard, tmp_path)
        raise
    finally:
        page.context.close()
    assert get_manifest(reg, "carried/web", TAG).digest == digest
