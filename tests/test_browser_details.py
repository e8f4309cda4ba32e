"""The Details and Local images tabs in a real browser at 1280x800: ``notebooks/
10_dashboard.ipynb`` served by Voila, driven by headless Chromium as a person would, checked
against the registry over raw HTTP and the engine through the Docker SDK.

The server fixtures and page helpers are ``test_browser``'s (this module gets its own
registry and Voila). ``UPDATE_SCREENSHOT=1`` writes ``docs/details-1280x800.png`` (the
detail view of a scanned image) and ``docs/local-images-1280x800.png``.
"""

from __future__ import annotations

import json
import re
import secrets

import docker
import pytest

from tests.scan_images import OSV, alpine_layers, push
from tests.support import get_manifest
from tests.test_browser import (TIMEOUT, browser, chromium_missing, choose_namespace,  # noqa: F401
                                dashboard, demo_registry, exact, failing, idle, no_error,
                                open_dashboard, row_of, screenshot, select_row, tab)
from tests.test_local_panel import commit

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium_missing() is not None,
                                 reason=f"browser tests: {chromium_missing()}")]

NAMESPACE = "tutorial"
INDEX = ("tutorial/multiarch", "1.0")  # make lab's multi-arch sample
SCANNED = ("tutorial/alpine", "3.19.1")  # pushed here: an Alpine package database


def section(view, title: str):
    view.locator(".rw-dt-sections .lm-TabBar-tab", has_text=exact(title)).click()


def test_details_from_a_row_and_from_the_security_column_with_a_scan(
        dashboard, demo_registry, browser, tmp_path) -> None:
    """Details of a multi-arch index show every platform and the manifest indented; a click
    in the Security column opens another image, whose Scan there gives coloured counts by
    severity, which the column then shows too, in view at 1280 px."""
    from playwright.sync_api import expect

    reg, pushed = demo_registry
    alpine = push(reg, *SCANNED, alpine_layers())
    index = get_manifest(reg, *INDEX)
    page, board = open_dashboard(browser, dashboard)
    console = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    try:
        images = board.locator(".rw-image-table")
        grid = images.locator(".rw-image-grid")
        choose_namespace(board, NAMESPACE)
        expect(grid.locator("tbody tr")).to_have_count(
            len([r for r in pushed if f"/{NAMESPACE}/" in r]) + 1, timeout=TIMEOUT)
        view = board.locator(".rw-detail-view")

        # From a row: its Details button.
        select_row(grid, *INDEX)
        images.locator("button.rw-img-details").click()
        idle(board)
        no_error(view)
        expect(view.locator(".rw-dt-title")).to_contain_text(
            f"{reg.host}/{INDEX[0]}:{INDEX[1]}", timeout=TIMEOUT)
        section(view, "Platforms")
        platforms = view.locator(".rw-dt-platforms")
        for child in json.loads(index.data)["manifests"]:
            expect(platforms).to_contain_text(child["digest"][:19])
        expect(platforms).to_contain_text("linux/amd64")
        expect(platforms).to_contain_text("linux/arm64/v8")
        section(view, "Manifest")
        manifest = view.locator(".rw-dt-manifest-json")
        assert manifest.inner_text().count("\n") > 10  # indented, not one raw line

        # The Scan tab's feed is what Scan in the details uses.
        tab(board, "Scan")
        board.locator(".rw-scan-feed input").fill(str(OSV))
        tab(board, "Images")

        # From the Security column: a click there opens that image's details.
        row = row_of(grid, c0=SCANNED[0], c1=SCANNED[1])
        expect(row).to_have_count(1, timeout=TIMEOUT)
        cell = row.locator("a.rw-sec-link")
        expect(cell).to_have_text("not scanned")
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280, box
        cell.click()
        idle(board)
        expect(view.locator(".rw-dt-title")).to_contain_text(alpine["reference"],
                                                             timeout=TIMEOUT)
        section(view, "Vulnerabilities")
        view.locator("button.rw-dt-scan").click()
        idle(board)
        no_error(view)
        badges = view.locator(".rw-dt-findings .rw-sev")
        expect(badges.first).to_be_visible(timeout=TIMEOUT)
        counts = badges.all_inner_texts()
        assert counts and all(re.fullmatch(r"\d+ (critical|high|medium|low|unknown)", c)
                              for c in counts), counts
        screenshot(page, "details-1280x800.png", tmp_path)

        tab(board, "Images")
        cell = row_of(grid, c0=SCANNED[0], c1=SCANNED[1]).locator("a.rw-sec-link")
        expect(cell.locator(".rw-sev")).to_have_count(len(counts), timeout=TIMEOUT)
        assert cell.locator(".rw-sev").all_inner_texts() == counts
        colour = cell.locator(".rw-sev").first.evaluate(
            "e => getComputedStyle(e).backgroundColor")
        assert colour not in ("rgba(0, 0, 0, 0)", "transparent"), colour
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280, box
    except Exception:
        failing(page, dashboard, tmp_path)
        print("the browser's console:\n" + "\n".join(console[-40:]))
        raise
    finally:
        page.context.close()
    assert get_manifest(reg, *SCANNED).digest == alpine["digest"]  # read, never written


def test_local_images_prune_dangling_plan_then_apply_and_push_a_picked_image(
        dashboard, demo_registry, browser, docker_client, base_image, tmp_path) -> None:
    """The Local images tab: Prune shows its plan (the dangling image), Apply removes it;
    Push takes the selected image, shows its target and sends it to the chosen namespace."""
    from playwright.sync_api import expect

    reg, _ = demo_registry
    word = secrets.token_hex(3)
    name = f"rw-browser-{word}"
    dangling = commit(docker_client, base_image, None, f"dangling-{word}")
    named = commit(docker_client, base_image, f"{name}:1", f"named-{word}")
    target = f"{reg.host}/{NAMESPACE}/{name}:1"
    page, board = open_dashboard(browser, dashboard)
    try:
        choose_namespace(board, NAMESPACE)
        tab(board, "Local images")
        local = board.locator(".rw-local-panel")
        local.locator("button.rw-local-refresh").click()  # the images made just now
        idle(board)
        no_error(local)
        grid = local.locator(".rw-local-grid")
        expect(row_of(grid, c0=name, c1="1")).to_have_count(1, timeout=TIMEOUT)

        local.locator("button.rw-local-prune").click()
        idle(board)
        plan = local.locator(".rw-local-plan textarea")
        expect(plan).to_have_value(re.compile("Nothing has been removed yet"), timeout=TIMEOUT)
        assert dangling[:19] in plan.input_value()
        assert name not in plan.input_value()  # tagged: only "and unused" would take it
        docker_client.images.get(dangling)  # still there: a plan removes nothing
        local.locator("button.rw-local-confirm").click()
        idle(board)
        no_error(local)
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(dangling)
        # The grid is drawn again without it before a row is picked: a click on the old
        # grid would name the row now at that position.
        expect(row_of(grid, c2=dangling[:19])).to_have_count(0, timeout=TIMEOUT)

        select_row(grid, name, "1")
        expect(local.locator(".rw-local-target")).to_contain_text(target, timeout=TIMEOUT)
        expect(local.locator(".rw-local-target")).to_contain_text("a new tag",
                                                                  timeout=TIMEOUT)
        idle(board)  # the check of the target is done: the buttons are enabled
        screenshot(page, "local-images-1280x800.png", tmp_path)
        local.locator("button.rw-local-push").click()
        idle(board)
        no_error(local)
        expect(local.locator(".rw-message .rw-status")).to_contain_text(f"push {target}",
                                                                         timeout=TIMEOUT)
    except Exception:
        failing(page, dashboard, tmp_path)
        raise
    finally:
        page.context.close()
        for image in (target, named, dangling):
            try:
                docker_client.images.remove(image, force=True)
            except docker.errors.APIError:
                pass
    assert get_manifest(reg, f"{NAMESPACE}/{name}", "1").digest.startswith("sha256:")
