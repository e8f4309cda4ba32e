"""retention(): keep the newest images per repository, plan first, apply exactly the plan.

The planner is a pure function, specified on hand-built snapshots (co-tags count once, an
index counts once, no date means kept, protected tags stay, filters only narrow). Behaviour
against a real distribution 2.8: the dry run sends no write (fault proxy log), an apply leaves
exactly the planned tags (raw HTTP oracle), a change between plan and apply is refused, and
bad input fails before any request.
"""

from __future__ import annotations

import json
import sqlite3
import secrets

import pytest

from registry_widgets import paths
from registry_widgets.errors import (BadReference, ConfirmationRequired, InvalidArgument,
                                     NotFound, Protected)
from registry_widgets.operations.core import clients, journal
from registry_widgets.operations.images import remove_plan
from registry_widgets.operations.core.backup import restore
from registry_widgets.operations.images.protection import protect, unprotect
from registry_widgets.operations.images.remove import remove, remove_namespace
from registry_widgets.operations.cleanup.retention import (Settings, compute_retention, parse_duration,
                                                   parse_tag_filter, plan_frame, retention,
                                                   retention_policies, set_retention_policy)
from tests.support import RawClient, push_image, push_index
from tests.support.oracle import get_manifest

pytest_plugins = ["faults_fixtures"]

WRITES = {"DELETE", "PUT", "POST", "PATCH"}
NOW = 1_735_689_600.0  # 2025-01-01T00:00:00Z
FIXED = "2024-01-01T00:00:00Z"


@pytest.fixture(autouse=True)
def fresh():
    clients.reset()
    remove_plan._tag_delete_supported.clear()
    yield
    clients.reset()


def tags_of(registry, repository) -> dict[str, str]:
    """tag -> digest as raw HTTP sees it."""
    r = RawClient(registry).request("GET", f"/v2/{repository}/tags/list",
                                    scope=f"repository:{repository}:pull")
    if r.status_code == 404:
        return {}
    return {t: get_manifest(registry, repository, t).digest for t in r.json().get("tags") or []}


# -- the planner, on hand-built snapshots ---------------------------------------------------

def detail(created, blobs=(), children=()):
    return {"created": created, "blobs": {b: 100 for b in blobs},
            "children": [{"digest": c} for c in children]}


D = {name: "sha256:" + name * 64 for name in "abcdefgh"}
SIG = "sha256-" + "c" * 64 + ".sig"  # cosign's signature tag for image c


def plan_of(tag_map, details, *, now=NOW, protect=(), **settings):
    return compute_retention("reg:5000", "reg:5000/ns", {"ns/app": tag_map}, details,
                             Settings(**settings), now=now,
                             saved_protect={"ns": list(protect)})


def going(plan):
    return sorted(r["tag"] for r in plan.rows if r["action"] == "remove")


SNAPSHOT = {"1.0": D["a"], "stable": D["a"], "1.1": D["b"], "2.0": D["c"], "multi": D["d"],
            "nodate": D["e"], "latest": D["f"], SIG: D["g"]}
DETAILS = {D["a"]: detail("2024-01-01T00:00:00Z", ["sha256:l1", "sha256:shared"]),
           D["b"]: detail("2024-02-01T00:00:00Z", ["sha256:l2", "sha256:shared"]),
           D["c"]: detail("2024-03-01T00:00:00Z", ["sha256:l3"]),
           D["d"]: detail("2024-04-01T00:00:00Z", ["sha256:l4"], children=[D["h"]]),
           D["e"]: detail(None, ["sha256:l5"]),
           D["f"]: detail("2024-05-01T00:00:00Z", ["sha256:shared"]),
           D["g"]: detail(None, ["sha256:sig"])}


def test_keep_counts_images_not_tags_and_an_index_once():
    plan = plan_of(SNAPSHOT, DETAILS, keep=3)
    # newest first: latest (f), multi (d, an index), 2.0 (c) are the 3 kept; a (two tags) and
    # b go; "nodate" has no created time: kept and reported; the signature of c stays with c.
    assert going(plan) == ["1.0", "1.1", "stable"]
    assert plan.no_created == ["ns/app:nodate"]
    ops = {(op["kind"], op["digest"]): op["tags"] for op in plan.operations}
    assert ops == {("digest", D["a"]): ["1.0", "stable"], ("digest", D["b"]): ["1.1"]}
    reasons = {r["tag"]: r["reason"] for r in plan.rows}
    assert "3 newest" in reasons["multi"] and "created" in reasons["nodate"]


def test_bytes_freed_count_shared_layers_of_kept_images_out():
    plan = plan_of(SNAPSHOT, DETAILS, keep=3)
    # l1 and l2 are unique to the deleted images; "shared" is still used by latest.
    assert plan.bytes_freed_estimate == 200


def test_a_signature_goes_with_its_image_never_alone():
    plan = plan_of(SNAPSHOT, DETAILS, keep=2)
    assert going(plan) == ["1.0", "1.1", "2.0", SIG, "stable"]
    plan = plan_of(SNAPSHOT, DETAILS, keep=2, tags="2.0")  # c stays: only "2.0" may go
    assert going(plan) == ["2.0", SIG]


def test_protected_tags_stay_and_keep_their_image():
    plan = plan_of(SNAPSHOT, DETAILS, keep=3, protect=["stable"])
    assert going(plan) == ["1.0", "1.1"]
    # "1.0" shares its digest with the protected "stable": only the tag goes, never the image.
    assert {(op["kind"], op["tags"][0]) for op in plan.operations} == {("tag", "1.0"),
                                                                      ("digest", "1.1")}
    assert plan_of(SNAPSHOT, DETAILS, keep=3, protect=[r"1\..*", "stable"]).operations == []


@pytest.mark.parametrize("settings, expected", [
    ({"keep": 1, "tags": ">=1.0,<2"}, ["1.0", "1.1"]),  # "stable", "multi": not versions
    ({"keep": 1, "tags": r"1\.\d"}, ["1.0", "1.1"]),
    ({"keep": 1, "tags": "1"}, []),  # a regular expression matches the whole tag
    ({"older_than": "400d"}, ["1.0", "stable"]),  # created before 2024-01-27
    ({"older_than": "330d"}, ["1.0", "1.1", "2.0", SIG, "multi", "stable"]),  # before 04-06
    ({"keep": 0}, ["1.0", "1.1", "2.0", SIG, "latest", "multi", "stable"]),
])
def test_filters_only_narrow_what_may_go(settings, expected):
    now = NOW + 60 * 86400  # 2025-03-02
    assert going(plan_of(SNAPSHOT, DETAILS, now=now, **settings)) == sorted(expected)


def test_a_tagged_platform_of_an_index_loses_only_its_tag():
    tags = {"multi": D["d"], "amd64": D["h"]}
    details = {D["d"]: detail("2024-04-01T00:00:00Z", children=[D["h"]]),
               D["h"]: detail("2024-01-01T00:00:00Z", ["sha256:l9"])}
    plan = plan_of(tags, details, keep=1)
    assert plan.operations == [{"repository": "ns/app", "kind": "tag", "digest": D["h"],
                                "tags": ["amd64"]}]
    assert plan.bytes_freed_estimate == 0


@pytest.mark.parametrize("created", [None, "", "not a date", "1970-01-01T00:00:00Z",
                                     "0001-01-01T00:00:00Z"])
def test_images_without_a_usable_created_time_are_kept_and_reported(created):
    tags = {"old": D["a"], "new": D["b"]}
    details = {D["a"]: detail(created), D["b"]: detail("2024-01-01T00:00:00Z")}
    plan = plan_of(tags, details, keep=0)
    assert going(plan) == ["new"] and plan.no_created == ["ns/app:old"]


@pytest.mark.parametrize("call, message", [
    (lambda: parse_duration("90 days"), "not a duration"),
    (lambda: parse_duration("0d"), "not a duration"),
    (lambda: parse_duration(90), "not a duration"),
    (lambda: parse_tag_filter("[unclosed"), "not a valid regular expression"),
    (lambda: parse_tag_filter(">=1.0,<<2"), "not a valid version range"),
    (lambda: parse_tag_filter(""), "neither"),
])
def test_malformed_options(call, message):
    with pytest.raises(InvalidArgument, match=message):
        call()


def test_durations():
    assert parse_duration("90d") == 90 * 86400
    assert parse_duration("12h") == 43200
    assert parse_duration("2w") == 14 * 86400


# -- against a real registry ----------------------------------------------------------------

def seed(registry, repository):
    """The repository of the issue: co-tags, an index, an image without a date, and tags
    that the namespace protects. Returns {name: digest}."""
    pushed = {}
    for tag in ("1.0", "stable"):
        pushed["a"] = push_image(registry, repository, tag, seed=f"{repository}-a",
                                 created="2024-01-01T00:00:00Z").digest
    pushed["b"] = push_image(registry, repository, "1.1", seed=f"{repository}-b",
                             created="2024-02-01T00:00:00Z").digest
    pushed["c"] = push_image(registry, repository, "2.0", seed=f"{repository}-c",
                             created="2024-03-01T00:00:00Z").digest
    amd = push_image(registry, repository, None, seed=f"{repository}-amd",
                     created="2024-04-01T00:00:00Z")
    arm = push_image(registry, repository, None, seed=f"{repository}-arm",
                     created="2024-04-01T00:00:00Z", platform=("linux", "arm64"))
    pushed["multi"] = push_index(registry, repository, "multi", [amd, arm])
    pushed["nodate"] = push_image(registry, repository, "nodate", seed=f"{repository}-e",
                                  created="").digest
    pushed["release"] = push_image(registry, repository, "release-1", seed=f"{repository}-r",
                                   created="2023-01-01T00:00:00Z").digest
    pushed["latest"] = push_image(registry, repository, "latest", seed=f"{repository}-f",
                                  created="2024-05-01T00:00:00Z").digest
    return pushed


@pytest.fixture
def seeded(registry):
    namespace = f"keep-{secrets.token_hex(3)}"
    repository = f"{namespace}/app"
    return namespace, repository, seed(registry, repository)


def test_dry_run_sends_no_write_and_plans_per_tag(registry, seeded, fault_proxy):
    namespace, repository, pushed = seeded
    proxy = fault_proxy(registry)
    protect(f"{proxy.host}/{namespace}", ["release-.*"])
    before = tags_of(registry, repository)
    result = retention(f"{proxy.host}/{namespace}", keep=2)
    assert result.dry_run and not result.changed
    assert not [e for e in proxy.log if e.method in WRITES], "a dry run sent a write"
    assert tags_of(registry, repository) == before
    rows = {r["tag"]: r for r in result.details["plan"]}
    # kept: latest, multi (2 newest); nodate (no date); release-1 (protected)
    assert sorted(t for t, r in rows.items() if r["action"] == "remove") == \
        ["1.0", "1.1", "2.0", "stable"]
    assert "protected" in rows["release-1"]["reason"]
    assert result.details["no_created"] == [f"{repository}:nodate"]
    assert result.details["bytes_freed_estimate"] > 0
    assert list(plan_frame(result.details["plan"]).columns)[:3] == ["repository", "tag", "digest"]
    assert [e["action"] for e in journal.read()] == ["protect"], "a dry run is not journaled"


def test_apply_leaves_exactly_the_planned_state_and_restores(registry, seeded):
    namespace, repository, pushed = seeded
    protect(f"{registry.host}/{namespace}", ["release-.*"])
    target = f"{registry.host}/{namespace}"
    before = tags_of(registry, repository)
    dry = retention(target, keep=2)
    planned = {r["tag"] for r in dry.details["plan"] if r["action"] == "keep"}
    applied = retention(target, keep=2, dry_run=False, plan=dry)
    assert applied.changed
    after = tags_of(registry, repository)
    assert set(after) == planned
    assert {t: before[t] for t in planned} == after
    r = RawClient(registry).request("HEAD", f"/v2/{repository}/manifests/{pushed['a']}",
                                    scope=f"repository:{repository}:pull")
    assert r.status_code == 404, "the co-tagged image itself is deleted"
    # One backup for the run: restore puts everything back.
    restore(applied)
    assert tags_of(registry, repository) == before


def test_a_change_between_plan_and_apply_is_refused(registry, seeded):
    namespace, repository, pushed = seeded
    target = f"{registry.host}/{repository}"
    dry = retention(target, keep=2)
    push_image(registry, repository, "1.1", seed="moved", created="2024-06-01T00:00:00Z")
    before = tags_of(registry, repository)
    with pytest.raises(ConfirmationRequired, match=r"changed since.*1\.1 moved"):
        retention(target, keep=2, dry_run=False, plan=dry)
    assert tags_of(registry, repository) == before


def test_saved_policy_is_used_without_options(registry, seeded):
    namespace, repository, _ = seeded
    target = f"{registry.host}/{namespace}"
    set_retention_policy(target, keep=3, tags=">=1.0,<2")
    assert retention_policies()[target]["keep"] == 3
    with sqlite3.connect(paths.state_db()) as db:  # what is on disk, read without the package
        saved = json.loads(db.execute("SELECT value FROM documents WHERE name='policies'"
                                      ).fetchone()[0])
    assert saved[target]["retention"]["tags"] == ">=1.0,<2"
    result = retention(target)
    # keep latest, multi, 2.0; of the older ones only versions in range go: 1.1, and 1.0 but
    # not its co-tag "stable" (so that image stays); "release-1" is no version.
    rows = {r["tag"]: r for r in result.details["plan"]}
    assert sorted(t for t, r in rows.items() if r["action"] == "remove") == ["1.0", "1.1"]
    assert rows["1.0"]["how"] == "remove tag" and rows["1.1"]["how"] == "delete image"
    assert result.details["settings"]["keep"] == 3


@pytest.mark.parametrize("kwargs, error, message", [
    ({"keep": 2, "older_than": "3 months"}, InvalidArgument, "not a duration"),
    ({"keep": 2, "tags": "("}, InvalidArgument, "regular expression"),
    ({"keep": 2, "tags": ">=1.0,<<2"}, InvalidArgument, "version range"),
    ({"keep": 0}, InvalidArgument, "force=True"),
    ({"keep": "2"}, TypeError, "whole number"),
    ({"keep": 2, "protect": ["["]}, InvalidArgument, "regular expression"),
    ({"keep": 2, "dry_run": "no"}, TypeError, "dry_run"),
    ({}, InvalidArgument, "set_retention_policy"),
])
def test_bad_options_fail_before_any_request(registry, fault_proxy, kwargs, error, message):
    proxy = fault_proxy(registry)
    with pytest.raises(error, match=message):
        retention(f"{proxy.host}/nothing-{secrets.token_hex(2)}", **kwargs)
    assert proxy.log == []


@pytest.mark.parametrize("target", ["{host}/ns/app:1.0", "{host}/ns/app@sha256:" + "a" * 64,
                                    "{host}", "{host}/NS"])
def test_a_target_that_is_a_tag_or_not_a_namespace(registry, fault_proxy, target):
    proxy = fault_proxy(registry)
    with pytest.raises(BadReference):
        retention(target.format(host=proxy.host), keep=1)
    assert proxy.log == []


def test_a_namespace_that_does_not_exist(registry, fault_proxy):
    proxy = fault_proxy(registry)
    with pytest.raises(NotFound, match="namespace nothing-here not found"):
        retention(f"{proxy.host}/nothing-here", keep=1, dry_run=False)
    assert not [e for e in proxy.log if e.method in WRITES]


# -- protected tags in remove and remove_namespace ------------------------------------------

def test_remove_refuses_a_protected_tag_unless_forced(registry, unique_repo):
    namespace = unique_repo.split("/")[0]
    image = push_image(registry, unique_repo, "latest", seed=unique_repo, created=FIXED)
    push_image(registry, unique_repo, "1.0", seed=unique_repo, created=FIXED)
    protect(f"{registry.host}/{namespace}", "latest")
    ref = f"{registry.host}/{unique_repo}"
    assert remove(f"{ref}:latest", dry_run=True).details["protected"] == {"latest": "latest"}
    with pytest.raises(Protected, match="protected tags"):
        remove(f"{ref}:latest")
    with pytest.raises(Protected, match="protected tags"):
        remove(f"{ref}@{image.digest}")  # the digest takes "latest" with it
    with pytest.raises(Protected, match="protected tags"):
        remove_namespace(registry.host, namespace, confirm=namespace)
    assert tags_of(registry, unique_repo) == {"latest": image.digest, "1.0": image.digest}
    remove(f"{ref}:latest", force=True)
    assert tags_of(registry, unique_repo) == {"1.0": image.digest}
    unprotect(f"{registry.host}/{namespace}")
    assert remove(f"{ref}:1.0", dry_run=True).details["protected"] == {}


# -- images that local containers use --------------------------------------------------------

def test_an_image_a_running_container_uses_is_kept_and_refused(registry, unique_repo,
                                                               docker_client, base_image,
                                                               local_names):
    from registry_widgets.operations.images import local

    ref = f"{registry.host}/{unique_repo}:1.0"
    local_names.append(ref)
    local.tag(base_image, ref)
    digest = local.push(ref).digest
    push_image(registry, unique_repo, "2.0", seed=unique_repo, created="2099-01-01T00:00:00Z")
    container = docker_client.containers.run(ref, ["sleep", "300"], detach=True,
                                             network_mode="none")
    try:
        plan = retention(f"{registry.host}/{unique_repo}", keep=1)
        row = next(r for r in plan.details["plan"] if r["tag"] == "1.0")
        assert row["action"] == "keep" and "in use by running container" in row["reason"]
        assert container.short_id in row["in_use"]
        assert plan.details["in_use_checked"] and plan.details["in_use"]
        dry = remove(f"{registry.host}/{unique_repo}@{digest}", dry_run=True)
        assert any(container.short_id in u for u in dry.details["in_use"])
        with pytest.raises(Protected, match="running container"):
            remove(f"{registry.host}/{unique_repo}@{digest}")
        assert tags_of(registry, unique_repo)["1.0"] == digest
        forced = retention(f"{registry.host}/{unique_repo}", keep=1, force=True)
        assert next(r for r in forced.details["plan"] if r["tag"] == "1.0")["action"] == "remove"
    finally:
        container.remove(force=True)


def test_protected_patterns_are_saved_per_namespace_and_checked():
    target = "127.0.0.1:5000/team"
    assert protect(target, ["latest", "release-.*"]).changed
    assert not protect(target, "latest").changed  # already there
    from registry_widgets.operations.images.protection import protected_patterns, protected_tags
    assert protected_patterns("127.0.0.1:5000", "team") == ["latest", "release-.*"]
    assert protected_tags("127.0.0.1:5000", "team/app", ["latest", "latest-rc", "release-2"]) \
        == {"latest": "latest", "release-2": "release-.*"}  # whole-tag matches only
    assert protected_tags("127.0.0.1:5000", "other/app", ["latest"]) == {}
    assert unprotect(target, "latest").details["protected_tags"] == ["release-.*"]
    assert unprotect(target).details["protected_tags"] == []
    with pytest.raises(InvalidArgument, match="regular expression"):
        protect(target, ["(unclosed"])
    with pytest.raises(BadReference, match="per namespace"):
        protect(f"{target}/app", ["latest"])
    with pytest.raises(InvalidArgument, match="at least one"):
        protect(target, [])


def test_apply_removes_a_tag_alone_when_its_co_tag_stays(registry, seeded):
    namespace, repository, pushed = seeded
    before = tags_of(registry, repository)
    result = retention(f"{registry.host}/{repository}", keep=3, tags=">=1.0,<2", dry_run=False)
    after = tags_of(registry, repository)
    assert sorted(set(before) - set(after)) == ["1.0", "1.1"]
    assert after["stable"] == pushed["a"], "the co-tag and its image survive"
    assert {op["kind"] for op in result.details["operations"]} == {"tag", "digest"}
    assert {t: before[t] for t in after} == after


def test_a_failure_halfway_stops_says_how_to_undo_and_restore_undoes(registry, seeded,
                                                                     fault_proxy):
    from registry_widgets.errors import RegistryError
    from tests.support.faultproxy import Respond

    namespace, repository, pushed = seeded
    proxy = fault_proxy(registry)
    before = tags_of(registry, repository)
    # Every DELETE of image b fails: the run stops there, and says how to put back the rest.
    proxy.add_rule("DELETE", f"/manifests/{pushed['b']}", Respond(500, b'{"errors": []}'),
                   times=None)
    with pytest.raises(RegistryError, match=r"stopped after \d+ of 4 removals.*restore\("):
        retention(f"{proxy.host}/{repository}", keep=2, dry_run=False)
    record = [e for e in journal.read() if e["action"] == "retention"][-1]
    assert record["details"]["failed"]
    restore(record)
    assert tags_of(registry, repository) == before


def test_a_plan_for_another_target_is_refused(registry, seeded):
    namespace, repository, _ = seeded
    dry = retention(f"{registry.host}/{repository}", keep=2)
    with pytest.raises(InvalidArgument, match="is the plan for"):
        retention(f"{registry.host}/{namespace}", keep=2, dry_run=False, plan=dry)


def test_copy_over_a_protected_tag_is_refused_unless_forced(registry, unique_repo):
    from registry_widgets.operations.images.copy import copy

    namespace = unique_repo.split("/")[0]
    old = push_image(registry, unique_repo, "latest", seed=f"{unique_repo}-old", created=FIXED)
    new = push_image(registry, unique_repo, "next", seed=f"{unique_repo}-new", created=FIXED)
    protect(f"{registry.host}/{namespace}", "latest")
    source, target = f"{registry.host}/{unique_repo}:next", f"{registry.host}/{unique_repo}:latest"
    with pytest.raises(Protected, match="protected tags"):
        copy(source, target)
    assert tags_of(registry, unique_repo)["latest"] == old.digest
    copy(source, target, force=True)
    assert tags_of(registry, unique_repo)["latest"] == new.digest
    copy(source, target)  # already there: nothing moves, nothing to refuse
