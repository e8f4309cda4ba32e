"""The dashboard in a real browser: ``notebooks/10_dashboard.ipynb`` served by Voila, driven
by headless Chromium as a person would, against a real registry read back over raw HTTP.

One registry and one Voila for the module (the notebook's kernel reads the registry from
``REGISTRY_WIDGETS_REGISTRY`` when it starts, so both must exist before the page opens);
journals, caches and Docker credentials of that kernel live in the module's temporary folder.
Chromium is Debian's (``/usr/bin/chromium``, never ``playwright install``) and reaches
loopback only; see shared/BROWSER-TESTS.md. The tests skip when there is no Chromium
(``scripts/install --no-browser``).

``UPDATE_SCREENSHOT=1`` also writes the screenshots taken on the way to
``docs/dashboard-1280x800.png`` and ``docs/dashboard-1920x1080.png``, the README's pictures.

Each test opens its own page, so its own kernel and Dashboard; they share the registry and
the kernels' state folder (journal, remembered registries), and wait on the panels'
``rw-busy`` class instead of sleeping.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Iterator

import pytest

from devstack import LocalRegistry
from devstack._process import free_port
from tests.support import (RawClient, get_manifest, list_repositories, list_tags, push_image,
                           seed_sample, start_registry)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks.render_bench import (block_outside, chromium, chromium_missing,  # noqa: E402
                                     measure_render, voila)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium_missing() is not None,
                                 reason=f"browser tests: {chromium_missing()}")]

NOTEBOOK = ROOT / "notebooks" / "10_dashboard.ipynb"
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
        server.kernel_env = env
        yield server


@pytest.fixture(scope="module")
def token_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A token-auth registry that refuses anonymous users, with one image."""
    reg = start_registry("token", state_dir=tmp_path_factory.mktemp("browser-token"),
                         name="browser-token", grants={"alice": {"*": ["*"],
                                                                "registry:catalog": ["*"]}})
    try:
        push_image(reg, "team/app", "1.0", layer_sizes=(1000,), seed="token-demo")
        yield reg
    finally:
        reg.close()


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


def open_dashboard(browser, server, *, width: int = 1280, height: int = 800,
                   clipboard: bool = False):
    """A fresh page (and kernel) on the dashboard, once its first listings are done."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": height},
                                  permissions=["clipboard-read", "clipboard-write"]
                                  if clipboard else [], accept_downloads=True)
    context.route("**/*", block_outside)
    page = context.new_page()
    page.goto(server.url, timeout=TIMEOUT)
    board = page.locator(".rw-dashboard")
    expect(board).to_be_visible(timeout=TIMEOUT)
    server.note_kernels()
    idle(board)
    return page, board


def idle(board) -> None:
    """Wait until no panel carries ``rw-busy`` (an action is running)."""
    from playwright.sync_api import expect

    board.page.wait_for_timeout(200)  # a click's action may take a moment to start
    expect(board.locator(".rw-busy")).to_have_count(0, timeout=TIMEOUT)


def tab(board, title: str) -> None:
    """Open the dashboard's tab of that title."""
    board.locator(".rw-tabs > .lm-TabBar .lm-TabBar-tab", has_text=exact(title)).click()


def choose_namespace(board, namespace: str) -> None:
    from playwright.sync_api import expect

    row = row_of(board.locator(".rw-namespace-grid"), c0=namespace)
    expect(row).to_have_count(1, timeout=TIMEOUT)
    # A namespace of the same name stays chosen when the registry changes: a click on a
    # selected row would unselect it.
    if "selected" not in (row.get_attribute("class") or ""):
        row.locator("td").first.click()
    expect(row).to_have_class(re.compile(r"\bselected\b"), timeout=TIMEOUT)
    idle(board)


def choose_registry(board, registry: str) -> None:
    """Add ``registry`` in the registry bar (or choose it when it is listed)."""
    chooser = board.locator(".rw-registry-chooser select")
    if registry in chooser.locator("option").all_inner_texts():
        chooser.select_option(label=registry)
    else:
        board.locator(".rw-registry-new input").fill(registry)
        board.locator("button.rw-registry-add").click()
    idle(board)


def select_row(grid, repository: str, tag: str) -> None:
    from playwright.sync_api import expect

    row = row_of(grid, c0=repository, c1=tag)
    expect(row).to_have_count(1, timeout=TIMEOUT)
    row.locator("td").first.click()
    expect(row).to_have_class(re.compile(r"\bselected\b"), timeout=TIMEOUT)


def shown_rows(grid) -> list[tuple[str, str]]:
    cells = grid.locator("tbody tr").evaluate_all(
        "rows => rows.filter(r => r.cells.length > 1)"
        ".map(r => [r.cells[0].innerText.trim(), r.cells[1].innerText.trim()])")
    return sorted(tuple(c) for c in cells)


def in_namespace(tags: dict[str, list[str]], namespace: str) -> list[tuple[str, str]]:
    return sorted((repo, tag) for repo, repo_tags in tags.items()
                  if repo.startswith(f"{namespace}/") for tag in repo_tags)


def failing(page, server, tmp_path: Path):
    """Keep a full-page screenshot and Voila's log when a test fails."""
    page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
    print(f"screenshot: {tmp_path / 'failure.png'}\nVoila's log:\n{server.log()}")


def screenshot(page, name: str, tmp_path: Path) -> None:
    page.screenshot(path=str(tmp_path / name))
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(tmp_path / name, ROOT / "docs" / name)


def test_unreachable_registry_and_back_then_a_stale_plan_then_remove(
        dashboard, demo_registry, browser, tmp_path) -> None:
    """Switching to a registry that is down empties both tables (nothing of the previous
    registry is left to act on); back again, a plan that went stale is refused, a fresh
    one removes exactly its tag."""
    from playwright.sync_api import expect

    reg, pushed = demo_registry
    repository, tag = TARGET
    target_digest = pushed[f"{reg.host}/{repository}:{tag}"]
    before = all_tags(reg)
    page, board = open_dashboard(browser, dashboard)
    try:
        images = board.locator(".rw-image-table")
        grid = images.locator(".rw-image-grid")
        namespaces = board.locator(".rw-namespace-grid")
        choose_namespace(board, NAMESPACE)
        expect(images.locator(".rw-img-title")).to_have_text(
            f"Images in {reg.host}/{NAMESPACE}", timeout=TIMEOUT)
        assert shown_rows(grid) == in_namespace(before, NAMESPACE)
        no_error(images)
        screenshot(page, "dashboard-1280x800.png", tmp_path)
        # The same page on a big screen: the image table's first rows above the fold.
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.wait_for_timeout(300)  # the tables reflow to the new width
        screenshot(page, "dashboard-1920x1080.png", tmp_path)
        box = grid.locator("tbody tr").first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 1080, box
        page.set_viewport_size({"width": 1280, "height": 800})
        select_row(grid, repository, tag)

        # A registry that is down: both tables empty, row actions disabled.
        dead = f"127.0.0.1:{free_port()}"
        choose_registry(board, dead)
        expect(board.locator(".rw-registry-state")).to_contain_text("down",
                                                                     timeout=TIMEOUT)
        expect(grid.locator("tbody tr.selected")).to_have_count(0)
        assert shown_rows(grid) == [] and shown_rows(namespaces) == []
        expect(images.locator(".rw-img-title")).to_contain_text("could not be listed")
        expect(images.locator("button.rw-img-remove-tag")).to_be_disabled()
        expect(board.locator("button.rw-ns-remove")).to_be_disabled()
        assert all_tags(reg) == before

        # Back: the registry's own rows again.
        choose_registry(board, reg.host)
        expect(board.locator(".rw-registry-state")).to_contain_text("reachable",
                                                                     timeout=TIMEOUT)
        choose_namespace(board, NAMESPACE)
        assert shown_rows(grid) == in_namespace(before, NAMESPACE)

        # A plan that goes stale: someone moves the tag after it was shown.
        select_row(grid, repository, tag)
        images.locator("button.rw-img-remove-tag").click()
        idle(board)
        plan = images.locator(".rw-img-plan textarea")
        expect(plan).to_have_value(re.compile("Nothing has been deleted yet"), timeout=TIMEOUT)
        text = plan.input_value()
        assert f"Remove tag {reg.host}/{repository}:{tag}\n" in text, text
        assert re.search(rf"keeps:\s+tags {re.escape(CO_TAG)} \(same digest\)", text), text
        moved = push_image(reg, repository, tag, layer_sizes=(1000,), seed="moved-meanwhile").digest
        images.locator("button.rw-img-confirm").click()
        idle(board)
        expect(images.locator(".rw-message .rw-error")).to_contain_text(
            "changed since the plan", timeout=TIMEOUT)
        after_stale = all_tags(reg)
        assert after_stale == before
        assert get_manifest(reg, repository, tag).digest == moved

        # A fresh plan removes exactly that tag; its former co-tag keeps the old image.
        select_row(grid, repository, tag)
        images.locator("button.rw-img-remove-tag").click()
        idle(board)
        expect(plan).to_have_value(re.compile("Nothing has been deleted yet"), timeout=TIMEOUT)
        images.locator("button.rw-img-confirm").click()
        idle(board)
        expect(images.locator(".rw-message .rw-status")).to_contain_text(
            f"remove {reg.host}/{repository}:{tag}", timeout=TIMEOUT)
        no_error(images)
        expect(row_of(grid, c0=repository, c1=tag)).to_have_count(0, timeout=TIMEOUT)
        expect(row_of(grid, c0=repository, c1=CO_TAG)).to_have_count(1)
    except Exception:
        failing(page, dashboard, tmp_path)
        raise
    finally:
        page.context.close()

    after = all_tags(reg)
    assert after == dict(before, **{repository: sorted(set(before[repository]) - {tag})})
    assert get_manifest(reg, repository, CO_TAG).digest == target_digest


def test_the_clean_up_tab_follows_the_registry_chosen_in_the_bar(
        dashboard, demo_registry, browser, tmp_path) -> None:
    """Issue 21, bug (a): after another registry is chosen, the Clean up tab's heading and
    namespace list are that registry's (they kept the first one's), and a plan previewed on
    the first registry is gone, its Apply disabled."""
    from playwright.sync_api import expect

    reg, _ = demo_registry
    other = start_registry("plain", state_dir=tmp_path / "other", name="browser-other")
    try:
        push_image(other, "mirror/busybox", "1.0", layer_sizes=(1000,), seed="other-1")
        push_image(other, "tools/jq", "1.7", layer_sizes=(1000,), seed="other-2")
        page, board = open_dashboard(browser, dashboard)
        try:
            board.locator(".rw-tabs .lm-TabBar-tab", has_text="Clean up").click()
            cleanup = board.locator(".rw-cleanup-panel")
            title = cleanup.locator(".rw-cleanup-title")
            choice = cleanup.locator(".rw-cleanup-namespace select")
            expect(title).to_have_text(f"Clean up {reg.host}", timeout=TIMEOUT)
            expect(choice.locator("option", has_text=exact(NAMESPACE))).to_have_count(
                1, timeout=TIMEOUT)
            choice.select_option(label=NAMESPACE)
            cleanup.locator(".rw-cleanup-keep input").fill("1")
            cleanup.locator("button.rw-cleanup-preview").click()
            idle(board)
            no_error(cleanup)
            expect(cleanup.locator(".rw-cleanup-summary")).to_contain_text(
                f"from {reg.host}/{NAMESPACE}", timeout=TIMEOUT)
            expect(cleanup.locator("button.rw-cleanup-apply")).to_be_enabled()
            before = all_tags(reg)

            choose_registry(board, other.host)

            expect(title).to_have_text(f"Clean up {other.host}", timeout=TIMEOUT)
            expect(choice.locator("option")).to_have_text(["mirror", "tools"], timeout=TIMEOUT)
            expect(cleanup.locator(".rw-cleanup-summary")).to_have_text("")
            expect(cleanup.locator("button.rw-cleanup-apply")).to_be_disabled()
            no_error(cleanup)
            assert all_tags(reg) == before
            assert all_tags(other) == {"mirror/busybox": ["1.0"], "tools/jq": ["1.7"]}
        except Exception:
            failing(page, dashboard, tmp_path)
            raise
        finally:
            page.context.close()
    finally:
        other.close()


def test_export_a_filtered_view_copy_pull_commands_and_restore_from_the_trash(
        dashboard, demo_registry, browser, tmp_path, monkeypatch) -> None:
    from playwright.sync_api import expect

    import registry_widgets as rw

    reg, pushed = demo_registry
    ref = f"{reg.host}/acme/worker:0.9.1"
    digest = pushed[ref]
    # Something deleted through this package, journaled where the dashboard's kernel keeps
    # its state: what the Trash tab lists.
    monkeypatch.setenv("REGISTRY_WIDGETS_STATE", dashboard.kernel_env["REGISTRY_WIDGETS_STATE"])
    rw.remove(ref)
    assert "0.9.1" not in list_tags(reg, "acme/worker")

    page, board = open_dashboard(browser, dashboard, clipboard=True)
    try:
        images = board.locator(".rw-image-table")
        grid = images.locator(".rw-image-grid")
        choose_namespace(board, NAMESPACE)

        # Search, then export exactly what is shown: a file and a browser download.
        images.locator(".rw-img-filter input").fill("repository:web")
        images.locator(".rw-img-filter input").press("Enter")
        web = sorted(("acme/web", t) for t in list_tags(reg, "acme/web"))
        expect(grid.locator("tbody tr")).to_have_count(len(web), timeout=TIMEOUT)
        assert shown_rows(grid) == web
        images.locator(".rw-img-more .jupyter-widget-Collapse-header, "
                       ".rw-img-more .p-Collapse-header, .rw-img-more .lm-Collapse-header"
                       ).first.click()
        images.locator(".rw-img-export-path input").fill(str(tmp_path / "view.csv"))
        images.locator("button.rw-img-export").click()
        link = images.locator("a.rw-download-link")
        expect(link).to_be_visible(timeout=TIMEOUT)
        with page.expect_download(timeout=TIMEOUT) as download:
            link.click()
        assert download.value.suggested_filename == "view.csv"
        downloaded = Path(download.value.path()).read_text()
        assert downloaded == (tmp_path / "view.csv").read_text()
        lines = downloaded.splitlines()
        columns = lines[0].split(",")
        rows = [dict(zip(columns, line.split(","))) for line in lines[1:]]
        assert sorted((r["repository"], r["tag"]) for r in rows) == web
        for r in rows:  # full digests, as the registry has them
            assert r["digest"] == get_manifest(reg, r["repository"], r["tag"]).digest

        # Sorting: a click anywhere on a column's header sorts by it (not only its arrow).
        tags_now = lambda: [r[1] for r in grid.locator("tbody tr").evaluate_all(  # noqa: E731
            "rows => rows.map(r => [r.cells[0].innerText, r.cells[1].innerText.trim()])")]
        header = grid.locator("thead th", has_text=exact("tag")).locator(".dt-column-title")
        # "tag" sorts by its hidden version order (1.9 before 1.10), so the class that says
        # so sits on that hidden column: the rows themselves are checked. The first click
        # sorts ascending, the second descending.
        from registry_widgets.widgets.tables import tag_key

        def wait_for(order: list[str]) -> None:
            for _ in range(int(TIMEOUT / 200)):
                if tags_now() == order:
                    return
                page.wait_for_timeout(200)
            assert tags_now() == order, (tags_now(), order)
        ascending = sorted(tags_now(), key=tag_key)
        header.click()
        wait_for(ascending)
        header.click()
        wait_for(ascending[::-1])

        # Pull commands to the clipboard.
        select_row(grid, "acme/web", "latest")
        images.locator("button.rw-img-pull-command").click()
        copy_button = images.locator("button.rw-clipboard-podman")
        expect(copy_button).to_be_visible(timeout=TIMEOUT)
        copy_button.click()
        expect(copy_button).to_contain_text("Copied", timeout=TIMEOUT)
        assert page.evaluate("navigator.clipboard.readText()") == \
            f"podman pull {reg.host}/acme/web:latest"

        # The Trash tab: restore what was deleted.
        board.locator(".rw-tabs .lm-TabBar-tab", has_text="Trash").click()
        trash = board.locator(".rw-trash-panel")
        trash.locator("button.rw-trash-refresh").click()
        idle(board)
        row = row_of(trash.locator(".rw-trash-grid"), c1="acme/worker", c2="0.9.1")
        expect(row).to_have_count(1, timeout=TIMEOUT)
        expect(row.locator("td").nth(4)).to_have_text("yes")
        row.locator("td").first.click()
        trash.locator("button.rw-trash-restore").click()
        idle(board)
        expect(trash.locator(".rw-message .rw-status")).to_contain_text(
            "restored acme/worker:0.9.1", timeout=TIMEOUT)
        expect(row.locator("td").nth(4)).to_have_text("back", timeout=TIMEOUT)
    except Exception:
        failing(page, dashboard, tmp_path)
        raise
    finally:
        page.context.close()

    assert "0.9.1" in list_tags(reg, "acme/worker")
    assert get_manifest(reg, "acme/worker", "0.9.1").digest == digest


def test_copy_with_cancel_stops_and_moves_no_tag(dashboard, demo_registry, browser,
                                                 tmp_path) -> None:
    """A copy from a slow registry (a throttling proxy in front of the demo one), stopped
    with Cancel: the target tag never appears, and the panel is usable again."""
    from playwright.sync_api import expect

    from tests.support.faultproxy import FaultProxy, Throttle

    reg, _ = demo_registry
    target_repo = f"cancelled-{os.getpid()}/worker"
    with FaultProxy.in_front_of(reg) as slow:
        slow.add_rule("GET", r"/blobs/sha256:", Throttle(bytes_per_second=50_000), times=None)
        page, board = open_dashboard(browser, dashboard)
        try:
            images = board.locator(".rw-image-table")
            choose_registry(board, slow.host)
            choose_namespace(board, NAMESPACE)
            select_row(images.locator(".rw-image-grid"), "acme/worker", "0.9.1")
            images.locator(".rw-img-more .jupyter-widget-Collapse-header, "
                           ".rw-img-more .p-Collapse-header, .rw-img-more .lm-Collapse-header"
                           ).first.click()
            images.locator(".rw-img-copy-registry input").fill(reg.host)
            images.locator(".rw-img-copy-namespace input").fill(target_repo.split("/")[0])
            images.locator("button.rw-img-copy").click()
            cancel = images.locator("button.rw-img-cancel-action")
            expect(cancel).to_be_visible(timeout=TIMEOUT)
            expect(images.locator("button.rw-img-copy")).to_be_disabled()
            expect(images.locator(".rw-progress-bar").first).to_be_visible(timeout=TIMEOUT)
            cancel.click()
            idle(board)
            # a Cancel the person pressed is "cancelled" in grey, not a red failure
            expect(images.locator(".rw-message .rw-cancelled")).to_contain_text(
                re.compile("cancel", re.I), timeout=TIMEOUT)
            expect(images.locator(".rw-message .rw-error")).to_have_count(0)
            expect(images.locator(".rw-progress-label")).to_have_text("cancelled")
            expect(cancel).to_be_hidden()
            expect(images.locator("button.rw-img-copy")).to_be_enabled()
        except Exception:
            failing(page, dashboard, tmp_path)
            raise
        finally:
            page.context.close()
    # Blobs may have landed (a rerun reuses them); no manifest and no tag did.
    listed = RawClient(reg).request("GET", f"/v2/{target_repo}/tags/list",
                                    scope=f"repository:{target_repo}:pull")
    assert listed.status_code == 404 or not listed.json().get("tags"), listed.text


def test_docker_login_then_refresh(dashboard, token_demo, browser, tmp_path) -> None:
    """``docker login`` writes Docker's config; Refresh then lists, in the same kernel."""
    from playwright.sync_api import expect

    page, board = open_dashboard(browser, dashboard)
    try:
        images = board.locator(".rw-image-table")
        choose_registry(board, token_demo.host)
        expect(images.locator(".rw-message .rw-error")).to_contain_text(
            re.compile("unauthorized|log in", re.I), timeout=TIMEOUT)
        assert shown_rows(images.locator(".rw-image-grid")) == []
        # what `docker login HOST` leaves behind (no credential helper here)
        user, password = token_demo.auth
        config = Path(dashboard.kernel_env["DOCKER_CONFIG"]) / "config.json"
        config.write_text(json.dumps({"auths": {token_demo.host: {
            "auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}}))
        # At once: a Refresh the user presses reads Docker's config again first (the
        # automatic re-read after a refusal waits RELOAD_INTERVAL seconds).
        images.locator("button.rw-img-refresh").click()
        idle(board)
        no_error(images)
        expected = sorted((repo, tag) for repo in list_repositories(token_demo)
                          for tag in list_tags(token_demo, repo))
        assert expected and shown_rows(images.locator(".rw-image-grid")) == expected
    except Exception:
        failing(page, dashboard, tmp_path)
        raise
    finally:
        page.context.close()


def test_render_bench_runs_tiny() -> None:
    result = measure_render(50, runs=1)
    for key in ("build_s", "render_s", "kernel_build_s", "refresh_s"):
        assert isinstance(result[key], float) and math.isfinite(result[key]) and result[key] > 0
    assert result["rows"] == 50 and len(result["render_runs"]) == 1


# -- JupyterLab: the notebook as people open it -------------------------------------------------

@pytest.fixture(scope="module")
def lab(demo_registry, tmp_path_factory: pytest.TempPathFactory):
    """JupyterLab (as ``make lab`` starts it) on a copy of notebooks/, for the module."""
    import secrets
    import signal
    import subprocess
    import time
    import urllib.request

    reg, _ = demo_registry
    home = tmp_path_factory.mktemp("lab")
    folder = home / "notebooks"
    shutil.copytree(ROOT / "notebooks", folder,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.log"))
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    env = dict(os.environ, REGISTRY_WIDGETS_REGISTRY=reg.host,
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    for name in ("REGISTRY_WIDGETS_STATE", "XDG_CACHE_HOME", "DOCKER_CONFIG"):
        (home / name).mkdir()
        env[name] = str(home / name)
    token, port = secrets.token_hex(12), free_port()
    with open(home / "lab.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", str(folder), "--no-browser", "--allow-root",
             "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
             f"--IdentityProvider.token={token}"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}",
                                       timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((home / "lab.log").read_text()[-4000:])
                time.sleep(0.3)
        yield {"url": f"http://127.0.0.1:{port}", "token": token, "folder": folder,
               "log": home / "lab.log"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def test_jupyterlab_opens_the_notebook_unmodified_and_the_dashboard_fits_beside_the_files(
        lab, demo_registry, browser, tmp_path) -> None:
    from playwright.sync_api import expect

    name = "10_dashboard.ipynb"
    on_disk = (lab["folder"] / name).read_bytes()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.route("**/*", block_outside)
    page = context.new_page()
    try:
        page.goto(f"{lab['url']}/lab/tree/{name}?token={lab['token']}&reset", timeout=TIMEOUT)
        expect(page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first).to_be_visible(
            timeout=TIMEOUT)
        tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=name).first
        page.wait_for_timeout(1500)  # what JupyterLab writes on connecting comes just after
        assert "jp-mod-dirty" not in (tab.get_attribute("class") or ""), \
            "opening the notebook marked it modified"
        assert (lab["folder"] / name).read_bytes() == on_disk
        expect(page.locator(".jp-FileBrowser")).to_be_visible()  # the file browser is open

        page.locator(".lm-MenuBar-itemLabel", has_text=exact("Run")).click()
        page.locator(".lm-Menu-itemLabel", has_text=exact("Run All Cells")).click()
        board = page.locator(".rw-dashboard")
        expect(board).to_be_visible(timeout=TIMEOUT)
        idle(board)
        choose_namespace(board, NAMESPACE)
        no_error(board)
        board.evaluate("el => el.scrollIntoView({block: 'start'})")
        first_row = board.locator(".rw-image-grid tbody tr").first
        expect(first_row).to_be_visible()
        screenshot(page, "dashboard-lab-1280x800.png", tmp_path)
        box = first_row.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 800, box
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        print(f"screenshot: {tmp_path / 'failure.png'}\nJupyterLab's log:\n"
              f"{lab['log'].read_text()[-4000:]}")
        raise
    finally:
        context.close()
