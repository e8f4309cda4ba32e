"""A registry that refuses its catalog (Docker Hub, GHCR): every bulk verb and the Clean up
and Sync tabs read the repositories named, else those remembered for the registry, and say
so; a refusal with nothing to fall back on says whether it was a 401 (log in) or a 403
(name the repositories).

distribution's configuration cannot turn its catalog off, so a ``FaultProxy`` in front of a
real distribution answers ``GET /v2/_catalog`` with 401 or 403 and passes everything else
through, as Docker Hub does (https://distribution.github.io/distribution/spec/api/#catalog:
"the implementation may impose restrictions"; Docker Hub and GHCR answer 401 to it). What a
verb did is read back from the real registry behind the proxy with the raw-HTTP oracle.
"""

from __future__ import annotations

import json

import pytest

import registry_widgets as rw
from registry_widgets.errors import Denied, Unauthorized
from registry_widgets.operations.core import clients
from registry_widgets.operations.images.repositories import (catalog_refused,
                                                          remembered_repositories)
from tests.support import push_image
from tests.support.faultproxy import FaultProxy, Respond
from tests.support.headless import state
from tests.support.oracle import list_repositories, list_tags

pytest_plugins = ["faults_fixtures"]  # fault_proxy: a proxy in front of a real registry

REFUSALS = {
    401: Respond.json(json.dumps({"errors": [{"code": "UNAUTHORIZED", "message":
                                              "authentication required"}]}), status=401,
                      **{"WWW-Authenticate": 'Basic realm="registry"'}),
    403: Respond.json(json.dumps({"errors": [{"code": "DENIED", "message":
                                              "requested access to the resource is denied"}]}),
                      status=403),
}
NOTE = "2 repositories you named; {host} does not list its own (its catalog answered HTTP 403)"


def refusing(fault_proxy, registry, status: int) -> FaultProxy:
    """A proxy in front of ``registry`` whose catalog answers ``status``; nothing else."""
    proxy = fault_proxy(registry)
    proxy.add_rule("GET", r"^/v2/_catalog", REFUSALS[status], times=None)
    return proxy


@pytest.fixture
def team(registry_factory):
    """A fresh registry with team/app (1.0 old, 2.0 new) and team/db (1.0)."""
    reg = registry_factory()
    pushed = {
        "app:1.0": push_image(reg, "team/app", "1.0", seed="app 1.0",
                              created="2024-01-01T00:00:00Z"),
        "app:2.0": push_image(reg, "team/app", "2.0", seed="app 2.0",
                              created="2024-02-01T00:00:00Z"),
        "db:1.0": push_image(reg, "team/db", "1.0", seed="db 1.0",
                             created="2024-01-15T00:00:00Z"),
    }
    return reg, pushed


def catalog_asked(proxy: FaultProxy) -> list[int]:
    return [e.status for e in proxy.exchanges("GET", r"^/v2/_catalog")]


def test_every_bulk_verb_reads_the_remembered_repositories_where_the_catalog_is_refused(
        team, registry_factory, fault_proxy):
    reg, pushed = team
    proxy = refusing(fault_proxy, reg, 403)
    rw.remember_repositories(proxy.host, "team/app, team/db")
    note = NOTE.format(host=proxy.host)

    spaces = rw.namespaces(proxy.host)
    assert spaces.set_index("namespace").loc["team", ["repositories", "tags"]].tolist() == [2, 3]
    assert spaces.attrs["notes"] == [note]

    used = rw.usage(proxy.host)
    assert set(used[used.level == "repository"].repository) == {"team/app", "team/db"}
    assert used.attrs["notes"] == [note]

    kept = rw.retention(f"{proxy.host}/team", keep=1, dry_run=True)
    going = {(r["repository"], r["tag"]) for r in kept.details["plan"] if r["action"] == "remove"}
    assert going == {("team/app", "1.0")} and kept.details["notes"] == [note]

    pruned = rw.prune(f"{proxy.host}/team", dry_run=True)
    assert note in pruned.details["plan"]["notes"] or note in str(pruned.details)

    target = registry_factory()
    mirrored = rw.sync(f"{proxy.host}/team", f"{target.host}/mirror")
    assert mirrored.details["notes"] == [note]
    copied = {repo: list_tags(target, repo) for repo in list_repositories(target)}
    assert sorted(copied) == ["mirror/app", "mirror/db"], copied  # read through the oracle
    assert sorted(copied["mirror/app"]) == ["1.0", "2.0"]

    planned = rw.plan_remove_namespace(proxy.host, "team")
    assert [r.repository for r in planned.repositories] == ["team/app", "team/db"]
    assert planned.notes == (note,) and note in planned.describe()
    gone = rw.remove_namespace(proxy.host, "team", confirm="team", plan=planned)
    assert gone.changed and gone.details["notes"] == [note]
    assert state(reg, "team/app", "team/db") == {"team/app": {}, "team/db": {}}

    # Each verb asked the catalog once and was refused; it never guessed past the refusal.
    assert set(catalog_asked(proxy)) == {403}
    assert pushed["app:1.0"].digest  # the images were there to begin with


def test_named_repositories_are_read_and_the_catalog_is_not_asked(team, fault_proxy):
    reg, pushed = team
    proxy = refusing(fault_proxy, reg, 403)
    before = state(reg, "team/app", "team/db")
    named = ["team/app"]

    assert rw.namespaces(proxy.host, repositories=named).loc[0, "tags"] == 2
    assert rw.usage(proxy.host, repositories=named).attrs["notes"] == [
        "1 repository you named (the catalog was not read)"]
    kept = rw.retention(f"{proxy.host}/team", keep=1, repositories=named, dry_run=True)
    assert {r["repository"] for r in kept.details["plan"]} == {"team/app"}
    assert rw.plan_prune(f"{proxy.host}/team", repositories=named).snapshot.keys() == {"team/app"}
    planned = rw.plan_remove_namespace(proxy.host, "team", repositories=named)
    assert [r.repository for r in planned.repositories] == ["team/app"]
    assert rw.sync(f"{proxy.host}/team", f"{proxy.host}/mirror", repositories=named,
                   dry_run=True).details["source_repositories"] == ["team/app"]

    assert catalog_asked(proxy) == []
    assert state(reg, "team/app", "team/db") == before


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_catalog_with_nothing_remembered_says_which_refusal_it_was(
        team, fault_proxy, status):
    reg, _ = team
    proxy = refusing(fault_proxy, reg, status)
    before = state(reg, "team/app", "team/db")
    verbs = {
        "images": lambda: rw.images(proxy.host),
        "namespaces": lambda: rw.namespaces(proxy.host),
        "usage": lambda: rw.usage(proxy.host),
        "retention": lambda: rw.retention(f"{proxy.host}/team", keep=1, dry_run=True),
        "prune": lambda: rw.prune(f"{proxy.host}/team", dry_run=True),
        "sync": lambda: rw.sync(f"{proxy.host}/team", f"{proxy.host}/mirror", dry_run=True),
        "remove_namespace": lambda: rw.remove_namespace(proxy.host, "team", dry_run=True),
    }
    for verb, call in verbs.items():
        with pytest.raises(Unauthorized if status == 401 else Denied) as refused:
            call()
        message = str(refused.value)
        assert catalog_refused(refused.value), verb  # the widgets tell it from other failures
        assert f"{proxy.host} does not list its repositories" in message, (verb, message)
        assert f"HTTP {status}" in message, (verb, message)
        if status == 401:
            assert "not logged in" in message and "Log in tab" in message, (verb, message)
        else:
            assert "without the right to read it" in message, (verb, message)
            assert "repositories=['ns/app']" in message, (verb, message)
        # One explanation, not the same sentence nested twice.
        assert message.count("does not list its repositories") == 1, (verb, message)
    assert state(reg, "team/app", "team/db") == before
    assert remembered_repositories(proxy.host) == []


# -- the tabs ----------------------------------------------------------------------------


def settled(panel):
    """``panel`` once its worker is done (its error, if any, stays in ``last_error``)."""
    try:
        panel.wait(120)
    except TimeoutError:
        raise
    except Exception:  # noqa: BLE001 - the test reads last_error and the message
        pass
    return panel


def test_the_clean_up_tab_works_on_a_catalog_refusing_registry(team, fault_proxy):
    from registry_widgets.widgets import CleanupPanel

    reg, pushed = team
    proxy = refusing(fault_proxy, reg, 403)
    rw.remember_repositories(proxy.host, ["team/app", "team/db"])
    note = NOTE.format(host=proxy.host)

    panel = settled(CleanupPanel(proxy.host, "team"))
    assert panel.last_error is None, panel.message.text
    assert list(panel.namespace_choice.options) == ["team"]
    assert note in panel.title.value

    panel.keep.value = "1"
    panel.preview_button.click()
    settled(panel)
    assert panel.last_error is None, panel.message.text
    assert note in panel.summary.value
    panel.apply_button.click()
    settled(panel)
    assert panel.last_error is None, panel.message.text
    assert state(reg, "team/app", "team/db") == {
        "team/app": {"2.0": pushed["app:2.0"].digest},
        "team/db": {"1.0": pushed["db:1.0"].digest}}

    panel.prune_preview_button.click()
    settled(panel)
    assert panel.last_error is None, panel.message.text
    assert note in panel.prune_summary.value


def test_the_sync_tab_works_on_a_catalog_refusing_registry(team, registry_factory,
                                                           fault_proxy):
    from registry_widgets.widgets.sync_panel import SyncPanel

    reg, pushed = team
    proxy = refusing(fault_proxy, reg, 403)
    rw.remember_repositories(proxy.host, ["team/app", "team/db"])
    target = registry_factory()

    panel = SyncPanel(f"{proxy.host}/team", f"{target.host}/mirror")
    panel.preview_button.click()
    assert panel.last_error is None, panel.message.text
    assert NOTE.format(host=proxy.host) in panel.message.text
    panel.apply_button.click()
    assert panel.last_error is None, panel.message.text
    assert state(target, "mirror/app", "mirror/db") == {
        "mirror/app": {"1.0": pushed["app:1.0"].digest, "2.0": pushed["app:2.0"].digest},
        "mirror/db": {"1.0": pushed["db:1.0"].digest}}


@pytest.mark.parametrize("status", [401, 403])
def test_the_tabs_say_a_refusal_once_in_red_and_which_it_was(team, fault_proxy, status):
    from registry_widgets.widgets import CleanupPanel, ImageTable, NamespaceTable
    from registry_widgets.widgets.sync_panel import SyncPanel

    reg, _ = team
    proxy = refusing(fault_proxy, reg, status)
    shown = [settled(ImageTable(proxy.host)), settled(NamespaceTable(proxy.host)),
             settled(CleanupPanel(proxy.host))]
    red = [panel.message.text for panel in shown if panel.message.kind == "error"]
    assert len(red) == 1, [(p.message.kind, p.message.text) for p in shown]
    if status == 401:
        assert "not logged in" in red[0] and "Log in tab" in red[0]
    else:
        assert "without the right to read its catalog" in red[0]
    assert "box above" in red[0] and "repositories=" not in red[0]  # the table's own words
    for panel in shown[1:]:
        assert "Images tab's Repositories box" in panel.message.text

    sync = SyncPanel(f"{proxy.host}/team", f"{proxy.host}/mirror")
    sync.preview_button.click()
    assert "Images tab's Repositories box" in sync.message.text
    assert "repositories=" not in sync.message.text
    clients.reset()


def test_in_the_dashboard_the_refusal_is_red_once_and_the_named_repositories_reach_every_tab(
        team, fault_proxy):
    from registry_widgets.widgets import Dashboard

    reg, pushed = team
    proxy = refusing(fault_proxy, reg, 403)
    dash = settled(Dashboard([proxy.host], remember_added=False))
    areas = [p.message for p in dash._panels_with_wait() if hasattr(p, "message")]
    red = [area.text for area in areas if area.kind == "error"]
    assert len(red) == 1 and "without the right to read its catalog" in red[0], red

    dash.image_table.repositories_text.value = "team/app\nteam/db"  # pasted, one a line
    dash.image_table.repositories_button.click()
    settled(dash)
    assert not [area.text for area in areas if area.kind == "error"]
    shown = dash.image_table.frame
    assert set(zip(shown["repository"], shown["tag"], shown["digest"])) == {
        ("team/app", "1.0", pushed["app:1.0"].digest),
        ("team/app", "2.0", pushed["app:2.0"].digest),
        ("team/db", "1.0", pushed["db:1.0"].digest)}
    assert dash.namespace_table.frame.set_index("namespace").loc["team", "tags"] == 3
    assert list(dash.cleanup_panel.namespace_choice.options) == ["team"]
    assert NOTE.format(host=proxy.host) in dash.cleanup_panel.title.value


def test_the_clean_up_and_sync_tabs_take_the_repositories_they_are_given(team, fault_proxy):
    from registry_widgets.widgets import CleanupPanel
    from registry_widgets.widgets.sync_panel import SyncPanel

    reg, _ = team
    proxy = refusing(fault_proxy, reg, 403)
    before = state(reg, "team/app", "team/db")

    panel = settled(CleanupPanel(proxy.host, "team", repositories=["team/app"]))
    panel.keep.value = "1"
    panel.preview_button.click()
    settled(panel)
    assert panel.last_error is None, panel.message.text
    assert set(panel.frame["repository"]) == {"team/app"}
    assert "1 repository you named" in panel.summary.value

    sync = SyncPanel(f"{proxy.host}/team", f"{proxy.host}/mirror", repositories="team/db")
    sync.preview_button.click()
    assert sync.last_error is None, sync.message.text
    assert sync.plan.details["source_repositories"] == ["team/db"]

    assert catalog_asked(proxy) == []  # named: the catalog is not even asked
    assert state(reg, "team/app", "team/db") == before
