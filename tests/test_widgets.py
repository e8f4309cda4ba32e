"""The widgets, driven as a person would: select rows, click buttons. Against real registries
(and the real engine for Pull, Push and Build); what the registries hold afterwards is read
back with the stack's independent HTTP oracle, never with the widgets or the verbs.

Every button is clicked with ``.click()``, which runs the callbacks exactly as a browser
click does, so an exception that escaped a callback would fail these tests.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import time
from pathlib import Path
import uuid

import ipywidgets
import pandas as pd
import pytest

from registry_widgets import paths
from registry_widgets.errors import (ConfirmationRequired, RegistryWidgetsError, Unauthorized,
                                    Unreachable)
from registry_widgets.operations.core import clients, journal
from registry_widgets.progress import ProgressEvent
from devstack._process import free_port
from registry_widgets.operations.images.remove import remove, restore
from registry_widgets.widgets import (BuildPanel, Dashboard, ImageTable, NamespaceTable,
                                      ProgressView, TrashPanel)
from tests.support.together import run_together
from tests.support.oracle import ACCEPT_ALL, RawClient, list_repositories, list_tags
from tests.support.images import push_image, push_index


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


# -- the oracle: what the registry holds -------------------------------------------------------

def tags_of(registry, repository: str) -> list[str]:
    r = RawClient(registry).request("GET", f"/v2/{repository}/tags/list",
                                    scope=f"repository:{repository}:pull")
    if r.status_code == 404:
        return []
    assert r.status_code == 200, r.text
    return sorted(r.json().get("tags") or [])


def digest_at(registry, repository: str, reference: str) -> str | None:
    r = RawClient(registry).request("HEAD", f"/v2/{repository}/manifests/{reference}",
                                    scope=f"repository:{repository}:pull",
                                    headers={"Accept": ACCEPT_ALL})
    return r.headers.get("Docker-Content-Digest") if r.status_code == 200 else None


def namespace_of(repository: str) -> str:
    return repository.split("/", 1)[0]


def shown_tags(table: ImageTable) -> list[str]:
    """The tag column of the rows the browser receives."""
    return [row[1] for row in json.loads(table.table._dt_args["data_json"])]


def settle(panel) -> BaseException | None:
    """Wait for what the panel (or dashboard) started; the error it raised, if any (it is
    also in ``last_error`` and the red message, which the tests read)."""
    try:
        panel.wait(timeout=120)
    except TimeoutError:
        raise
    except Exception as e:  # noqa: BLE001 - returned for the test to judge
        return e
    return None


def ready(panel):
    """The panel once its first listing has finished (errors stay in the panel)."""
    settle(panel)
    return panel


def click(panel, button) -> BaseException | None:
    """Click as a browser would, then wait for the action the click started."""
    button.click()
    return settle(panel)


def assert_ok(widget) -> None:
    assert widget.last_error is None, widget.message.text
    assert widget.message.kind != "error", widget.message.text


@pytest.fixture
def app(registry, unique_repo):
    """``unique_repo`` with tags 1.0 and latest on one digest, 2.0 on another."""
    # A fixed date: the config records it, and a second ticking between two pushes would
    # give "latest" a digest of its own.
    same = {"layer_sizes": (3000, 2000), "seed": unique_repo, "created": "2024-01-15T09:00:00Z",
            "labels": {"org.opencontainers.image.version": "1.0"}}
    one = push_image(registry, unique_repo, "1.0", **same)
    latest = push_image(registry, unique_repo, "latest", **same)
    assert latest.digest == one.digest
    two = push_image(registry, unique_repo, "2.0", layer_sizes=(4000,), seed=unique_repo + "2",
                     created="2024-02-01T12:00:00Z")
    return {"repo": unique_repo, "ns": namespace_of(unique_repo), "one": one, "two": two}


# -- ImageTable --------------------------------------------------------------------------------

def test_image_table_shows_one_row_per_tag_and_a_multi_arch_image_as_one_row(registry,
                                                                           unique_repo):
    amd64 = push_image(registry, unique_repo, None, layer_sizes=(1000,), seed="w-amd64")
    arm64 = push_image(registry, unique_repo, None, layer_sizes=(1000,), seed="w-arm64",
                       platform=("linux", "arm64", "v8"))
    push_index(registry, unique_repo, "multi", [amd64, arm64])
    push_image(registry, unique_repo, "single", layer_sizes=(1000,), seed="w-single")

    table = ready(ImageTable(registry.host, namespace_of(unique_repo)))

    assert_ok(table)
    rows = json.loads(table.table._dt_args["data_json"])
    assert [(r[0], r[1], r[3]) for r in rows] == [
        (unique_repo, "multi", "linux/amd64, linux/arm64/v8"),
        (unique_repo, "single", "linux/amd64")]
    assert "rw-image-table" in table._dom_classes and "rw-image-grid" in table.table._dom_classes
    assert table.table._dt_args["select"] is True
    # the search box is the panel's own (filter_text): what it shows is what it exports
    assert table.table._dt_args["layout"]["topEnd"] is None
    assert (table.rows_registry, table.rows_namespace) == (registry.host,
                                                           namespace_of(unique_repo))


def test_refresh_shows_a_newly_pushed_tag(registry, app):
    table = ready(ImageTable(registry.host, app["ns"]))
    assert shown_tags(table) == ["1.0", "2.0", "latest"]
    push_image(registry, app["repo"], "3.0", layer_sizes=(100,), seed="new")

    click(table, table.refresh_button)

    assert_ok(table)
    assert shown_tags(table) == ["1.0", "2.0", "3.0", "latest"]
    assert "4 tags" in table.message.text


def test_remove_tag_plans_first_then_removes_only_that_tag(registry, app):
    table = ready(ImageTable(registry.host, app["ns"]))
    table.table.selected_rows = [0]  # 1.0, which shares its digest with latest

    click(table, table.remove_tag_button)

    assert_ok(table)
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]  # nothing deleted yet
    plan = table.confirmation.plan.value
    assert f"Remove tag {registry.host}/{app['repo']}:1.0" in plan
    assert "keeps:    tags latest (same digest)" in plan
    assert "Nothing has been deleted yet" in plan
    assert table.confirmation.layout.display is None and table.confirmation.pending

    click(table, table.confirm_button)

    assert_ok(table)
    assert tags_of(registry, app["repo"]) == ["2.0", "latest"]
    assert digest_at(registry, app["repo"], "latest") == app["one"].digest
    assert shown_tags(table) == ["2.0", "latest"]  # refreshed
    assert table.confirmation.layout.display == "none" and not table.confirmation.pending


def test_delete_digest_lists_the_co_tags_that_go_with_it(registry, app):
    table = ready(ImageTable(registry.host, app["ns"]))
    table.select(f"{registry.host}/{app['repo']}:latest")

    click(table, table.delete_digest_button)

    assert_ok(table)
    plan = table.confirmation.plan.value
    assert f"Delete image {registry.host}/{app['repo']}@{app['one'].digest}" in plan
    assert "every tag on it: 1.0, latest" in plan
    assert "2 tags and 1 digest removed" in plan
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]

    click(table, table.confirm_button)

    assert_ok(table)
    assert tags_of(registry, app["repo"]) == ["2.0"]
    assert digest_at(registry, app["repo"], app["one"].digest) is None
    assert digest_at(registry, app["repo"], "2.0") == app["two"].digest


def test_remove_tag_on_several_rows_removes_each_selected_tag(registry, app):
    table = ready(ImageTable(registry.host, app["ns"]))
    table.table.selected_rows = [2, 0]  # latest and 1.0: both tags of one digest
    click(table, table.remove_tag_button)
    assert "Tags that go: " in table.confirmation.plan.value
    assert f"{app['repo']}:latest, {app['repo']}:1.0" in table.confirmation.plan.value
    click(table, table.confirm_button)
    assert_ok(table)
    assert tags_of(registry, app["repo"]) == ["2.0"]
    # untagged now, but kept: removing tags never deletes the image
    assert digest_at(registry, app["repo"], app["one"].digest) == app["one"].digest


def test_rows_of_two_repositories_are_removed_in_one_apply_and_one_restore(registry, app):
    other = f"{app['ns']}/other"
    b1 = push_image(registry, other, "1", layer_sizes=(100,), seed=other + "1")
    push_image(registry, other, "keep", layer_sizes=(100,), seed=other + "keep")
    table = ready(ImageTable(registry.host, app["ns"]))
    host = registry.host
    table.select(f"{host}/{app['repo']}:1.0", f"{host}/{app['repo']}:2.0", f"{host}/{other}:1")
    click(table, table.remove_tag_button)
    assert_ok(table)
    records = len(list(journal.read()))

    click(table, table.confirm_button)

    assert_ok(table)
    assert tags_of(registry, app["repo"]) == ["latest"] and tags_of(registry, other) == ["keep"]
    added = [r["action"] for r in list(journal.read())[records:]]
    assert added.count("remove") == 1 and added.count("remove-backup") == 1  # one apply
    assert sorted(shown_tags(table)) == ["keep", "latest"]  # listed again

    restore(table.last_result)

    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]
    assert tags_of(registry, other) == ["1", "keep"]
    assert digest_at(registry, app["repo"], "1.0") == app["one"].digest
    assert digest_at(registry, app["repo"], "2.0") == app["two"].digest
    assert digest_at(registry, other, "1") == b1.digest


def test_cancel_forgets_the_plan_and_deletes_nothing(registry, app):
    table = ready(ImageTable(registry.host, app["ns"]))
    table.table.selected_rows = [0, 1]
    click(table, table.delete_digest_button)
    assert table.confirmation.pending

    click(table, table.cancel_button)

    assert not table.confirmation.pending and table.confirmation.plan.value == ""
    click(table, table.confirm_button)  # a stray Confirm after Cancel does nothing but say so
    assert isinstance(table.last_error, ValueError)
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]


def test_a_new_selection_cancels_a_pending_plan(registry, app):
    table = ready(ImageTable(registry.host, app["ns"]))
    table.table.selected_rows = [0]
    click(table, table.remove_tag_button)
    table.table.selected_rows = [1]  # the plan was for 1.0: Confirm must not delete 2.0
    assert not table.confirmation.pending
    click(table, table.confirm_button)
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]


def test_a_platform_of_an_index_is_blocked_and_confirm_is_disabled(registry, unique_repo):
    child = push_image(registry, unique_repo, "amd64-only", layer_sizes=(500,), seed="blocked")
    push_index(registry, unique_repo, "multi", [child])
    table = ready(ImageTable(registry.host, namespace_of(unique_repo)))
    table.select(f"{registry.host}/{unique_repo}:amd64-only")

    click(table, table.delete_digest_button)

    assert "BLOCKED" in table.confirmation.plan.value
    assert table.confirm_button.disabled
    click(table, table.confirm_button)
    assert tags_of(registry, unique_repo) == ["amd64-only", "multi"]


def test_copy_to_another_registry_and_namespace(registry, registry_b, app):
    table = ready(ImageTable(registry.host, app["ns"]))
    table.table.selected_rows = [0, 1]  # 1.0 and 2.0
    target_ns = f"copied-{uuid.uuid4().hex[:6]}"
    name = app["repo"].split("/", 1)[1]
    table.copy_registry.value = registry_b.host
    table.copy_namespace.value = target_ns

    click(table, table.copy_button)

    assert_ok(table)
    assert digest_at(registry_b, f"{target_ns}/{name}", "1.0") == app["one"].digest
    assert digest_at(registry_b, f"{target_ns}/{name}", "2.0") == app["two"].digest
    assert tags_of(registry_b, f"{target_ns}/{name}") == ["1.0", "2.0"]
    assert table.progress.overall.value == 100 and table.progress.overall.bar_style == "success"
    assert table.progress.bars  # one bar per blob
    assert "copy" in table.message.text


def test_copy_with_a_new_tag_needs_a_single_row(registry, registry_b, app):
    table = ready(ImageTable(registry.host, app["ns"]))
    table.copy_registry.value = registry_b.host
    table.copy_tag.value = "stable"
    table.table.selected_rows = [0, 1]
    click(table, table.copy_button)
    assert "would overwrite each other" in table.message.text
    table.table.selected_rows = [1]
    click(table, table.copy_button)
    assert_ok(table)
    assert digest_at(registry_b, app["repo"], "stable") == app["two"].digest


def test_an_error_is_a_red_message_with_what_to_do_and_is_never_raised(registry, app, caplog):
    dead = f"127.0.0.1:{free_port()}"
    clients.configure(dead, retries=1, backoff=0.05)
    table = ready(ImageTable(registry.host, app["ns"]))
    table.table.selected_rows = [0]
    table.copy_registry.value = dead

    with caplog.at_level(logging.WARNING, logger="registry_widgets.widgets"):
        click(table, table.copy_button)  # raises nothing

    assert isinstance(table.last_error, Unreachable)
    assert table.message.kind == "error"
    assert dead in table.message.text
    assert "color:#b00020" in table.message.value and 'class="rw-error"' in table.message.value
    assert table.progress.overall.bar_style == "danger"
    assert any(r.name == "registry_widgets.widgets" for r in caplog.records)
    table.table.selected_rows = [1]  # selecting a row keeps the message of the last action
    assert table.message.kind == "error" and table.last_error is not None
    # the next successful action clears it
    click(table, table.refresh_button)
    assert_ok(table)


def test_buttons_without_a_selection_say_so(registry, app):
    table = ready(ImageTable(registry.host, app["ns"]))
    for button in (table.pull_button, table.copy_button, table.remove_tag_button,
                   table.delete_digest_button, table.inspect_button, table.pull_command_button):
        click(table, button)
        assert isinstance(table.last_error, ValueError)
        assert "select one or more rows" in table.message.text
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]


def test_inspect_shows_digest_platforms_labels_size_and_pull_command(registry, app):
    table = ready(ImageTable(registry.host, app["ns"]))
    table.table.selected_rows = [0]

    click(table, table.inspect_button)

    assert_ok(table)
    text = table.output.value
    assert f"digest:     {app['one'].digest}" in text
    assert "platforms:  linux/amd64" in text
    assert "org.opencontainers.image.version=1.0" in text
    assert f"docker pull {registry.host}/{app['repo']}:1.0" in text
    assert f"docker pull {registry.host}/{app['repo']}@{app['one'].digest}" in text
    assert table.output.layout.display is None
    # then what the inspect verb reads from the registry: config, history, layers, manifest
    assert "Cmd: /bin/sh" in text
    assert "history (" in text
    for layer in app["one"].layers:
        assert layer.digest in text
    # the manifest indented (issue 25: one raw JSON line was unreadable), same content
    assert json.dumps(json.loads(app["one"].manifest), indent=2) in text


def test_copy_pull_command(registry, app):
    table = ready(ImageTable(registry.host, app["ns"]))
    table.table.selected_rows = [2, 0]
    click(table, table.pull_command_button)
    latest, one = (f"{registry.host}/{app['repo']}:{t}" for t in ("latest", "1.0"))
    pinned = f"{registry.host}/{app['repo']}@{app['one'].digest}"
    assert table.output.value.splitlines() == [
        f"docker pull {latest}", f"docker pull {one}", f"podman pull {latest}",
        f"podman pull {one}", f"docker pull {pinned}", f"docker pull {pinned}"]
    # one clipboard button per form, carrying exactly those lines
    html_ = table.clipboard.value
    for form in ("docker", "podman", "digest-pinned"):
        assert f"rw-clipboard-{form}" in html_
    assert f'data-text="docker pull {latest}\ndocker pull {one}"' in html_


def test_export_csv_writes_the_rows_shown(registry, app, tmp_path):
    table = ready(ImageTable(registry.host, app["ns"]))
    table.filter_text.value = "tag:1.0"
    table.export_path.value = str(tmp_path / "images.csv")

    click(table, table.export_button)

    assert_ok(table)
    back = pd.read_csv(tmp_path / "images.csv")
    assert list(back["tag"].astype(str)) == ["1.0"]
    assert back["digest"][0] == app["one"].digest
    assert back["platforms"][0] == "linux/amd64"
    assert back["reference"][0] == f"{registry.host}/{app['repo']}:1.0"
    assert str(tmp_path / "images.csv") in table.message.text
    link = table.export.download.value
    assert 'download="images.csv"' in link and "data:text/csv;base64," in link
    payload = base64.b64decode(link.split("base64,", 1)[1].split('"', 1)[0])
    assert payload == (tmp_path / "images.csv").read_bytes()

    click(table, table.export.json_button)
    rows = json.loads((tmp_path / "images.json").read_text())
    assert [(r["tag"], r["digest"], r["platforms"]) for r in rows] == [
        ("1.0", app["one"].digest, ["linux/amd64"])]
    assert 'download="images.json"' in table.export.download.value


def test_filter_narrows_the_table_and_selection_maps_to_the_filtered_rows(registry, app):
    table = ready(ImageTable(registry.host, app["ns"]))
    table.filter_text.value = "tag:latest"
    assert shown_tags(table) == ["latest"]
    table.table.selected_rows = [0]
    assert table.selected_references == [f"{registry.host}/{app['repo']}:latest"]
    table.filter_text.value = "colour:red"
    assert "no column 'colour'" in table.message.text


def test_a_failed_listing_empties_the_table_and_disables_the_row_actions(registry, app):
    dead = f"127.0.0.1:{free_port()}"
    clients.configure(dead, retries=1, backoff=0.05)
    table = ready(ImageTable(registry.host, app["ns"]))
    assert not table.remove_tag_button.disabled and len(table.shown) == 3
    table.table.selected_rows = [0]

    table.browse(dead, app["ns"])
    error = settle(table)

    assert isinstance(error, Unreachable) and table.last_error is error
    assert table.shown.empty and table.selected.empty and table.rows_registry is None
    assert "could not be listed" in table.title.value and dead in table.title.value
    for button in (table.remove_tag_button, table.delete_digest_button, table.copy_button,
                   table.pull_button, table.export_button):
        assert button.disabled
    assert not table.refresh_button.disabled
    click(table, table.remove_tag_button)  # even a programmatic click has no rows to plan
    assert "select one or more rows" in table.message.text
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]

    table.browse(registry.host, app["ns"])
    assert settle(table) is None
    assert table.rows_registry == registry.host and not table.remove_tag_button.disabled


def test_confirm_refuses_a_plan_that_went_stale_and_deletes_nothing(registry, app):
    table = ready(ImageTable(registry.host, app["ns"]))
    table.table.selected_rows = [0, 1]  # 1.0 and 2.0
    click(table, table.remove_tag_button)
    assert table.confirmation.pending
    # someone moves 2.0 after the plan was shown
    push_image(registry, app["repo"], "2.0", layer_sizes=(700,), seed="moved")
    moved = digest_at(registry, app["repo"], "2.0")

    error = click(table, table.confirm_button)

    assert isinstance(error, ConfirmationRequired)
    assert "changed since the plan: " in table.message.text
    assert "2.0" in table.message.text
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]  # not even 1.0 went
    assert digest_at(registry, app["repo"], "2.0") == moved


def test_actions_run_in_the_background_with_busy_and_cancel(registry, registry_b, app):
    table = ready(ImageTable(registry.host, app["ns"]))
    seen = []
    table.observe(lambda change: seen.append(change["new"]), names="busy")
    table.table.selected_rows = [0, 1]
    table.copy_registry.value = registry_b.host
    table.copy_namespace.value = f"cancel-{uuid.uuid4().hex[:6]}"
    table.cancel_event.set()  # as if Cancel had been clicked before the first blob moved
    started = table.start("copy", lambda: (table.cancel_event.set(), table.copy()))
    error = settle(table)
    assert started.done() and seen[:1] == [True] and seen[-1] is False
    assert error is not None and "cancel" in table.message.text.lower()
    # a Cancel the person pressed reads "cancelled", not red "copy failed"
    assert table.message.kind == "cancelled" and table.progress.label.value == "cancelled"
    assert not table.busy and not table.copy_button.disabled
    target = f"{table.copy_namespace.value}/{app['repo'].split('/', 1)[1]}"
    assert tags_of(registry_b, target) == []  # stopped before any manifest was written


def test_ten_thousand_rows_stay_one_table_and_select_by_position(registry):
    table = ready(ImageTable(""))
    base = {"namespace": "big", "repository": "big/app", "digest": "sha256:" + "c" * 64,
            "media_type": "application/vnd.oci.image.manifest.v1+json",
            "platforms": ["linux/amd64"], "size": 12_345_678,
            "size_per_platform": {"linux/amd64": 12_345_678},
            "created": pd.Timestamp("2024-01-01", tz="UTC"), "labels": {}}
    frame = pd.DataFrame([{**base, "tag": f"t{i}", "reference": f"{registry.host}/big/app:t{i}"}
                          for i in range(10_000)])
    table.show_frame(frame)
    assert len(json.loads(table.table._dt_args["data_json"])) == 10_000
    assert len(table.table._dt_args["data_json"]) < 1_600_000
    table.table.selected_rows = [9_999, 42]
    assert table.selected_references == [f"{registry.host}/big/app:t9999",
                                         f"{registry.host}/big/app:t42"]


# -- NamespaceTable ----------------------------------------------------------------------------

def test_namespace_table_lists_counts_sizes_and_selects(registry, app):
    table = ready(NamespaceTable(registry.host))
    seen: list = []
    table.on_select(seen.append)

    assert_ok(table)
    row = table.frame.set_index("namespace").loc[app["ns"]]
    assert (row["repositories"], row["tags"]) == (1, 3)
    display = json.loads(table.table._dt_args["data_json"])
    shown = next(r for r in display if r[0] == app["ns"])
    assert shown[1:3] == [1, 3] and shown[3].endswith("kB")

    table.table.selected_rows = [list(table.frame["namespace"]).index(app["ns"])]
    assert table.selected == app["ns"] and seen == [app["ns"]]
    table.table.selected_rows = []
    assert table.selected is None and seen == [app["ns"], None]


def test_add_namespace_lists_it_with_zeros(registry):
    table = ready(NamespaceTable(registry.host))
    name = f"planned-{uuid.uuid4().hex[:6]}"
    table.new_namespace.value = name

    click(table, table.add_button)

    assert_ok(table)
    row = table.frame.set_index("namespace").loc[name]
    assert (row["repositories"], row["tags"], row["size"], row["declared"]) == (0, 0, 0, True)
    assert table.new_namespace.value == ""
    table.new_namespace.value = "Not/Valid"
    click(table, table.add_button)
    assert isinstance(table.last_error, RegistryWidgetsError)
    assert table.message.kind == "error"


def test_remove_namespace_shows_what_goes_and_deletes_only_on_confirm(registry, app):
    other = push_image(registry, f"{app['ns']}/second", "v1", layer_sizes=(100,), seed="second")
    table = ready(NamespaceTable(registry.host))
    table.select(app["ns"])

    click(table, table.remove_button)

    assert_ok(table)
    plan = table.confirmation.plan.value
    assert "2 repositories:" in plan and f"  {app['repo']}" in plan
    assert "4 tags:" in plan and f"  {app['repo']}:latest" in plan
    assert f"  {app['repo']}@{app['one'].digest}" in plan
    assert f"  {app['ns']}/second@{other.digest}" in plan
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]  # not yet

    click(table, table.cancel_button)
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]
    click(table, table.remove_button)
    assert table.confirm_button.disabled  # until the name is typed
    table.confirm_name.value = app["ns"]
    assert not table.confirm_button.disabled
    click(table, table.confirm_button)

    assert_ok(table)
    assert tags_of(registry, app["repo"]) == []
    assert tags_of(registry, f"{app['ns']}/second") == []
    assert app["ns"] not in set(table.frame["namespace"])
    assert table.selected is None


def test_removing_a_declared_empty_namespace_forgets_it(registry):
    table = ready(NamespaceTable(registry.host))
    name = f"empty-{uuid.uuid4().hex[:6]}"
    table.new_namespace.value = name
    click(table, table.add_button)
    table.select(name)
    click(table, table.remove_button)
    assert "0 repositories" in table.confirmation.plan.value
    table.confirm_name.value = name
    click(table, table.confirm_button)
    assert_ok(table)
    assert name not in set(table.frame["namespace"])


def test_remove_namespace_without_a_selection_says_so(registry):
    table = ready(NamespaceTable(registry.host))
    click(table, table.remove_button)
    assert "select a namespace" in table.message.text and not table.confirmation.pending


# -- credentials and errors from the registry --------------------------------------------------

def test_a_registry_that_wants_a_login_says_so_and_no_secret_reaches_widget_state(
        basic_registry, unique_repo):
    from ipywidgets.widgets.widget import _instances
    before = set(_instances)
    push_image(basic_registry, unique_repo, "1", layer_sizes=(100,), seed="basic")
    clients.configure(basic_registry.host, ca_bundle=str(basic_registry.ca_file))
    anonymous = ready(ImageTable(basic_registry.host))
    assert isinstance(anonymous.last_error, Unauthorized)
    assert "Log in first" in anonymous.message.text

    clients.configure(basic_registry.host, ca_bundle=str(basic_registry.ca_file),
                      credentials=basic_registry.auth)
    dash = ready(Dashboard({"secured": basic_registry.host}))
    click(dash.image_table, dash.image_table.refresh_button)
    assert_ok(dash.image_table)
    assert "1" in shown_tags(dash.image_table)

    # This test's widgets only: earlier tests' Log in boxes hold "alice" because a test typed it.
    states = json.dumps([widget.get_state() for key, widget in list(_instances.items())
                         if key not in before], default=str)
    # `in`, not `not in`: pytest's diff of a failed `not in` on this much text takes minutes.
    assert (basic_registry.password in states) is False
    assert (basic_registry.username in states) is False


def docker_login(registry) -> None:
    """What ``docker login HOST`` leaves in Docker's config (no credential helper here);
    DOCKER_CONFIG is this test's own (conftest)."""
    user, password = registry.auth
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (Path(os.environ["DOCKER_CONFIG"]) / "config.json").write_text(
        json.dumps({"auths": {registry.host: {"auth": auth}}}))


def test_refresh_right_after_docker_login_lists_the_images(token_registry, unique_repo):
    for tag in ("1.0", "2.0"):
        push_image(token_registry, unique_repo, tag, layer_sizes=(100,), seed=unique_repo + tag)
    table = ready(ImageTable(token_registry.host, namespace_of(unique_repo)))
    assert isinstance(table.last_error, Unauthorized), table.message.text
    assert "log in" in table.message.text.lower() and table.frame.empty

    docker_login(token_registry)
    click(table, table.refresh_button)  # at once: no wait for the automatic re-read

    assert_ok(table)
    assert shown_tags(table) == sorted(list_tags(token_registry, unique_repo)) == ["1.0", "2.0"]


def test_namespace_refresh_right_after_docker_login_lists_them(token_registry, unique_repo):
    push_image(token_registry, unique_repo, "1.0", layer_sizes=(100,), seed=unique_repo)
    table = ready(NamespaceTable(token_registry.host))
    assert isinstance(table.last_error, Unauthorized), table.message.text
    assert "log in" in table.message.text.lower() and table.frame.empty

    docker_login(token_registry)
    click(table, table.refresh_button)

    assert_ok(table)
    # The registry is shared by the session: count the repositories that still hold a tag
    # (the table's rule), as the oracle sees them with the login's credentials.
    raw = RawClient(token_registry, username=token_registry.username,
                    password=token_registry.password)
    tagged = [r for r in list_repositories(token_registry)
              if raw.request("GET", f"/v2/{r}/tags/list", scope=f"repository:{r}:pull"
                             ).json().get("tags")]
    assert sorted(table.frame["namespace"]) == sorted({namespace_of(r) for r in tagged})


def test_trash_refresh_right_after_docker_login_says_what_can_come_back(token_registry,
                                                                         unique_repo):
    for tag in ("1.0", "2.0"):
        push_image(token_registry, unique_repo, tag, layer_sizes=(100,), seed=unique_repo + tag)
    docker_login(token_registry)
    remove(f"{token_registry.host}/{unique_repo}:1.0")
    assert list_tags(token_registry, unique_repo) == ["2.0"]
    clients.reset()
    (Path(os.environ["DOCKER_CONFIG"]) / "config.json").write_text("{}")  # docker logout
    panel = ready(TrashPanel(token_registry.host))
    assert list(panel.frame["restorable"]) == [False]
    assert "cannot ask" in panel.frame["why"].iloc[0]

    docker_login(token_registry)
    click(panel, panel.refresh_button)

    assert_ok(panel)
    assert list(panel.frame["restorable"]) == [True] and list(panel.frame["tags"]) == [["1.0"]]


def test_the_bars_re_check_uses_a_docker_login_made_just_now(token_registry):
    bar = ready(Dashboard([token_registry.host], remember_added=False)).registry_bar
    assert "reachable" in bar.state.value
    docker_login(token_registry)
    token_registry.token_server.reset_log()

    click(bar, bar.check_button)

    assert "reachable" in bar.state.value and "logged in as alice" in bar.state.value
    # the registry was asked as alice, not with the anonymous token from before the login
    assert [r.user for r in token_registry.token_server.requests] == ["alice"]


# -- ProgressView ------------------------------------------------------------------------------

def test_progress_view_makes_bars_lazily_caps_them_and_sums_the_overall():
    view = ProgressView(max_bars=3)
    view.start("pull")
    assert view.layout.display is None and not view.bars
    for i in range(5):
        view(ProgressEvent("pull", id=f"layer{i}", status="Downloading", current=50, total=100))
    assert list(view.bars) == ["layer2", "layer3", "layer4"]  # the 3 most recent
    assert view.ids == [f"layer{i}" for i in range(5)]
    assert view.overall.value == 50
    view(ProgressEvent("pull", id="layer0", status="Pull complete"))
    assert list(view.bars) == ["layer0", "layer3", "layer4"]  # drawn in order of appearance
    assert view.bars["layer0"].value == 100 and view.overall.value == 60
    assert "1/5 layers" in view.label.value
    view(ProgressEvent("build", status="log", message="Step 1/2 : FROM busybox\n"))
    assert view.log_area.value == "Step 1/2 : FROM busybox"
    view.finish("done")
    assert view.overall.value == 100 and view.overall.bar_style == "success"


# -- the engine: Pull, Push, Build -------------------------------------------------------------


def test_push_button_pushes_a_local_image_into_this_namespace(registry, unique_repo, base_image,
                                                            docker_client, local_names):
    ns = namespace_of(unique_repo)
    table = ready(ImageTable(registry.host, ns))
    table.push_source.value = base_image  # registry-widgets/busybox:latest
    local_names.append(f"{registry.host}/{ns}/busybox:latest")

    click(table, table.push_button)

    assert_ok(table)
    assert tags_of(registry, f"{ns}/busybox") == ["latest"]
    assert shown_tags(table) == ["latest"]  # refreshed
    assert table.progress.overall.bar_style == "success"
    assert "push" in table.message.text


def test_pull_button_pulls_the_selected_image_into_the_engine(registry, unique_repo, base_image,
                                                             docker_client, local_names):
    ns = namespace_of(unique_repo)
    table = ready(ImageTable(registry.host, ns))
    table.push_source.value = base_image
    click(table, table.push_button)
    ref = f"{registry.host}/{ns}/busybox:latest"
    docker_client.images.remove(ref)  # only the name: the pull must bring it back
    local_names.append(ref)
    table.select(ref)

    click(table, table.pull_button)

    assert_ok(table)
    assert ref in docker_client.images.get(ref).tags
    assert "pull" in table.message.text


def test_build_panel_builds_test_runs_and_pushes(registry, unique_repo, base_image, docker_client,
                                                local_names, tmp_path):
    context = tmp_path / "app"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f'FROM {base_image}\nCMD ["/bin/echo", "hello from the panel"]\n')
    ns = namespace_of(unique_repo)
    panel = ready(BuildPanel(registry.host, ns))
    pushed: list = []
    panel.on_pushed(pushed.append)
    panel.context_dir.value = str(context)
    panel.image_name.value = "hello:1.0"
    panel.test_run.value = True
    ref = f"{registry.host}/{ns}/hello:1.0"
    local_names.append(ref)
    assert ref in panel.target.value

    click(panel, panel.build_button)

    assert_ok(panel)
    assert panel.built == ref
    assert "hello from the panel" in panel.run_logs.value
    assert "exit code 0" in panel.message.text
    assert tags_of(registry, f"{ns}/hello") == []  # built, not pushed

    click(panel, panel.push_button)

    assert_ok(panel)
    assert tags_of(registry, f"{ns}/hello") == ["1.0"]
    assert pushed == [ref]


def test_a_failed_test_run_blocks_the_push_and_the_button_says_why(
        registry, unique_repo, base_image, docker_client, local_names, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        f'FROM {base_image}\nARG GREETING\nENV GREETING=$GREETING\nCMD ["/bin/sh", "-c", "echo $GREETING; exit 7"]\n')
    ns = namespace_of(unique_repo)
    panel = ready(BuildPanel(registry.host, ns))
    panel.context_dir.value = str(tmp_path)
    panel.image_name.value = "flaky:1"
    panel.build_args.value = "GREETING=hi there"
    panel.labels.value = "team=acme, org.opencontainers.image.version=1"
    ref = f"{registry.host}/{ns}/flaky:1"
    local_names.append(ref)

    click(panel, panel.build_button)

    assert "exit code 7" in panel.message.text and panel.message.kind == "error"
    assert "hi there" in panel.run_logs.value
    labels = docker_client.images.get(ref).labels
    assert labels["team"] == "acme" and labels["org.opencontainers.image.version"] == "1"
    assert panel.blocked and panel.push_button.disabled
    assert "test run failed" in panel.push_button.description
    click(panel, panel.push_button)  # a programmatic click is refused too
    assert "not pushed" in panel.message.text
    assert tags_of(registry, f"{ns}/flaky") == []

    panel.build_args.value = "GREETING"  # not KEY=VALUE: one clear error, nothing built
    click(panel, panel.build_button)
    assert "KEY=VALUE" in panel.message.text


def test_build_errors_are_shown(registry, base_image, docker_client, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\nRUN exit 3\n")
    panel = ready(BuildPanel(registry.host, "team"))
    click(panel, panel.build_button)
    assert "give the folder" in panel.message.text
    panel.context_dir.value = str(tmp_path)
    panel.image_name.value = "doomed:1"
    click(panel, panel.build_button)
    assert isinstance(panel.last_error, RegistryWidgetsError)
    assert panel.message.kind == "error"
    assert panel.progress.overall.bar_style == "danger"


# -- Dashboard ---------------------------------------------------------------------------------

def test_dashboard_links_registry_namespace_images_and_build(registry, registry_b, app,
                                                            unique_repo):
    elsewhere = push_image(registry_b, f"b-{uuid.uuid4().hex[:6]}/tool", "9", layer_sizes=(100,),
                           seed=unique_repo)
    dash = ready(Dashboard({"A": registry.host, "B": registry_b.host}))
    assert dash.registry == registry.host
    assert dash.tabs.titles == ("Images", "Build", "Clean up", "Sync", "Scan", "Trash",
                                "Log in", "Details", "Local images")
    assert dash.cleanup_panel.registry == registry.host  # follows the chooser, as Trash does

    dash.namespace_table.select(app["ns"])

    settle(dash)
    assert dash.image_table.namespace == app["ns"]
    assert shown_tags(dash.image_table) == ["1.0", "2.0", "latest"]
    assert dash.build_panel.namespace == app["ns"]

    dash.registry_chooser.value = registry_b.host

    settle(dash)
    assert dash.namespace_table.registry == dash.image_table.registry == registry_b.host
    assert dash.image_table.namespace is None and dash.build_panel.registry == registry_b.host
    assert dash.cleanup_panel.registry == registry_b.host
    assert elsewhere.repository in set(dash.image_table.frame["repository"])
    assert namespace_of(elsewhere.repository) in set(dash.namespace_table.frame["namespace"])


def test_a_namespace_in_both_registries_stays_chosen_when_the_registry_changes(
        registry, registry_b, app):
    twin = push_image(registry_b, f"{app['ns']}/twin", "b", layer_sizes=(100,), seed="twin")
    dash = ready(Dashboard([registry.host, registry_b.host]))
    dash.namespace_table.select(app["ns"])
    settle(dash)

    dash.registry_chooser.value = registry_b.host

    settle(dash)

    assert dash.namespace_table.selected == app["ns"]
    assert (dash.image_table.registry, dash.image_table.namespace) == (registry_b.host, app["ns"])
    assert list(dash.image_table.frame["reference"]) == [twin.reference]


def test_every_button_and_area_has_a_stable_css_class(registry):
    dash = ready(Dashboard([registry.host]))
    classes = []

    def walk(widget):
        classes.extend(getattr(widget, "_dom_classes", ()))
        for child in getattr(widget, "children", ()):
            walk(child)

    walk(dash)
    for name in ("rw-dashboard", "rw-registry-chooser", "rw-namespace-table", "rw-ns-refresh",
                 "rw-ns-add", "rw-ns-remove", "rw-ns-confirm", "rw-ns-cancel", "rw-ns-plan",
                 "rw-ns-typed",
                 "rw-image-table", "rw-image-grid", "rw-img-refresh", "rw-img-pull",
                 "rw-img-push", "rw-img-copy", "rw-img-remove-tag", "rw-img-delete-digest",
                 "rw-img-confirm", "rw-img-cancel", "rw-img-inspect", "rw-img-pull-command",
                 "rw-img-export", "rw-img-output", "rw-build-panel", "rw-build-build",
                 "rw-build-push", "rw-build-run-logs", "rw-message", "rw-progress"):
        assert name in classes, name
    buttons = []

    def buttons_of(widget):
        if isinstance(widget, ipywidgets.Button):
            buttons.append(widget)
        for child in getattr(widget, "children", ()):
            buttons_of(child)

    buttons_of(dash)
    assert all(any(c.startswith("rw-") for c in b._dom_classes) for b in buttons)


def test_dashboard_build_tab_pushes_into_the_chosen_namespace_and_refreshes(
        registry, unique_repo, base_image, docker_client, local_names, tmp_path):
    ns = namespace_of(unique_repo)
    push_image(registry, unique_repo, "seed", layer_sizes=(100,), seed=unique_repo)
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\n")
    dash = ready(Dashboard([registry.host]))
    dash.namespace_table.select(ns)
    settle(dash)
    panel = dash.build_panel
    panel.context_dir.value = str(tmp_path)
    panel.image_name.value = "built:2"
    local_names.append(f"{registry.host}/{ns}/built:2")

    click(panel, panel.build_button)
    click(panel, panel.push_button)
    settle(dash)  # the push refreshes both tables, in their own worker threads

    assert_ok(panel)
    assert tags_of(registry, f"{ns}/built") == ["2"]
    assert set(dash.image_table.frame["repository"]) == {unique_repo, f"{ns}/built"}
    assert dash.namespace_table.frame.set_index("namespace").loc[ns, "repositories"] == 2


# -- the one rule, across panels ---------------------------------------------------------------

def test_namespace_confirm_refuses_when_a_repository_was_pushed_after_the_plan(registry, app):
    table = ready(NamespaceTable(registry.host))
    table.select(app["ns"])
    click(table, table.remove_button)
    assert table.confirmation.pending
    late = push_image(registry, f"{app['ns']}/late", "1", layer_sizes=(100,), seed="late")
    table.confirm_name.value = app["ns"]

    error = click(table, table.confirm_button)

    assert isinstance(error, ConfirmationRequired)
    assert "changed since the plan: new repositories: " + f"{app['ns']}/late" in \
        table.message.text
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]
    assert digest_at(registry, f"{app['ns']}/late", "1") == late.digest


def test_namespace_confirm_refuses_when_a_tag_moved_after_the_plan(registry, app):
    table = ready(NamespaceTable(registry.host))
    table.select(app["ns"])
    click(table, table.remove_button)
    moved = push_image(registry, app["repo"], "2.0", layer_sizes=(700,), seed="moved")
    table.confirm_name.value = app["ns"]

    error = click(table, table.confirm_button)

    assert isinstance(error, ConfirmationRequired)
    assert table.message.text.startswith("Namespaces, Remove namespace: changed since the plan")
    assert f"{app['repo']}:2.0 moved to {moved.digest}" in table.message.text
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]  # nothing went
    assert digest_at(registry, app["repo"], "1.0") == app["one"].digest
    assert digest_at(registry, app["repo"], "2.0") == moved.digest


def test_a_wrongly_typed_namespace_name_deletes_nothing(registry, app):
    table = ready(NamespaceTable(registry.host))
    table.select(app["ns"])
    click(table, table.remove_button)

    for typed in ("", app["ns"] + "x", app["ns"][:-1], app["repo"]):
        table.confirm_name.value = typed
        assert table.confirm_button.disabled, typed
        error = click(table, table.confirm_button)  # .click() fires even when disabled
        assert isinstance(error, ValueError), typed
        assert "type the namespace name to confirm" in table.message.text
        assert "nothing was deleted" in table.message.text
        assert table.confirmation.pending  # the plan stays for the right name

    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]
    assert digest_at(registry, app["repo"], app["one"].digest) == app["one"].digest


def test_switching_to_an_unreachable_registry_empties_both_tables_and_back(registry, app):
    dead = f"127.0.0.1:{free_port()}"
    clients.configure(dead, retries=1, backoff=0.05)
    dash = ready(Dashboard([registry.host, dead], remember_added=False))
    dash.namespace_table.select(app["ns"])
    settle(dash)
    dash.image_table.table.selected_rows = [0]

    dash.registry_chooser.value = dead
    settle(dash)

    for table in (dash.namespace_table, dash.image_table):
        assert table.frame.empty and table.rows_registry is None
        assert isinstance(table.last_error, Unreachable)
    assert dash.image_table.remove_tag_button.disabled
    assert dash.namespace_table.remove_button.disabled
    assert ": down:" in dash.registry_bar.state.value

    dash.registry_chooser.value = registry.host
    settle(dash)
    assert dash.namespace_table.rows_registry == registry.host
    assert app["ns"] in set(dash.namespace_table.frame["namespace"])
    assert "reachable" in dash.registry_bar.state.value


def test_a_remove_in_the_image_table_refreshes_the_namespace_table_and_trash(registry, app):
    dash = ready(Dashboard([registry.host], remember_added=False))
    dash.namespace_table.select(app["ns"])
    settle(dash)
    dash.image_table.select(f"{registry.host}/{app['repo']}:2.0")
    click(dash, dash.image_table.remove_tag_button)
    click(dash, dash.image_table.confirm_button)

    assert tags_of(registry, app["repo"]) == ["1.0", "latest"]
    row = dash.namespace_table.frame.set_index("namespace").loc[app["ns"]]
    assert row["tags"] == 2  # refreshed after the remove
    assert dash.namespace_table.selected == app["ns"]
    trash_rows = dash.trash_panel.frame
    assert list(trash_rows["tags"]) == [["2.0"]]

    dash.trash_panel.select(trash_rows["reference"].iloc[0])
    click(dash, dash.trash_panel.restore_button)

    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]
    assert digest_at(registry, app["repo"], "2.0") == app["two"].digest
    assert "restored" in dash.trash_panel.message.text
    assert "2.0" in shown_tags(dash.image_table)  # the image table followed


def test_registry_bar_adds_remembers_and_removes_registries(registry, registry_b):
    bar = ready(Dashboard([registry.host])).registry_bar
    bar.new_registry.value = registry_b.host
    bar.add_button.click()
    settle(bar)
    assert bar.value == registry_b.host and "reachable" in bar.state.value
    again = ready(Dashboard([registry.host]))  # a new kernel, the same user
    assert again.registry_bar.registries == [registry.host, registry_b.host]
    saved = (again.registry_bar.registries, bar.registries)
    assert saved[0] == saved[1]
    again.registry_chooser.value = registry_b.host
    again.registry_bar.remove_button.click()
    assert again.registry_bar.registries == [registry.host]
    assert ready(Dashboard([registry.host])).registry_bar.registries == [registry.host]
    bar.new_registry.value = "not a registry!"
    bar.add_button.click()
    assert bar.message.kind == "error"


ADDER = """
import sys
from registry_widgets.operations.core import clients, journal
from registry_widgets.widgets import RegistryBar
me, count = sys.argv[1], int(sys.argv[2])
hosts = [f"{me}-{i}.invalid" for i in range(count)]
for host in hosts:
    clients.configure(host, retries=0, timeout=0.5)  # the bar checks each one it chooses
bar = RegistryBar(["127.0.0.1:1"])
print("ready", flush=True)
sys.stdin.readline()  # both start together
for host in hosts:
    bar.new_registry.value = host
    bar.add_button.click()
    assert bar.message.kind != "error", bar.message.text
bar.wait(timeout=120)
"""


def test_two_kernels_adding_registries_at_once_keep_both(registry):
    count = 15
    run_together(ADDER, [(me, str(count)) for me in ("a", "b")])

    bar = ready(Dashboard([registry.host])).registry_bar  # a third kernel, the same user
    added = {f"{me}-{i}.invalid" for me in ("a", "b") for i in range(count)}
    assert set(bar.registries) == added | {registry.host}
    assert bar.registries[0] == registry.host
    assert not paths.registries_file().exists()  # the store holds it, not a JSON file


def test_log_in_panel_configures_in_memory_and_keeps_no_secret(basic_registry, unique_repo,
                                                               state_dir, tmp_path):
    push_image(basic_registry, unique_repo, "1", layer_sizes=(100,), seed="login")
    dash = ready(Dashboard([basic_registry.host], remember_added=False))
    assert dash.image_table.frame.empty  # no CA, no login: refused
    login = dash.login_panel
    login.username.value, _ = basic_registry.auth
    login.password.value = basic_registry.password
    login.ca_file.value = str(basic_registry.ca_file)

    click(login, login.login_button)
    settle(dash)

    assert_ok(login)
    assert login.password.value == ""
    assert "1" in shown_tags(dash.image_table)
    assert f"logged in as {basic_registry.username}" in dash.registry_bar.state.value
    assert "TLS verified" in dash.registry_bar.state.value
    from ipywidgets.widgets.widget import _instances
    states = json.dumps([widget.get_state() for widget in list(_instances.values())], default=str)
    assert basic_registry.password not in states
    written = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert not any(basic_registry.password.encode() in data for data in written)


def test_the_dashboard_shows_a_security_status_per_image_from_its_scans(registry, app):
    dash = ready(Dashboard({"A": registry.host}))
    dash.namespace_table.select(app["ns"])
    settle(dash)
    table = dash.image_table
    # The column is HTML (coloured counts that open the Details tab): compare its text.
    security = lambda: [re.sub(r"<[^>]+>", "", c) for c in table.table.df["security"]]  # noqa: E731
    assert set(security()) == {"not scanned"}

    # Choosing a row fills in the Scan tab's image; a report for that digest shows at once.
    table.select(table.frame["reference"].iloc[0])
    assert dash.scan_panel.image.value == table.frame["reference"].iloc[0]
    digest = table.frame["digest"].iloc[0]
    dash.scan_panel.reports[digest] = "2 issues"
    table.apply_filter()
    shown = dict(zip(table.shown["digest"], security()))  # the rows drawn
    assert shown[digest] == "2 issues"
    assert all(status == "not scanned" for d, status in shown.items() if d != digest)


# -- panels bound to what they show (issue 21) -------------------------------------------------

def test_a_retention_apply_in_clean_up_lists_the_images_tab_again(registry, app):
    dash = ready(Dashboard([registry.host], remember_added=False))
    dash.namespace_table.select(app["ns"])
    settle(dash)
    assert shown_tags(dash.image_table) == ["1.0", "2.0", "latest"]
    cleanup = dash.cleanup_panel
    cleanup.namespace_choice.value = app["ns"]
    cleanup.keep.value = "1"  # the newest image (2.0) stays; 1.0 and latest go
    click(cleanup, cleanup.preview_button)
    click(cleanup, cleanup.apply_button)
    settle(dash)  # the other panels list again in their own worker threads

    assert_ok(cleanup)
    assert tags_of(registry, app["repo"]) == ["2.0"]
    assert shown_tags(dash.image_table) == tags_of(registry, app["repo"])
    assert dash.namespace_table.frame.set_index("namespace").loc[app["ns"], "tags"] == 1
    assert sorted(t for tags in dash.trash_panel.frame["tags"] for t in tags) == ["1.0", "latest"]


def test_adding_a_registry_never_shows_the_rows_of_another(registry, registry_b, app,
                                                           monkeypatch):
    """The first registry's listings are held until the second is added, then let go while
    the second's are held: what the first's return must show nowhere, at no moment."""
    from registry_widgets.widgets import cleanup_panel, image_table, namespace_table

    theirs = push_image(registry_b, f"b-{uuid.uuid4().hex[:6]}/tool", "1", layer_sizes=(100,),
                        seed=app["repo"])
    first, second = threading.Event(), threading.Event()
    started = {}

    def held(module, name):
        real = getattr(module, name)
        started[module] = threading.Event()

        def listing(registry_, *args, **kwargs):
            if registry_ == registry.host:
                first.wait(60)
            else:
                started[module].set()  # the worker got here: the first listing is over
                second.wait(60)
            return real(registry_, *args, **kwargs)
        monkeypatch.setattr(module, name, listing)

    held(image_table, "images")
    held(namespace_table, "namespaces")
    held(cleanup_panel, "namespaces")
    dash = Dashboard([registry.host], remember_added=False)
    bar = dash.registry_bar
    bar.new_registry.value = registry_b.host
    bar.add_button.click()
    panels = (dash.image_table, dash.namespace_table, dash.cleanup_panel)

    def nothing_of_the_first() -> None:
        for panel in panels:
            assert registry.host not in panel.title.value, panel.title.value
        assert dash.image_table.frame.empty and dash.namespace_table.frame.empty
        assert dash.image_table.rows_registry is None is dash.namespace_table.rows_registry
        assert list(dash.cleanup_panel.namespace_choice.options) == []

    nothing_of_the_first()
    first.set()
    for event in started.values():
        assert event.wait(60)
    nothing_of_the_first()  # the first registry's listings came back: dropped
    second.set()
    settle(dash)

    assert bar.value == registry_b.host
    assert dash.image_table.rows_registry == dash.namespace_table.rows_registry == registry_b.host
    assert set(dash.image_table.frame["reference"]) >= {theirs.reference}
    assert all(ref.startswith(registry_b.host + "/")
               for ref in dash.image_table.frame["reference"])
    assert app["ns"] not in set(dash.namespace_table.frame["namespace"])
    assert app["ns"] not in dash.cleanup_panel.namespace_choice.options
    for panel in panels + (dash.trash_panel,):
        assert registry_b.host in panel.title.value and registry.host not in panel.title.value


def test_a_table_built_without_a_registry_keeps_the_frame_it_is_shown(monkeypatch):
    # The render benchmark builds ImageTable() and shows a frame at once. A worker that
    # emptied the table "because there is no registry" raced that show_frame and, on a busy
    # machine, won: the rows vanished. Nothing to list is done at once, in the caller.
    from benchmarks.render_bench import synthetic_images

    real = ImageTable._refresh_now

    def slow_worker(self, **kwargs):
        time.sleep(0.5)  # a loaded machine, made certain
        return real(self, **kwargs)

    monkeypatch.setattr(ImageTable, "_refresh_now", slow_worker)
    table = ImageTable()
    table.show_frame(synthetic_images(50))
    table.wait(timeout=30)
    assert len(table.shown) == 50
