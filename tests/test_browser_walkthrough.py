"""A walkthrough of every tab of the dashboard in a real browser at 1280×800 (issue 25's
"Done when"): each tab is opened, its buttons that only read or plan are pressed (and a few
with their boxes empty, to bring up their errors), and what the page shows must never speak
Python: no name right before "(" (a call such as ``restore(result)``) and no ``=True`` or
``=False``.

It reuses test_browser's registry, Voila server and page helpers (the fixtures are imported
from that module, so this module gets its own registry and server).
"""

from __future__ import annotations

import re

import pytest

from tests.test_browser import (ROOT, TIMEOUT, browser, chromium_missing,  # noqa: F401
                                choose_namespace, dashboard, demo_registry, failing, idle,
                                open_dashboard, screenshot)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium_missing() is not None,
                                 reason=f"browser tests: {chromium_missing()}")]

PYTHON = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\(|=True\b|=False\b")

# Per tab: the buttons pressed there, in order (CSS classes); each only reads, plans or is
# refused for an empty box. Nothing here deletes or writes.
TABS = {
    "Images": ["rw-img-refresh", "rw-img-inspect"],
    "Build": ["rw-build-build"],
    "Clean up": ["rw-cleanup-preview", "rw-cleanup-prune-preview", "rw-gc-preview",
                 "rw-usage-show", "rw-policy-save"],
    "Sync": ["rw-sync-preview"],
    "Scan": [],
    "Trash": [],
    "Log in": ["rw-login-button", "rw-login-refresh"],
}


def python_in(text: str) -> list[str]:
    return PYTHON.findall(text)


def test_every_tab_at_1280_speaks_the_dashboards_words(dashboard, demo_registry, browser,
                                                       tmp_path) -> None:
    from playwright.sync_api import expect

    page, board = open_dashboard(browser, dashboard, width=1280, height=800)
    seen: dict[str, str] = {}
    try:
        choose_namespace(board, "acme")
        tabs = board.locator(".rw-tabs .lm-TabBar-tab")
        titles = [t.strip() for t in tabs.all_inner_texts()]
        assert set(TABS) <= set(titles), titles
        for title in titles:
            board.locator(".rw-tabs .lm-TabBar-tab", has_text=title).first.click()
            idle(board)
            for css in TABS.get(title, []):
                button = board.locator(f"button.{css}").first
                expect(button).to_be_visible(timeout=TIMEOUT)
                if button.is_enabled():
                    button.click()
                    idle(board)
                seen[f"{title} after {css}"] = board.inner_text()
            seen[title] = board.inner_text()
            page.screenshot(path=str(tmp_path / f"tab-{title.replace(' ', '-')}.png"))
        # every message area that said something, whatever the tab shows now
        messages = board.locator(".rw-message").all_inner_texts()
        seen["messages"] = "\n".join(messages)
    except Exception:
        failing(page, dashboard, tmp_path)
        raise
    finally:
        page.context.close()
    assert any(m.strip() for m in messages), "no widget said anything: the walk did nothing"
    bad = {where: python_in(text) for where, text in seen.items() if python_in(text)}
    assert not bad, f"the page speaks Python: {bad}"


def test_the_scan_tab_shows_the_samples_findings_and_clean_up_its_sections(
        dashboard, demo_registry, browser, tmp_path) -> None:
    """What a learner sees after `make lab`: the seeded Debian sample scanned against the
    bundled advisories shows real findings (CVE-2023-32681 in requests 2.28.1, fixed in
    2.31.0), and the Clean up tab previews retention on the sample namespace. With
    ``UPDATE_SCREENSHOT=1`` these are README's docs/scan-1280x800.png and
    docs/cleanup-1280x800.png."""
    from playwright.sync_api import expect

    from devstack.images import seed_sample

    reg, _ = demo_registry
    seed_sample(reg)  # demo/app, demo/debian-app:1.0, demo/alpine-app:1.0
    page, board = open_dashboard(browser, dashboard, width=1280, height=800)
    try:
        choose_namespace(board, "demo")
        board.locator(".rw-tabs .lm-TabBar-tab", has_text="Scan").first.click()
        board.locator(".rw-scan-image input").fill(f"{reg.host}/demo/debian-app:1.0")
        board.locator(".rw-scan-feed input").fill(str(ROOT / "notebooks" / "osv-demo"))
        board.locator("button.rw-scan-scan").click()
        idle(board)
        findings = board.locator(".rw-scan-findings")
        expect(findings).to_contain_text("GHSA-j8r2-6x86-q33q", timeout=TIMEOUT)
        expect(findings).to_contain_text("2.31.0")
        expect(board.locator(".rw-scan-summary")).to_contain_text("issue")
        screenshot(page, "scan-1280x800.png", tmp_path)
        scan_text = board.inner_text()

        board.locator(".rw-tabs .lm-TabBar-tab", has_text="Clean up").first.click()
        board.locator("button.rw-cleanup-preview").first.click()
        idle(board)
        screenshot(page, "cleanup-1280x800.png", tmp_path)
        cleanup_text = board.inner_text()
    except Exception:
        failing(page, dashboard, tmp_path)
        raise
    finally:
        page.context.close()
    assert not python_in(scan_text) and not python_in(cleanup_text)
