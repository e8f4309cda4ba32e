"""The dashboard in a real browser: ``notebooks/10_dashboard.ipynb`` served by Voila, driven
by headless Chromium as a person would, against a real registry read back over raw HTTP.

One registry and one Voila for the module (the notebook's kernel reads the registry from
``REGISTRY_WIDGETS_REGISTRY`` when it starts, so both must exist before the page opens);
journals, caches and Docker credentials of that kernel live in the module's temporary folder.
Chromium is Debian's (``/usr/bin/chromium``, never ``playwright install``) and reaches
loopback only; see shared/BROWSER-TESTS.md. The tests skip when there is no Chromium
(``scripts/install --no-browser``).

``UPDATE_SCREENSHOT=1`` also writes the screenshot taken on the way to ``docs/dashboard.png``,
the README's picture.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Iterator

import pytest

from registry_widgets.stack import LocalRegistry
from tests.support import (get_manifest, list_repositories, list_tags, push_image, seed_sample,
                           start_registry)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks.render_bench import (chromium, chromium_missing, measure_render,  # noqa: E402
                                     new_page, voila)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium_missing() is not None,
                                 reason=f"browser tests: {chromium_missing()}")]

NOTEBOOK = ROOT / "notebooks" / "10_dashboard.ipynb"
SCREENSHOT = ROOT / "docs" / "dashboard.png"
TIMEOUT = 45_000  # ms, for every wait: a cold kernel on a busy CI machine is slow

NAMESPACE = "acme"
TARGET = ("acme/api", "2.0")  # removed by the test
CO_TAG = "stable"  # the same digest as TARGET: must survive


# -- the registry -----------------------------------------------------------------------------

def seed_demo(registry: LocalRegistry) -> dict[str, str]:
    """The ``make lab`` sample plus a namespace that looks lived in; {reference: digest}.
    Everything is seeded and dated, so every push gives the same digests."""
    pushed = dict(seed_sample(registry))

    def push(repository: str, tags: tuple[str, ...], version: str, created: str,
             sizes: tuple[int, ...]) -> None:
        digests = {push_image(registry, repository, tag, layer_sizes=sizes,
                              seed=f"{repository}-{version}", created=created,
                              labels={"org.opencontainers.image.version": version,
                                      "org.opencontainers.image.vendor": "ACME"}).digest
                   for tag in tags}
        assert len(digests) == 1, f"co-tags {tags} of {repository} got different digests"
        digest = digests.pop()
        pushed.update({f"{registry.host}/{repository}:{tag}": digest for tag in tags})

    push("acme/api", ("1.0",), "1.0", "2024-04-02T10:15:00Z", (2_400_000, 310_000))
    push("acme/api", ("1.1",), "1.1", "2024-05-06T16:40:00Z", (2_400_000, 334_000))
    push("acme/api", ("2.0", "stable"), "2.0", "2024-06-03T09:05:00Z", (2_600_000, 402_000))
    push("acme/web", ("3.4.0",), "3.4.0", "2024-05-20T11:00:00Z", (1_900_000, 840_000))
    push("acme/web", ("3.5.0", "latest"), "3.5.0", "2024-06-11T14:30:00Z", (1_900_000, 871_000))
    push("acme/worker", ("0.9.1",), "0.9.1", "2024-06-12T08:20:00Z", (3_100_000,))
    return pushed


def all_tags(registry: LocalRegistry) -> dict[str, list[str]]:
    """{repository: sorted tags} over raw HTTP (the oracle, not the package)."""
    return {repo: sorted(list_tags(registry, repo)) for repo in list_repositories(registry)}


@pytest.fixture(scope="module")
def demo_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRegistry, dict]]:
    reg = start_registry("plain", state_dir=tmp_path_factory.mktemp("browser-registry"),
                         name="browser-registry")
    try:
        yield reg, seed_demo(reg)
    finally:
        reg.close()


@pytest.fixture(scope="module")
def dashboard(demo_registry, tmp_path_factory: pytest.TempPathFactory):
    """Voila serving the dashboard notebook for the module's registry."""
    reg, _ = demo_registry
    home = tmp_path_factory.mktemp("voila-kernel")
    env = {"REGISTRY_WIDGETS_REGISTRY": reg.host}
    for name in ("REGISTRY_WIDGETS_STATE", "XDG_CACHE_HOME", "DOCKER_CONFIG"):
        (home / name).mkdir()
        env[name] = str(home / name)
    with voila(NOTEBOOK, env=env, log_file=home / "voila.log") as server:
        yield server


@pytest.fixture
def browser():
    # Per test: Playwright's sync API runs one instance per thread at a time, and
    # measure_render starts its own.
    with chromium() as b:
        yield b


# -- the page ---------------------------------------------------------------------------------

def exact(text: str) -> re.Pattern:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


def row_of(grid, **cells: str):
    """The row of an itables grid whose cells (by column index in the page) read exactly
    these texts: ``row_of(grid, c0="acme/api", c1="2.0")``."""
    rows = grid.locator("tbody tr")
    for key, text in cells.items():
        rows = rows.filter(has=grid.page.locator(f"td:nth-child({int(key[1:]) + 1})",
                                                 has_text=exact(text)))
    return rows


def no_error(panel) -> None:
    """Fail with the widget's own red message, if it shows one."""
    errors = panel.locator(".rw-message .rw-error")
    if errors.count():
        pytest.fail(f"the widget shows an error: {errors.first.inner_text()}")


def test_remove_tag_from_the_dashboard(dashboard, demo_registry, browser, tmp_path) -> None:
    from playwright.sync_api import expect

    reg, pushed = demo_registry
    repository, tag = TARGET
    target_digest = pushed[f"{reg.host}/{repository}:{tag}"]
    assert pushed[f"{reg.host}/{repository}:{CO_TAG}"] == target_digest
    before = all_tags(reg)
    assert {tag, CO_TAG} <= set(before[repository])

    page = new_page(browser, width=1400, height=900)
    try:
        page.goto(dashboard.url, timeout=TIMEOUT)
        board = page.locator(".rw-dashboard")
        expect(board).to_be_visible(timeout=TIMEOUT)
        dashboard.note_kernels()

        # Choose the namespace: the image table follows.
        namespaces = board.locator(".rw-namespace-grid")
        ns_row = row_of(namespaces, c0=NAMESPACE)
        expect(ns_row).to_have_count(1, timeout=TIMEOUT)
        ns_row.locator("td").first.click()
        expect(ns_row).to_have_class(re.compile(r"\bselected\b"), timeout=TIMEOUT)

        images = board.locator(".rw-image-table")
        grid = images.locator(".rw-image-grid")
        expect(images.locator(".rw-img-title")).to_have_text(
            f"Images in {reg.host}/{NAMESPACE}", timeout=TIMEOUT)
        in_namespace = sum(len(tags) for repo, tags in before.items()
                           if repo.startswith(f"{NAMESPACE}/"))
        expect(grid.locator("tbody tr")).to_have_count(in_namespace, timeout=TIMEOUT)
        expect(grid.locator("tbody tr td:first-child")).to_have_text(
            [re.compile(rf"^{NAMESPACE}/")] * in_namespace)
        no_error(images)

        # Select the target's row.
        target_row = row_of(grid, c0=repository, c1=tag)
        expect(target_row).to_have_count(1)
        target_row.locator("td").first.click()
        expect(target_row).to_have_class(re.compile(r"\bselected\b"), timeout=TIMEOUT)
        expect(grid.locator("tbody tr.selected")).to_have_count(1)

        board.screenshot(path=str(tmp_path / "dashboard.png"))
        if os.environ.get("UPDATE_SCREENSHOT") == "1":
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp_path / "dashboard.png", SCREENSHOT)

        # Remove tag: the plan first, nothing deleted.
        images.locator("button.rw-img-remove-tag").click()
        plan = images.locator(".rw-img-plan textarea")
        expect(plan).to_be_visible(timeout=TIMEOUT)
        expect(plan).to_have_value(re.compile("Nothing has been deleted yet"), timeout=TIMEOUT)
        no_error(images)
        text = plan.input_value()
        assert f"Remove tag {reg.host}/{repository}:{tag}\n" in text, text
        assert re.search(rf"keeps:\s+tags {re.escape(CO_TAG)} \(same digest\)", text), text
        assert f"Tags that go: {repository}:{tag}\n" in text, text
        assert all_tags(reg) == before, "the plan deleted something"

        # Confirm: exactly that tag goes.
        images.locator("button.rw-img-confirm").click()
        status = images.locator(".rw-message .rw-status")
        expect(status).to_contain_text(f"remove {reg.host}/{repository}:{tag}", timeout=TIMEOUT)
        no_error(images)
        expect(plan).to_be_hidden()
        expect(target_row).to_have_count(0, timeout=TIMEOUT)
        expect(row_of(grid, c0=repository, c1=CO_TAG)).to_have_count(1)
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        print(f"screenshot: {tmp_path / 'failure.png'}\nVoila's log:\n{dashboard.log()}")
        raise
    finally:
        page.context.close()

    after = all_tags(reg)
    expected = dict(before, **{repository: sorted(set(before[repository]) - {tag})})
    assert after == expected
    # The image itself is still there, under its co-tag and by digest.
    assert get_manifest(reg, repository, CO_TAG).digest == target_digest
    assert get_manifest(reg, repository, target_digest).digest == target_digest


def test_render_bench_runs_tiny() -> None:
    result = measure_render(50, runs=1)
    for key in ("build_s", "render_s", "kernel_build_s", "refresh_s"):
        assert isinstance(result[key], float) and math.isfinite(result[key]) and result[key] > 0
    assert result["rows"] == 50 and len(result["render_runs"]) == 1
