"""The "Clean up" panel: Preview shows the retention (or prune) plan, only Apply (a second
click) deletes, and only on the registry the panel names and the plan was made on.

Real registries, buttons fired with ``.click()`` (no browser) and waited for (the panel works
in its worker thread); the registries' tags are read back with the raw-HTTP oracle.
"""

from __future__ import annotations

import json
import secrets
import threading

import pytest

from registry_widgets.operations.core import clients
from registry_widgets.operations.cleanup.retention import set_retention_policy
from tests.support import RawClient, push_image
from tests.support.oracle import get_manifest
from registry_widgets.widgets import CleanupPanel, Dashboard
from registry_widgets.widgets.cleanup_panel import plan_display


@pytest.fixture(autouse=True)
def fresh():
    clients.reset()
    yield
    clients.reset()


def tags_of(registry, repository):
    r = RawClient(registry).request("GET", f"/v2/{repository}/tags/list",
                                    scope=f"repository:{repository}:pull")
    return {t: get_manifest(registry, repository, t).digest for t in r.json().get("tags") or []}


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
    settled(panel)


@pytest.fixture
def namespace(registry):
    ns = f"clean-{secrets.token_hex(3)}"
    for i, tag in enumerate(("1.0", "1.1", "2.0")):
        push_image(registry, f"{ns}/app", tag, seed=f"{ns}-{tag}",
                   created=f"2024-0{i + 1}-01T00:00:00Z")
    return ns


def test_preview_then_apply_deletes_exactly_the_previewed_plan(registry, namespace):
    panel = settled(CleanupPanel(registry.host, namespace))
    assert panel.namespace_choice.value == namespace and panel.apply_button.disabled
    assert panel.title.value == f"<b>Clean up {registry.host}</b>"
    panel.keep.value = "1"
    click(panel, panel.preview_button)
    assert panel.last_error is None, panel.message.value
    shown = plan_display(panel.frame)
    assert list(shown[shown.action == "remove"].tag) == ["1.0", "1.1"]
    assert "2 of 3 tags go" in panel.summary.value
    assert not panel.apply_button.disabled
    assert set(tags_of(registry, f"{namespace}/app")) == {"1.0", "1.1", "2.0"}, \
        "a preview deleted something"

    panel.keep.value = "2"  # a setting that was not previewed forgets the preview
    assert panel.apply_button.disabled and panel.preview is None
    click(panel, panel.preview_button)
    click(panel, panel.apply_button)
    assert panel.last_error is None, panel.message.value
    assert set(tags_of(registry, f"{namespace}/app")) == {"1.1", "2.0"}
    assert "Removed 1 tag" in panel.message.value


def test_apply_refuses_when_the_registry_changed_since_the_preview(registry, namespace):
    panel = settled(CleanupPanel(registry.host, namespace))
    panel.keep.value = "1"
    click(panel, panel.preview_button)
    push_image(registry, f"{namespace}/app", "1.0", seed="moved", created="2023-01-01T00:00:00Z")
    before = tags_of(registry, f"{namespace}/app")
    click(panel, panel.apply_button)
    assert "changed since" in panel.message.value
    assert tags_of(registry, f"{namespace}/app") == before


def test_bad_settings_are_a_message_and_the_saved_policy_fills_the_form(registry, namespace):
    set_retention_policy(f"{registry.host}/{namespace}", keep=2, older_than="30d")
    panel = settled(CleanupPanel(registry.host, namespace))
    assert (panel.keep.value, panel.older_than.value) == ("2", "30d")
    panel.older_than.value = "a month"
    click(panel, panel.preview_button)
    assert "not a duration" in panel.message.value and panel.apply_button.disabled
    click(panel, panel.apply_button)  # disabled in a browser; a click still explains itself
    assert "Clean up: press Preview first" in panel.message.value
    panel.keep.value = "two"
    click(panel, panel.preview_button)
    assert "Clean up: the box 'keep newest' takes a whole number" in panel.message.text


# -- bound to the registry it names (issue 21, bug (a)) ---------------------------------------

@pytest.fixture
def twins(registry, registry_b):
    """The same namespace in both registries (as ``tutorial`` is in a lab and its mirror),
    each with a namespace of its own besides."""
    ns = f"tut-{secrets.token_hex(3)}"
    only = {}
    for reg in (registry, registry_b):
        for i, tag in enumerate(("1.0", "1.1", "2.0")):
            push_image(reg, f"{ns}/busybox", tag, seed=f"{reg.host}-{ns}-{tag}",
                       created=f"2024-0{i + 1}-01T00:00:00Z")
        only[reg.host] = f"only-{secrets.token_hex(3)}"
        push_image(reg, f"{only[reg.host]}/tool", "1", seed=only[reg.host])
    return {"ns": ns, "only": only}


def previewed_dashboard(registry, registry_b, twins):
    dash = settled(Dashboard([registry.host, registry_b.host], remember_added=False))
    panel = dash.cleanup_panel
    panel.namespace_choice.value = twins["ns"]
    panel.keep.value = "1"
    click(panel, panel.preview_button)
    assert panel.last_error is None, panel.message.text
    assert not panel.apply_button.disabled and panel.plan_registry == registry.host
    return dash, panel


def test_clean_up_follows_the_chosen_registry_and_refuses_the_old_registrys_plan(
        registry, registry_b, twins):
    dash, panel = previewed_dashboard(registry, registry_b, twins)
    before = {r.host: tags_of(r, f"{twins['ns']}/busybox") for r in (registry, registry_b)}

    dash.registry_chooser.value = registry_b.host
    # At once, before the new listing: nothing of the old registry under the new heading.
    assert registry_b.host in panel.title.value and registry.host not in panel.title.value
    assert panel.frame.empty and panel.apply_button.disabled
    assert twins["only"][registry.host] not in panel.namespace_choice.options
    settled(dash)

    assert panel.title.value == f"<b>Clean up {registry_b.host}</b>"
    assert twins["only"][registry_b.host] in panel.namespace_choice.options
    assert twins["only"][registry.host] not in panel.namespace_choice.options
    click(panel, panel.apply_button)

    assert isinstance(panel.last_error, ValueError)
    assert f"made on {registry.host}" in panel.message.text
    assert f"registry is now {registry_b.host}" in panel.message.text
    assert "Press Preview again" in panel.message.text
    after = {r.host: tags_of(r, f"{twins['ns']}/busybox") for r in (registry, registry_b)}
    assert after == before, "a plan was applied on a registry the panel did not show it for"


def test_an_apply_clicked_before_a_registry_switch_is_refused_when_it_runs(
        registry, registry_b, twins):
    """The plan goes with the click: the worker is held, Apply is clicked (the plan of the
    first registry), the registry is switched, then the worker runs the Apply."""
    dash, panel = previewed_dashboard(registry, registry_b, twins)
    before = {r.host: tags_of(r, f"{twins['ns']}/busybox") for r in (registry, registry_b)}
    gate = threading.Event()
    panel.start("hold", gate.wait)
    panel.apply_button._click_handlers(panel.apply_button)  # as a click on the enabled button
    dash.registry_chooser.value = registry_b.host
    gate.set()
    settled(dash)

    assert f"made on {registry.host}" in panel.message.text, panel.message.text
    after = {r.host: tags_of(r, f"{twins['ns']}/busybox") for r in (registry, registry_b)}
    assert after == before


# -- prune beside retention --------------------------------------------------------------------

def manifest_status(reg, repository, digest):
    return RawClient(reg).request("HEAD", f"/v2/{repository}/manifests/{digest}",
                                  scope=f"repository:{repository}:pull",
                                  headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}
                                  ).status_code


def test_prune_preview_shows_the_untagged_manifests_and_apply_deletes_exactly_those(embedded):
    old = push_image(embedded, "team/app", "1.0", seed="old", created="2024-01-01T00:00:00Z")
    new = push_image(embedded, "team/app", "1.0", seed="new", created="2024-02-01T00:00:00Z")
    keep = push_image(embedded, "team/db", "1.0", seed="db")
    panel = settled(CleanupPanel(embedded.host, "team"))
    assert panel.prune_apply_button.disabled

    click(panel, panel.prune_preview_button)

    assert panel.last_error is None, panel.message.text
    assert [c.reference for c in panel.prune_plan.changes] == [old.digest]
    shown = panel.prune_table._dt_args["data_json"]
    assert old.digest[:19] in shown and "1 untagged manifest go" in panel.prune_summary.value
    assert manifest_status(embedded, "team/app", old.digest) == 200, "a preview deleted"
    assert not panel.prune_apply_button.disabled

    click(panel, panel.prune_apply_button)

    assert panel.last_error is None, panel.message.text
    assert manifest_status(embedded, "team/app", old.digest) == 404
    assert tags_of(embedded, "team/app") == {"1.0": new.digest}
    assert tags_of(embedded, "team/db") == {"1.0": keep.digest}
    assert "Deleted 1 untagged manifest" in panel.message.text
    click(panel, panel.prune_apply_button)  # the plan was used: a second Apply refuses
    assert "press Preview prune first" in panel.message.text
