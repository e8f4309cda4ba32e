"""The widgets, driven as a person would: select rows, click buttons. Against real registries
(and the real engine for Pull, Push and Build); what the registries hold afterwards is read
back with the stack's independent HTTP oracle, never with the widgets or the verbs.

Every button is clicked with ``.click()``, which runs the callbacks exactly as a browser
click does, so an exception that escaped a callback would fail these tests.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

import ipywidgets
import pandas as pd
import pytest

from registry_widgets.errors import RegistryWidgetsError, Unauthorized, Unreachable
from registry_widgets.operations import clients
from registry_widgets.progress import ProgressEvent
from registry_widgets.stack._process import free_port
from registry_widgets.widgets import (BuildPanel, Dashboard, ImageTable, NamespaceTable,
                                      ProgressView)
from tests.support.oracle import ACCEPT_ALL, RawClient
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

    table = ImageTable(registry.host, namespace_of(unique_repo))

    assert_ok(table)
    rows = json.loads(table.table._dt_args["data_json"])
    assert [(r[0], r[1], r[3]) for r in rows] == [
        (unique_repo, "multi", "linux/amd64, linux/arm64/v8"),
        (unique_repo, "single", "linux/amd64")]
    assert "rw-image-table" in table._dom_classes and "rw-image-grid" in table.table._dom_classes
    assert table.table._dt_args["select"] is True
    assert "search" in table.table._dt_args["layout"]["topEnd"]  # even for two rows


def test_refresh_shows_a_newly_pushed_tag(registry, app):
    table = ImageTable(registry.host, app["ns"])
    assert shown_tags(table) == ["1.0", "2.0", "latest"]
    push_image(registry, app["repo"], "3.0", layer_sizes=(100,), seed="new")

    table.refresh_button.click()

    assert_ok(table)
    assert shown_tags(table) == ["1.0", "2.0", "3.0", "latest"]
    assert "4 tag(s)" in table.message.text


def test_remove_tag_plans_first_then_removes_only_that_tag(registry, app):
    table = ImageTable(registry.host, app["ns"])
    table.table.selected_rows = [0]  # 1.0, which shares its digest with latest

    table.remove_tag_button.click()

    assert_ok(table)
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]  # nothing deleted yet
    plan = table.confirmation.plan.value
    assert f"Remove tag {registry.host}/{app['repo']}:1.0" in plan
    assert "keeps:    tags latest (same digest)" in plan
    assert "Nothing has been deleted yet" in plan
    assert table.confirmation.layout.display is None and table.confirmation.pending

    table.confirm_button.click()

    assert_ok(table)
    assert tags_of(registry, app["repo"]) == ["2.0", "latest"]
    assert digest_at(registry, app["repo"], "latest") == app["one"].digest
    assert shown_tags(table) == ["2.0", "latest"]  # refreshed
    assert table.confirmation.layout.display == "none" and not table.confirmation.pending


def test_delete_digest_lists_the_co_tags_that_go_with_it(registry, app):
    table = ImageTable(registry.host, app["ns"])
    table.select(f"{registry.host}/{app['repo']}:latest")

    table.delete_digest_button.click()

    assert_ok(table)
    plan = table.confirmation.plan.value
    assert f"Delete image {registry.host}/{app['repo']}@{app['one'].digest}" in plan
    assert "every tag on it: 1.0, latest" in plan
    assert "2 tag(s) and 1 digest(s) removed" in plan
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]

    table.confirm_button.click()

    assert_ok(table)
    assert tags_of(registry, app["repo"]) == ["2.0"]
    assert digest_at(registry, app["repo"], app["one"].digest) is None
    assert digest_at(registry, app["repo"], "2.0") == app["two"].digest


def test_remove_tag_on_several_rows_removes_each_selected_tag(registry, app):
    table = ImageTable(registry.host, app["ns"])
    table.table.selected_rows = [2, 0]  # latest and 1.0: both tags of one digest
    table.remove_tag_button.click()
    assert "Tags that go: " in table.confirmation.plan.value
    assert f"{app['repo']}:latest, {app['repo']}:1.0" in table.confirmation.plan.value
    table.confirm_button.click()
    assert_ok(table)
    assert tags_of(registry, app["repo"]) == ["2.0"]
    # untagged now, but kept: removing tags never deletes the image
    assert digest_at(registry, app["repo"], app["one"].digest) == app["one"].digest


def test_cancel_forgets_the_plan_and_deletes_nothing(registry, app):
    table = ImageTable(registry.host, app["ns"])
    table.table.selected_rows = [0, 1]
    table.delete_digest_button.click()
    assert table.confirmation.pending

    table.cancel_button.click()

    assert not table.confirmation.pending and table.confirmation.plan.value == ""
    table.confirm_button.click()  # a stray Confirm after Cancel does nothing but say so
    assert isinstance(table.last_error, ValueError)
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]


def test_a_new_selection_cancels_a_pending_plan(registry, app):
    table = ImageTable(registry.host, app["ns"])
    table.table.selected_rows = [0]
    table.remove_tag_button.click()
    table.table.selected_rows = [1]  # the plan was for 1.0: Confirm must not delete 2.0
    assert not table.confirmation.pending
    table.confirm_button.click()
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]


def test_a_platform_of_an_index_is_blocked_and_confirm_is_disabled(registry, unique_repo):
    child = push_image(registry, unique_repo, "amd64-only", layer_sizes=(500,), seed="blocked")
    push_index(registry, unique_repo, "multi", [child])
    table = ImageTable(registry.host, namespace_of(unique_repo))
    table.select(f"{registry.host}/{unique_repo}:amd64-only")

    table.delete_digest_button.click()

    assert "BLOCKED" in table.confirmation.plan.value
    assert table.confirm_button.disabled
    table.confirm_button.click()
    assert tags_of(registry, unique_repo) == ["amd64-only", "multi"]


def test_copy_to_another_registry_and_namespace(registry, registry_b, app):
    table = ImageTable(registry.host, app["ns"])
    table.table.selected_rows = [0, 1]  # 1.0 and 2.0
    target_ns = f"copied-{uuid.uuid4().hex[:6]}"
    name = app["repo"].split("/", 1)[1]
    table.copy_registry.value = registry_b.host
    table.copy_namespace.value = target_ns

    table.copy_button.click()

    assert_ok(table)
    assert digest_at(registry_b, f"{target_ns}/{name}", "1.0") == app["one"].digest
    assert digest_at(registry_b, f"{target_ns}/{name}", "2.0") == app["two"].digest
    assert tags_of(registry_b, f"{target_ns}/{name}") == ["1.0", "2.0"]
    assert table.progress.overall.value == 100 and table.progress.overall.bar_style == "success"
    assert table.progress.bars  # one bar per blob
    assert "copy" in table.message.text


def test_copy_with_a_new_tag_needs_a_single_row(registry, registry_b, app):
    table = ImageTable(registry.host, app["ns"])
    table.copy_registry.value = registry_b.host
    table.copy_tag.value = "stable"
    table.table.selected_rows = [0, 1]
    table.copy_button.click()
    assert "would overwrite each other" in table.message.text
    table.table.selected_rows = [1]
    table.copy_button.click()
    assert_ok(table)
    assert digest_at(registry_b, app["repo"], "stable") == app["two"].digest


def test_an_error_is_a_red_message_with_what_to_do_and_is_never_raised(registry, app, caplog):
    dead = f"127.0.0.1:{free_port()}"
    clients.configure(dead, retries=1, backoff=0.05)
    table = ImageTable(registry.host, app["ns"])
    table.table.selected_rows = [0]
    table.copy_registry.value = dead

    with caplog.at_level(logging.WARNING, logger="registry_widgets.widgets"):
        table.copy_button.click()  # raises nothing

    assert isinstance(table.last_error, Unreachable)
    assert table.message.kind == "error"
    assert dead in table.message.text
    assert "color:#b00020" in table.message.value and 'class="rw-error"' in table.message.value
    assert table.progress.overall.bar_style == "danger"
    assert any(r.name == "registry_widgets.widgets" for r in caplog.records)
    table.table.selected_rows = [1]  # selecting a row keeps the message of the last action
    assert table.message.kind == "error" and table.last_error is not None
    # the next successful action clears it
    table.refresh_button.click()
    assert_ok(table)


def test_buttons_without_a_selection_say_so(registry, app):
    table = ImageTable(registry.host, app["ns"])
    for button in (table.pull_button, table.copy_button, table.remove_tag_button,
                   table.delete_digest_button, table.inspect_button, table.pull_command_button):
        button.click()
        assert isinstance(table.last_error, ValueError)
        assert "select one or more rows" in table.message.text
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]


def test_inspect_shows_digest_platforms_labels_size_and_pull_command(registry, app):
    table = ImageTable(registry.host, app["ns"])
    table.table.selected_rows = [0]

    table.inspect_button.click()

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
    assert app["one"].manifest.decode() in text


def test_copy_pull_command(registry, app):
    table = ImageTable(registry.host, app["ns"])
    table.table.selected_rows = [2, 0]
    table.pull_command_button.click()
    assert table.output.value == (f"docker pull {registry.host}/{app['repo']}:latest\n"
                                  f"docker pull {registry.host}/{app['repo']}:1.0")


def test_export_csv_writes_the_rows_shown(registry, app, tmp_path):
    table = ImageTable(registry.host, app["ns"])
    table.filter_text.value = "tag:1.0"
    table.export_path.value = str(tmp_path / "images.csv")

    table.export_button.click()

    assert_ok(table)
    back = pd.read_csv(tmp_path / "images.csv")
    assert list(back["tag"].astype(str)) == ["1.0"]
    assert back["digest"][0] == app["one"].digest
    assert back["platforms"][0] == "linux/amd64"
    assert back["reference"][0] == f"{registry.host}/{app['repo']}:1.0"
    assert str(tmp_path / "images.csv") in table.message.text
    assert table.output.value.splitlines()[0].startswith("namespace,repository,tag,digest")


def test_filter_narrows_the_table_and_selection_maps_to_the_filtered_rows(registry, app):
    table = ImageTable(registry.host, app["ns"])
    table.filter_text.value = "tag:latest"
    assert shown_tags(table) == ["latest"]
    table.table.selected_rows = [0]
    assert table.selected_references == [f"{registry.host}/{app['repo']}:latest"]
    table.filter_text.value = "colour:red"
    assert "no column 'colour'" in table.message.text


def test_ten_thousand_rows_stay_one_table_and_select_by_position(registry):
    table = ImageTable("")
    base = {"namespace": "big", "repository": "big/app", "digest": "sha256:" + "c" * 64,
            "media_type": "application/vnd.oci.image.manifest.v1+json",
            "platforms": ["linux/amd64"], "size": 12_345_678,
            "size_per_platform": {"linux/amd64": 12_345_678},
            "created": pd.Timestamp("2024-01-01", tz="UTC"), "labels": {}}
    frame = pd.DataFrame([{**base, "tag": f"t{i}", "reference": f"{registry.host}/big/app:t{i}"}
                          for i in range(10_000)])
    start = time.perf_counter()
    table.show_frame(frame)
    assert time.perf_counter() - start < 3
    assert len(json.loads(table.table._dt_args["data_json"])) == 10_000
    assert len(table.table._dt_args["data_json"]) < 1_600_000
    table.table.selected_rows = [9_999, 42]
    assert table.selected_references == [f"{registry.host}/big/app:t9999",
                                         f"{registry.host}/big/app:t42"]


# -- NamespaceTable ----------------------------------------------------------------------------

def test_namespace_table_lists_counts_sizes_and_selects(registry, app):
    table = NamespaceTable(registry.host)
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
    table = NamespaceTable(registry.host)
    name = f"planned-{uuid.uuid4().hex[:6]}"
    table.new_namespace.value = name

    table.add_button.click()

    assert_ok(table)
    row = table.frame.set_index("namespace").loc[name]
    assert (row["repositories"], row["tags"], row["size"], row["declared"]) == (0, 0, 0, True)
    assert table.new_namespace.value == ""
    table.new_namespace.value = "Not/Valid"
    table.add_button.click()
    assert isinstance(table.last_error, RegistryWidgetsError)
    assert table.message.kind == "error"


def test_remove_namespace_shows_what_goes_and_deletes_only_on_confirm(registry, app):
    other = push_image(registry, f"{app['ns']}/second", "v1", layer_sizes=(100,), seed="second")
    table = NamespaceTable(registry.host)
    table.select(app["ns"])

    table.remove_button.click()

    assert_ok(table)
    plan = table.confirmation.plan.value
    assert "2 repositories:" in plan and f"  {app['repo']}" in plan
    assert "4 tags:" in plan and f"  {app['repo']}:latest" in plan
    assert f"  {app['repo']}@{app['one'].digest}" in plan
    assert f"  {app['ns']}/second@{other.digest}" in plan
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]  # not yet

    table.cancel_button.click()
    assert tags_of(registry, app["repo"]) == ["1.0", "2.0", "latest"]
    table.remove_button.click()
    table.confirm_button.click()

    assert_ok(table)
    assert tags_of(registry, app["repo"]) == []
    assert tags_of(registry, f"{app['ns']}/second") == []
    assert app["ns"] not in set(table.frame["namespace"])
    assert table.selected is None


def test_removing_a_declared_empty_namespace_forgets_it(registry):
    table = NamespaceTable(registry.host)
    name = f"empty-{uuid.uuid4().hex[:6]}"
    table.new_namespace.value = name
    table.add_button.click()
    table.select(name)
    table.remove_button.click()
    assert "0 repositories" in table.confirmation.plan.value
    table.confirm_button.click()
    assert_ok(table)
    assert name not in set(table.frame["namespace"])


def test_remove_namespace_without_a_selection_says_so(registry):
    table = NamespaceTable(registry.host)
    table.remove_button.click()
    assert "select a namespace" in table.message.text and not table.confirmation.pending


# -- credentials and errors from the registry --------------------------------------------------

def test_a_registry_that_wants_a_login_says_so_and_no_secret_reaches_widget_state(
        basic_registry, unique_repo):
    push_image(basic_registry, unique_repo, "1", layer_sizes=(100,), seed="basic")
    clients.configure(basic_registry.host, ca_bundle=str(basic_registry.ca_file))
    anonymous = ImageTable(basic_registry.host)
    assert isinstance(anonymous.last_error, Unauthorized)
    assert "Log in first" in anonymous.message.text

    clients.configure(basic_registry.host, ca_bundle=str(basic_registry.ca_file),
                      credentials=basic_registry.auth)
    dash = Dashboard({"secured": basic_registry.host})
    dash.image_table.refresh_button.click()
    assert_ok(dash.image_table)
    assert "1" in shown_tags(dash.image_table)

    from ipywidgets.widgets.widget import _instances
    states = json.dumps([widget.get_state() for widget in list(_instances.values())], default=str)
    assert basic_registry.password not in states
    assert basic_registry.username not in states


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
    table = ImageTable(registry.host, ns)
    table.push_source.value = base_image  # registry-widgets/busybox:latest
    local_names.append(f"{registry.host}/{ns}/busybox:latest")

    table.push_button.click()

    assert_ok(table)
    assert tags_of(registry, f"{ns}/busybox") == ["latest"]
    assert shown_tags(table) == ["latest"]  # refreshed
    assert table.progress.overall.bar_style == "success"
    assert "push" in table.message.text


def test_pull_button_pulls_the_selected_image_into_the_engine(registry, unique_repo, base_image,
                                                             docker_client, local_names):
    ns = namespace_of(unique_repo)
    table = ImageTable(registry.host, ns)
    table.push_source.value = base_image
    table.push_button.click()
    ref = f"{registry.host}/{ns}/busybox:latest"
    docker_client.images.remove(ref)  # only the name: the pull must bring it back
    local_names.append(ref)
    table.select(ref)

    table.pull_button.click()

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
    panel = BuildPanel(registry.host, ns)
    pushed: list = []
    panel.on_pushed(pushed.append)
    panel.context_dir.value = str(context)
    panel.image_name.value = "hello:1.0"
    panel.test_run.value = True
    ref = f"{registry.host}/{ns}/hello:1.0"
    local_names.append(ref)
    assert ref in panel.target.value

    panel.build_button.click()

    assert_ok(panel)
    assert panel.built == ref
    assert "hello from the panel" in panel.run_logs.value
    assert "exit code 0" in panel.message.text
    assert tags_of(registry, f"{ns}/hello") == []  # built, not pushed

    panel.push_button.click()

    assert_ok(panel)
    assert tags_of(registry, f"{ns}/hello") == ["1.0"]
    assert pushed == [ref]


def test_build_errors_are_shown(registry, base_image, docker_client, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\nRUN exit 3\n")
    panel = BuildPanel(registry.host, "team")
    panel.build_button.click()
    assert "give the folder" in panel.message.text
    panel.context_dir.value = str(tmp_path)
    panel.image_name.value = "doomed:1"
    panel.build_button.click()
    assert isinstance(panel.last_error, RegistryWidgetsError)
    assert panel.message.kind == "error"
    assert panel.progress.overall.bar_style == "danger"


# -- Dashboard ---------------------------------------------------------------------------------

def test_dashboard_links_registry_namespace_images_and_build(registry, registry_b, app,
                                                            unique_repo):
    elsewhere = push_image(registry_b, f"b-{uuid.uuid4().hex[:6]}/tool", "9", layer_sizes=(100,),
                           seed=unique_repo)
    dash = Dashboard({"A": registry.host, "B": registry_b.host})
    assert dash.registry == registry.host
    assert dash.tabs.titles == ("Images", "Build")

    dash.namespace_table.select(app["ns"])
    assert dash.image_table.namespace == app["ns"]
    assert shown_tags(dash.image_table) == ["1.0", "2.0", "latest"]
    assert dash.build_panel.namespace == app["ns"]

    dash.registry_chooser.value = registry_b.host
    assert dash.namespace_table.registry == dash.image_table.registry == registry_b.host
    assert dash.image_table.namespace is None and dash.build_panel.registry == registry_b.host
    assert elsewhere.repository in set(dash.image_table.frame["repository"])
    assert namespace_of(elsewhere.repository) in set(dash.namespace_table.frame["namespace"])


def test_a_namespace_in_both_registries_stays_chosen_when_the_registry_changes(
        registry, registry_b, app):
    twin = push_image(registry_b, f"{app['ns']}/twin", "b", layer_sizes=(100,), seed="twin")
    dash = Dashboard([registry.host, registry_b.host])
    dash.namespace_table.select(app["ns"])

    dash.registry_chooser.value = registry_b.host

    assert dash.namespace_table.selected == app["ns"]
    assert (dash.image_table.registry, dash.image_table.namespace) == (registry_b.host, app["ns"])
    assert list(dash.image_table.frame["reference"]) == [twin.reference]


def test_every_button_and_area_has_a_stable_css_class(registry):
    dash = Dashboard([registry.host])
    classes = []

    def walk(widget):
        classes.extend(getattr(widget, "_dom_classes", ()))
        for child in getattr(widget, "children", ()):
            walk(child)

    walk(dash)
    for name in ("rw-dashboard", "rw-registry-chooser", "rw-namespace-table", "rw-ns-refresh",
                 "rw-ns-add", "rw-ns-remove", "rw-ns-confirm", "rw-ns-cancel", "rw-ns-plan",
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
    dash = Dashboard([registry.host])
    dash.namespace_table.select(ns)
    panel = dash.build_panel
    panel.context_dir.value = str(tmp_path)
    panel.image_name.value = "built:2"
    local_names.append(f"{registry.host}/{ns}/built:2")

    panel.build_button.click()
    panel.push_button.click()

    assert_ok(panel)
    assert tags_of(registry, f"{ns}/built") == ["2"]
    assert set(dash.image_table.frame["repository"]) == {unique_repo, f"{ns}/built"}
    assert dash.namespace_table.frame.set_index("namespace").loc[ns, "repositories"] == 2
