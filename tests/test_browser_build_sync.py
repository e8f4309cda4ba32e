"""The Build and Sync tabs driven in a real browser at 1280x800 (issue 25: "each tab driven in
the browser tests"): ``notebooks/10_dashboard.ipynb`` served by Voila, driven by headless
Chromium as a person would, and what they wrote read back over raw HTTP, never through the
package.

The server fixtures and page helpers are ``test_browser``'s (this module gets its own
registry and Voila).
"""

from __future__ import annotations

import json
import secrets

import docker
import pytest

from tests.support import get_blob, get_manifest, list_repositories, list_tags
from tests.test_browser import (TIMEOUT, browser, chromium_missing, choose_namespace,  # noqa: F401
                                dashboard, demo_registry, failing, idle, no_error,
                                open_dashboard, tab)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium_missing() is not None,
                                 reason=f"browser tests: {chromium_missing()}")]


def test_sync_previews_then_applies_exactly_that_plan(dashboard, demo_registry, browser,
                                                       tmp_path) -> None:
    """Sync tab: Apply stays disabled until a Preview; the preview lists the one tag the
    regex picks; Apply copies it (same digest) and nothing else; a field changed after the
    Preview disables Apply again."""
    from playwright.sync_api import expect

    reg, pushed = demo_registry
    mirror = f"mirror-{secrets.token_hex(3)}"
    page, board = open_dashboard(browser, dashboard)
    try:
        choose_namespace(board, "acme")
        tab(board, "Sync")
        panel = board.locator(".rw-sync-panel")
        apply = panel.locator("button.rw-sync-apply")
        expect(apply).to_be_disabled(timeout=TIMEOUT)  # nothing previewed yet
        panel.locator(".rw-sync-source input").fill(f"{reg.host}/acme")
        panel.locator(".rw-sync-target input").fill(f"{reg.host}/{mirror}")
        panel.locator(".rw-sync-tags input").fill("^3[.]5[.]0$")
        panel.locator("button.rw-sync-preview").click()
        idle(board)
        no_error(panel)
        rows = panel.locator(".rw-sync-table")
        expect(rows).to_contain_text("3.5.0", timeout=TIMEOUT)
        expect(apply).to_be_enabled(timeout=TIMEOUT)
        assert not [r for r in list_repositories(reg) if r.startswith(f"{mirror}/")], \
            "a Preview wrote to the registry"

        # A field changed after the Preview: the plan on screen is not what Apply would do.
        panel.locator(".rw-sync-tags input").fill("^3[.]")
        expect(apply).to_be_disabled(timeout=TIMEOUT)
        panel.locator(".rw-sync-tags input").fill("^3[.]5[.]0$")
        expect(apply).to_be_enabled(timeout=TIMEOUT)

        apply.click()
        idle(board)
        no_error(panel)
    except Exception:
        failing(page, dashboard, tmp_path)
        raise
    finally:
        page.context.close()
    copied = {repo: sorted(list_tags(reg, repo)) for repo in list_repositories(reg)
              if repo.startswith(f"{mirror}/")}
    assert copied == {f"{mirror}/web": ["3.5.0"]}
    assert get_manifest(reg, f"{mirror}/web", "3.5.0").digest == \
        pushed[f"{reg.host}/acme/web:3.5.0"]


def test_build_with_a_label_then_push_into_the_chosen_namespace(
        dashboard, demo_registry, browser, docker_client, base_image, tmp_path) -> None:
    """Build tab: the target follows the chosen namespace; Build with a label and a test run,
    then Push; the registry holds the image, and its config (read over raw HTTP) carries the
    label typed in the Labels box."""
    from playwright.sync_api import expect

    reg, _ = demo_registry
    word = secrets.token_hex(3)
    name, namespace = f"built-{word}", "acme"
    context = tmp_path / "app"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {base_image}\nCMD [\"true\"]\n")
    target = f"{reg.host}/{namespace}/{name}:1"
    page, board = open_dashboard(browser, dashboard)
    try:
        choose_namespace(board, namespace)
        tab(board, "Build")
        panel = board.locator(".rw-build-panel")
        panel.locator(".rw-build-context input").fill(str(context))
        panel.locator(".rw-build-name input").fill(f"{name}:1")
        panel.locator(".rw-build-labels input").fill(f"org.example.built-by=browser-{word}")
        expect(panel.locator(".rw-build-target")).to_contain_text(target, timeout=TIMEOUT)
        panel.locator("button.rw-build-build").click()
        idle(board)
        no_error(panel)
        docker_client.images.get(target)  # built, under the name the target showed
        panel.locator("button.rw-build-push").click()
        idle(board)
        no_error(panel)
        expect(panel.locator(".rw-message .rw-status")).to_contain_text(
            "push", timeout=TIMEOUT)
    except Exception:
        failing(page, dashboard, tmp_path)
        raise
    finally:
        page.context.close()
        try:
            docker_client.images.remove(target, force=True)
        except docker.errors.APIError:
            pass
    manifest = json.loads(get_manifest(reg, f"{namespace}/{name}", "1").data)
    config = json.loads(get_blob(reg, f"{namespace}/{name}", manifest["config"]["digest"]))
    assert config["config"]["Labels"]["org.example.built-by"] == f"browser-{word}"
