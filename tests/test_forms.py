"""The dashboard's forms (issue 25): the Log in tab keeps a CA set in code and has the
Refresh its words promise; fields carry visible labels; registry fields choose from the bar;
Sync applies only what was previewed; Enter adds a registry.

Real registries (the HTTPS one with basic auth and its private CA for the login), buttons
fired with ``.click()`` and waited for; what a registry holds is read with the raw-HTTP
oracle.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path

import ipywidgets as w
import pandas as pd
import pytest

from registry_widgets.operations.core import clients
from registry_widgets.operations.core.clients import configure
from registry_widgets.widgets import Dashboard, ImageTable, LoginPanel, NamespaceTable
from tests.support import push_image


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def settled(panel):
    """``panel`` once what it started has finished (its errors stay in the panel)."""
    try:
        panel.wait(timeout=120)
    except TimeoutError:
        raise
    except Exception:  # noqa: BLE001 - the tests read last_error and the message
        pass
    return panel


def click(panel, button):
    button.click()
    return settled(panel)


def ok(panel) -> None:
    assert panel.last_error is None and panel.message.kind == "status", panel.message.text


# -- Log in ------------------------------------------------------------------------------------

def test_a_login_with_the_ca_box_empty_keeps_the_ca_configured_in_code(basic_registry):
    configure(basic_registry.host, ca_bundle=str(basic_registry.ca_file))
    login = LoginPanel(basic_registry.host)
    login.username.value, _ = basic_registry.auth
    login.password.value = basic_registry.password
    assert login.ca_file.value == ""

    click(login, login.login_button)

    ok(login)  # before the fix: a TLS failure, the CA was dropped
    assert f"as {basic_registry.username}" in login.message.text
    # and forgetting the login keeps the CA too: the registry still answers over TLS
    click(login, login.logout_button)
    ok(login)
    assert clients.configured(basic_registry.host)[1] == {
        "ca_bundle": str(basic_registry.ca_file)}


def test_refresh_in_the_log_in_tab_reads_a_docker_login_made_meanwhile(basic_registry,
                                                                      unique_repo):
    push_image(basic_registry, unique_repo, "1", layer_sizes=(100,), seed=unique_repo)
    configure(basic_registry.host, ca_bundle=str(basic_registry.ca_file))
    login = LoginPanel(basic_registry.host)
    assert "press Refresh" in login.heading.value and login.refresh_button in \
        login.children[2].children
    click(login, login.refresh_button)
    assert login.message.kind == "error"  # nobody logged in yet: the registry says so

    # what `docker login HOST` leaves behind (DOCKER_CONFIG is this test's own: conftest)
    user, password = basic_registry.auth
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (Path(os.environ["DOCKER_CONFIG"]) / "config.json").write_text(
        json.dumps({"auths": {basic_registry.host: {"auth": auth}}}))
    told = []
    login.on_login(lambda registry, who: told.append(registry))
    click(login, login.refresh_button)

    ok(login)
    assert told == [basic_registry.host]  # the dashboard lists the registry again


# -- labels, registry boxes, Enter --------------------------------------------------------------

FIELDS = (w.Text, w.Password, w.Combobox, w.Dropdown, w.IntText, w.BoundedIntText, w.Checkbox)


def fields_of(widget) -> list:
    """Every input field inside ``widget`` (the read-only text areas are output, not fields)."""
    found = [widget] if isinstance(widget, FIELDS) or (
        isinstance(widget, w.Textarea) and not widget.disabled) else []
    for child in getattr(widget, "children", ()) or ():
        found += fields_of(child)
    return found


def test_every_field_of_every_tab_has_a_visible_label(registry):
    dash = settled(Dashboard([registry.host], remember_added=False))
    fields = fields_of(dash)
    assert len(fields) > 30  # every tab's, the bar's and the Clean up sections'
    unlabelled = [f"{type(f).__name__} {f._dom_classes} {getattr(f, 'placeholder', '')!r}"
                  for f in fields if not f.description.strip()]
    assert not unlabelled, "fields named only by a placeholder:\n" + "\n".join(unlabelled)


def test_registry_boxes_offer_the_bars_registries_and_take_a_typed_host(registry, registry_b):
    dash = settled(Dashboard([registry.host], remember_added=False))
    assert dash.image_table.copy_registry.options == (registry.host,)
    assert dash.sync_panel.target.options == (f"{registry.host}/",)
    dash.registry_bar.new_registry.value = registry_b.host
    # Enter in the box, as the browser sends it
    dash.registry_bar.new_registry._handle_string_msg(None, {"event": "submit"}, None)
    settled(dash)
    assert dash.registry == registry_b.host
    assert registry_b.host in dash.image_table.copy_registry.options
    assert f"{registry_b.host}/" in dash.sync_panel.target.options
    assert not dash.image_table.copy_registry.ensure_option  # any host may be typed


def test_a_box_that_takes_a_registry_answers_in_a_registrys_terms(registry, unique_repo):
    push_image(registry, unique_repo, "1", layer_sizes=(100,), seed=unique_repo)
    bar = settled(Dashboard([registry.host], remember_added=False)).registry_bar
    bar.new_registry.value = "registry.example.com/team"
    bar.add_button.click()
    assert bar.message.kind == "error"
    assert "Expected a registry host, like registry.example.com:5000" in bar.message.text
    assert "'add a registry'" in bar.message.text and "registry/namespace" not in \
        bar.message.text
    assert "registry.example.com/team" not in bar.registries

    table = settled(ImageTable(registry.host, unique_repo.split("/")[0]))
    table.table.selected_rows = [0]
    table.copy_registry.value = "not a host"
    click(table, table.copy_button)
    assert table.message.kind == "error" and "'to registry'" in table.message.text
    assert "Expected a registry host" in table.message.text


def test_adding_a_namespace_says_it_is_only_remembered_here(registry):
    table = settled(NamespaceTable(registry.host))
    table.new_namespace.value = "planned-words"
    click(table, table.add_button)
    ok(table)
    assert "remembered here" in table.message.text and "not created on" in table.message.text


def test_sync_source_follows_the_chooser_and_apply_waits_for_a_preview(registry, registry_b,
                                                                      unique_repo):
    push_image(registry, unique_repo, "1.0", layer_sizes=(100,), seed=unique_repo)
    ns = unique_repo.split("/")[0]
    dash = settled(Dashboard([registry_b.host, registry.host], remember_added=False))
    sync = dash.sync_panel
    dash.registry_chooser.value = registry.host
    settled(dash)
    assert sync.source.value.startswith(f"{registry.host}/")
    sync.source.value = f"{registry.host}/{ns}"
    sync.target.value = f"{registry_b.host}/{ns}-mirror"
    assert sync.apply_button.disabled  # nothing previewed
    click(sync, sync.preview_button)
    ok(sync)
    assert not sync.apply_button.disabled
    sync.tags.value = "^2"  # another input: the preview no longer describes it
    assert sync.apply_button.disabled


def test_export_says_what_it_exports_the_selection_or_every_row_shown(registry, unique_repo,
                                                                      tmp_path):
    for tag in ("1.0", "1.9", "1.10"):
        push_image(registry, unique_repo, tag, layer_sizes=(100,), seed=unique_repo + tag)
    table = settled(ImageTable(registry.host, unique_repo.split("/")[0]))
    assert "the selected rows, or every row the search shows" in table.export.scope.value
    table.export_path.value = str(tmp_path / "images.csv")

    click(table, table.export_button)
    ok(table)
    assert "every row the search shows (3 rows)" in table.message.text
    assert list(pd.read_csv(tmp_path / "images.csv", dtype=str)["tag"]) == [
        "1.0", "1.9", "1.10"]  # in version order, as the table shows them

    table.select(f"{registry.host}/{unique_repo}:1.10")
    click(table, table.export_button)
    ok(table)
    assert "the 1 selected row" in table.message.text
    assert list(pd.read_csv(tmp_path / "images.csv", dtype=str)["tag"]) == ["1.10"]


# -- the bar and a switch mid-action -----------------------------------------------------------

def test_the_bar_shows_a_registry_that_went_down_after_the_next_action(registry_factory):
    reg = registry_factory()
    dash = settled(Dashboard([reg.host], remember_added=False))
    assert "reachable" in dash.registry_bar.state.value
    reg.stop()
    try:
        click(dash, dash.image_table.refresh_button)
        settled(dash)
        state = dash.registry_bar.state.value
        assert f"{reg.host}: down" in state and "reachable" not in state
        assert "#b00020" in state  # red, not the green of its last check
    finally:
        reg.start()
    click(dash, dash.image_table.refresh_button)
    settled(dash)
    assert "reachable" in dash.registry_bar.state.value


def test_a_copys_result_stays_readable_after_a_registry_switch(registry, registry_b,
                                                              unique_repo):
    push_image(registry, unique_repo, "1", layer_sizes=(100,), seed=unique_repo)
    ns = unique_repo.split("/")[0]
    dash = settled(Dashboard([registry.host, registry_b.host], remember_added=False))
    table = dash.image_table
    dash.namespace_table.select(ns)
    settled(dash)
    table.table.selected_rows = [0]
    table.copy_registry.value = registry_b.host
    running, release = threading.Event(), threading.Event()
    update = table.progress.update

    def held(event) -> None:  # the copy waits, mid-way, until the switch was made
        running.set()
        release.wait(60)
        update(event)

    table.progress.update = held
    table.copy_button.click()
    assert running.wait(60)
    dash.registry_chooser.value = registry_b.host  # a switch while the copy runs
    release.set()
    settled(dash)

    assert table.rows_registry == registry_b.host  # the new registry is listed
    assert f"copy {registry.host}/{unique_repo}:1 -> {registry_b.host}/{unique_repo}:1" in \
        table.message.text, table.message.text
    assert f"in {registry_b.host}" in table.message.text
