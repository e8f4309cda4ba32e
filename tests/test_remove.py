"""remove(): a tag goes alone, a digest takes its co-tags, nothing goes that was not asked for.

Real distribution 2.8 registries; the registry's state is read back through the stack's
independent oracle (raw HTTP), never through the package's own client. Fakes only inject
faults a real registry cannot produce on demand (a failing placeholder delete, a registry
whose tag DELETE takes the whole manifest).
"""

from __future__ import annotations

import os
import re
import time

import pytest

from registry_widgets.errors import (ConfirmationRequired, DeleteDisabled, NotFound, Protected,
                                     RegistryError)
from registry_widgets.operations.core import clients, journal
from registry_widgets.operations.core.backup import BACKUP_ACTION
from registry_widgets.operations.images import remove_plan
from registry_widgets.operations.images.remove import (plan_remove, plan_remove_many,
                                                       plan_remove_namespace, remove,
                                                       remove_many, remove_namespace, restore)
from tests.support.images import push_image, push_index, random_layers
from tests.support.images import put_manifest as oracle_put_manifest
from tests.support.images import upload_blob as oracle_upload_blob
from tests.support.oracle import ACCEPT_ALL, RawClient, get_blob, get_manifest, sha256_digest

FIXED_TIME = "2024-01-01T00:00:00Z"


@pytest.fixture(autouse=True)
def fresh_state():
    clients.reset()
    remove_plan._tag_delete_supported.clear()
    yield
    clients.reset()
    remove_plan._tag_delete_supported.clear()


# -- the oracle's view of a repository ------------------------------------------------------


def tags_of(registry, repository) -> dict[str, str]:
    """tag -> digest, as raw HTTP sees it ({} when the repository has no tags)."""
    raw = RawClient(registry)
    r = raw.request("GET", f"/v2/{repository}/tags/list", scope=f"repository:{repository}:pull")
    if r.status_code == 404:
        return {}
    tags = r.json().get("tags") or []
    return {tag: get_manifest(registry, repository, tag).digest for tag in tags}


def manifest_exists(registry, repository, digest) -> bool:
    r = RawClient(registry).request("HEAD", f"/v2/{repository}/manifests/{digest}",
                                    scope=f"repository:{repository}:pull",
                                    headers={"Accept": ACCEPT_ALL})
    return r.status_code == 200


def cotagged(registry, repository, tags, seed="cotag", **kwargs):
    """One image under several tags (same bytes, so the same digest)."""
    images = [push_image(registry, repository, tag, seed=seed, created=FIXED_TIME, **kwargs)
              for tag in tags]
    assert len({image.digest for image in images}) == 1
    return images[0]


def two_platform_index(registry, repository, tag="multi"):
    amd64 = push_image(registry, repository, None, layer_sizes=(3000,), seed=f"{repository}-amd64")
    arm64 = push_image(registry, repository, None, layer_sizes=(4000,), seed=f"{repository}-arm64",
                       platform=("linux", "arm64", "v8"))
    return amd64, arm64, push_index(registry, repository, tag, [amd64, arm64])


def writes_logged(registry, repository) -> list[str]:
    """Every mutating request the registry logged for the repository (its access log)."""
    pattern = re.compile(rf'"(DELETE|PUT|POST|PATCH) /v2/{re.escape(repository)}/[^"]*"')
    return [m.group(0) for m in pattern.finditer(registry.log_file.read_text(errors="replace"))]


def wait_for_log(registry, needle: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while needle not in registry.log_file.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{needle!r} never reached the registry log"
        time.sleep(0.05)


# -- what distribution 2.8 does (the facts the module is built on) -------------------------


def test_distribution_2_8_answers_a_tag_delete_with_400_digest_invalid(registry, unique_repo):
    image = push_image(registry, unique_repo, "1.0")
    r = RawClient(registry).request("DELETE", f"/v2/{unique_repo}/manifests/1.0",
                                    scope=f"repository:{unique_repo}:delete")
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == "DIGEST_INVALID"
    assert tags_of(registry, unique_repo) == {"1.0": image.digest}


def test_distribution_2_8_answers_405_to_every_delete_when_deletes_are_disabled(nodelete_registry,
                                                                               unique_repo):
    push_image(nodelete_registry, unique_repo, "1.0")
    raw = RawClient(nodelete_registry)
    for reference in ("1.0", "sha256:" + "0" * 64):
        r = raw.request("DELETE", f"/v2/{unique_repo}/manifests/{reference}",
                        scope=f"repository:{unique_repo}:delete")
        assert (r.status_code, r.json()["errors"][0]["code"]) == (405, "UNSUPPORTED")


# -- removing a tag ------------------------------------------------------------------------


def test_removing_a_tag_keeps_its_co_tags_and_the_image(registry, unique_repo):
    image = cotagged(registry, unique_repo, ["1.0", "latest", "stable"])
    other = push_image(registry, unique_repo, "2.0", seed="other")

    result = remove(f"{registry.host}/{unique_repo}:1.0")

    assert result.changed and not result.dry_run
    assert result.digest == image.digest
    assert result.details["tags_removed"] == ["1.0"]
    assert result.details["co_tags"] == result.details["co_tags_kept"] == ["latest", "stable"]
    assert result.details["method"] == "placeholder"  # distribution 2.8 has no tag DELETE
    assert result.details["tag_delete_answer"] == "400 DIGEST_INVALID"
    assert "Remove tag" in result.details["plan"] and "latest, stable" in result.details["plan"]
    # Only 1.0 went: no placeholder left behind, the co-tags and the other image untouched.
    assert tags_of(registry, unique_repo) == {"latest": image.digest, "stable": image.digest,
                                             "2.0": other.digest}
    # The image is still pullable through its co-tag: manifest byte-exact, then every blob.
    pulled = get_manifest(registry, unique_repo, "latest")
    assert pulled.data == image.manifest
    for blob in (image.config, *image.layers):
        assert len(get_blob(registry, unique_repo, blob.digest)) == blob.size
    # The journal holds the result and, first, the backup that makes it undoable.
    records = list(journal.read())
    backup = next(r for r in records if r["action"] == "remove-backup")
    assert backup["id"] == result.details["backup_id"]
    assert backup["repositories"][0]["tags"] == [{"tag": "1.0", "digest": image.digest}]
    assert records.index(backup) < next(i for i, r in enumerate(records) if r["action"] == "remove")
    # Having seen the 400, the next plan on this registry goes straight to the placeholder.
    assert plan_remove(f"{registry.host}/{unique_repo}:latest").method == "placeholder"


def test_removing_the_last_tag_keeps_the_image_by_digest(registry, unique_repo):
    image = push_image(registry, unique_repo, "only")

    plan = plan_remove(f"{registry.host}/{unique_repo}:only")
    assert plan.co_tags_kept == () and plan.bytes_freed_estimate == image.total_size
    result = remove(f"{registry.host}/{unique_repo}:only")
    assert "moved" not in result.summary()  # nothing moves in a removal; it used to say 0.0 MB

    assert tags_of(registry, unique_repo) == {}
    assert get_manifest(registry, unique_repo, image.digest).data == image.manifest


def test_tag_at_digest_is_removed_only_while_the_tag_still_points_there(registry, unique_repo):
    image = push_image(registry, unique_repo, "1.0", seed="a")
    moved = push_image(registry, unique_repo, "1.0", seed="b")

    with pytest.raises(ConfirmationRequired, match="now points at"):
        remove(f"{registry.host}/{unique_repo}:1.0@{image.digest}")
    assert tags_of(registry, unique_repo) == {"1.0": moved.digest}

    remove(f"{registry.host}/{unique_repo}:1.0@{moved.digest}")
    assert tags_of(registry, unique_repo) == {}


# -- deleting a digest ---------------------------------------------------------------------


def test_deleting_a_digest_reports_and_removes_every_tag_on_it(registry, unique_repo):
    shared = random_layers([5000], seed="shared")[0]
    own = random_layers([7000])[0]
    image = cotagged(registry, unique_repo, ["a", "b", "c"], layers=[shared, own])
    other = push_image(registry, unique_repo, "keep", layers=[shared], created=FIXED_TIME)

    plan = plan_remove(f"{registry.host}/{unique_repo}@{image.digest}")
    assert (plan.kind, plan.method, plan.tags_removed) == ("digest", "manifest-delete",
                                                           ("a", "b", "c"))
    # The shared layer stays for "keep": only the manifest, config and own layer could go.
    assert plan.bytes_freed_estimate == image.size + image.config.size + len(own)
    assert "a, b, c" in plan.describe()

    result = remove(f"{registry.host}/{unique_repo}@{image.digest}")

    assert result.details["tags_removed"] == ["a", "b", "c"]
    assert result.details["co_tags"] == ["a", "b", "c"]
    assert result.details["method"] == "manifest-delete"
    assert not manifest_exists(registry, unique_repo, image.digest)
    assert tags_of(registry, unique_repo) == {"keep": other.digest}


def test_an_index_platform_is_protected_and_force_deletes_it(registry, unique_repo):
    amd64, arm64, index = two_platform_index(registry, unique_repo)
    child = f"{registry.host}/{unique_repo}@{amd64.digest}"

    plan = plan_remove(child)
    assert [i.digest for i in plan.blocked_by] == [index] and not plan.allowed
    assert "BLOCKED" in plan.describe()
    with pytest.raises(Protected) as caught:
        remove(child)
    message = str(caught.value)
    assert index in message and "multi" in message and "force=True" in message
    assert "Nothing was changed" in message
    assert manifest_exists(registry, unique_repo, amd64.digest)

    result = remove(child, force=True)

    assert result.details["forced"] is True
    assert not manifest_exists(registry, unique_repo, amd64.digest)
    assert manifest_exists(registry, unique_repo, arm64.digest)
    assert tags_of(registry, unique_repo) == {"multi": index}


def test_removing_the_only_tag_of_an_index_platform_is_allowed(registry, unique_repo):
    # Decided: a tag removal never deletes a manifest, so the index keeps working and nothing
    # needs protecting; the plan still names the index.
    amd64, _, index = two_platform_index(registry, unique_repo)
    oracle_put_manifest(RawClient(registry), unique_repo, "amd64", amd64.manifest, amd64.media_type)

    plan = plan_remove(f"{registry.host}/{unique_repo}:amd64")
    assert plan.blocked_by == () and [i.digest for i in plan.referenced_by] == [index]
    remove(f"{registry.host}/{unique_repo}:amd64")

    assert tags_of(registry, unique_repo) == {"multi": index}
    assert manifest_exists(registry, unique_repo, amd64.digest)


# -- refusals: nothing changes -------------------------------------------------------------


def test_delete_disabled_registry_refuses_and_leaves_the_tag_on_its_digest(nodelete_registry,
                                                                          unique_repo):
    image = cotagged(nodelete_registry, unique_repo, ["1.0", "latest"])
    before = tags_of(nodelete_registry, unique_repo)

    for ref in (f"{nodelete_registry.host}/{unique_repo}:1.0",
                f"{nodelete_registry.host}/{unique_repo}@{image.digest}"):
        with pytest.raises(DeleteDisabled, match="nothing was changed"):
            remove(ref)

    # Still on the original digest: the tag was never moved to a placeholder.
    assert tags_of(nodelete_registry, unique_repo) == before == {"1.0": image.digest,
                                                                 "latest": image.digest}
    assert not [r for r in journal.read() if r["action"] == "remove-backup"]


@pytest.mark.parametrize("suffix", [":no-such-tag", "@sha256:" + "0" * 64, "-gone:1.0"],
                         ids=["missing tag", "missing digest", "missing repository"])
def test_missing_tag_or_digest_is_not_found(registry, unique_repo, suffix):
    push_image(registry, unique_repo, "1.0")
    ref = f"{registry.host}/{unique_repo}{suffix}"

    with pytest.raises(NotFound) as caught:
        remove(ref)
    message = str(caught.value)
    assert registry.host in message and suffix.lstrip(":@-").split(":")[-1] in message
    assert "nothing was changed" in message
    assert list(tags_of(registry, unique_repo)) == ["1.0"]


def test_dry_run_changes_nothing_and_sends_no_delete_or_put(registry, unique_repo):
    image = cotagged(registry, unique_repo, ["1.0", "latest"])
    amd64, _, index = two_platform_index(registry, unique_repo, tag="zz-multi")
    wait_for_log(registry, f'"PUT /v2/{unique_repo}/manifests/zz-multi ')
    tags_before = tags_of(registry, unique_repo)
    writes_before = writes_logged(registry, unique_repo)
    assert any(w.startswith('"PUT') for w in writes_before)  # the log does show our writes

    results = [remove(f"{registry.host}/{unique_repo}:1.0", dry_run=True),
               remove(f"{registry.host}/{unique_repo}@{image.digest}", dry_run=True),
               remove(f"{registry.host}/{unique_repo}@{amd64.digest}", dry_run=True)]

    # A marker request sent after the dry runs: once the registry has logged it, it has logged
    # every request the dry runs made (each was answered before the marker was sent).
    marker = f"/v2/{unique_repo}/tags/list?marker=dry-run-done-{time.monotonic_ns()}"
    RawClient(registry).request("GET", marker, scope=f"repository:{unique_repo}:pull")
    wait_for_log(registry, marker)
    assert writes_logged(registry, unique_repo) == writes_before
    assert tags_of(registry, unique_repo) == tags_before
    for digest in (image.digest, amd64.digest, index):
        assert manifest_exists(registry, unique_repo, digest)
    assert all(r.dry_run and not r.changed for r in results)
    assert results[0].details["tags_removed"] == ["1.0"]
    assert results[1].details["tags_removed"] == ["1.0", "latest"]
    assert results[2].details["blocked_by"] and "refused unless force=True" in \
        results[2].details["plan"]
    assert not list(journal.read())


def test_a_plan_that_drifted_is_refused(registry, unique_repo):
    image = cotagged(registry, unique_repo, ["1.0", "latest"])
    tag_plan = plan_remove(f"{registry.host}/{unique_repo}:1.0")
    digest_plan = plan_remove(f"{registry.host}/{unique_repo}@{image.digest}")

    moved = push_image(registry, unique_repo, "1.0", seed="pushed-since")  # the tag moves
    with pytest.raises(ConfirmationRequired, match="changed since the plan") as caught:
        remove(f"{registry.host}/{unique_repo}:1.0", plan=tag_plan)
    assert moved.digest in str(caught.value) and "Nothing was changed" in str(caught.value)
    assert tags_of(registry, unique_repo) == {"1.0": moved.digest, "latest": image.digest}

    # The digest gained a tag: deleting it now would take more tags than the plan showed.
    oracle_put_manifest(RawClient(registry), unique_repo, "new", image.manifest, image.media_type)
    with pytest.raises(ConfirmationRequired, match="would now remove tags latest, new"):
        remove(f"{registry.host}/{unique_repo}@{image.digest}", plan=digest_plan)
    assert tags_of(registry, unique_repo) == {"1.0": moved.digest, "latest": image.digest,
                                             "new": image.digest}

    # A plan that still matches is applied.
    fresh = plan_remove(f"{registry.host}/{unique_repo}@{image.digest}")
    remove(f"{registry.host}/{unique_repo}@{image.digest}", plan=fresh)
    assert tags_of(registry, unique_repo) == {"1.0": moved.digest}


def test_several_removals_apply_as_one_plan_and_one_restore_undoes_them(registry, unique_repo):
    """Two tags of one repository and one of another: one change set, one backup."""
    other = unique_repo + "-b"
    a1, a2 = (push_image(registry, unique_repo, t, seed=unique_repo + t) for t in ("1", "2"))
    keep_a = push_image(registry, unique_repo, "keep", seed=unique_repo + "keep")
    b1 = push_image(registry, other, "1", seed=other + "1")
    keep_b = push_image(registry, other, "keep", seed=other + "keep")
    before = {repo: tags_of(registry, repo) for repo in (unique_repo, other)}
    refs = [f"{registry.host}/{unique_repo}:1", f"{registry.host}/{other}:1",
            f"{registry.host}/{unique_repo}:2"]
    records = len(list(journal.read()))

    plan = plan_remove_many(refs)

    assert [p.target for p in plan.plans] == refs
    assert sorted(plan.changes.snapshot) == sorted([unique_repo, other])
    assert sorted((c.repository, c.reference) for c in plan.changes.changes) == sorted(
        [(unique_repo, "1"), (unique_repo, "2"), (other, "1")])
    assert {repo: tags_of(registry, repo) for repo in (unique_repo, other)} == before

    result = remove_many(plan)

    assert result.changed
    assert tags_of(registry, unique_repo) == {"keep": keep_a.digest}
    assert tags_of(registry, other) == {"keep": keep_b.digest}
    added = list(journal.read())[records:]
    assert [r["action"] for r in added].count("remove") == 1  # one record for the three
    assert len({r.get("id") for r in added if r["action"] == BACKUP_ACTION}) == 1

    restore(result)

    assert {repo: tags_of(registry, repo) for repo in (unique_repo, other)} == before
    assert tags_of(registry, unique_repo)["1"] == a1.digest
    assert tags_of(registry, unique_repo)["2"] == a2.digest
    assert tags_of(registry, other)["1"] == b1.digest


def test_a_plan_of_several_removals_is_refused_whole_when_one_repository_moved(registry,
                                                                             unique_repo):
    other = unique_repo + "-b"
    for repo in (unique_repo, other):
        for tag in ("1", "keep"):
            push_image(registry, repo, tag, seed=repo + tag)
    plan = plan_remove_many([f"{registry.host}/{unique_repo}:1", f"{registry.host}/{other}:1"])
    late = push_image(registry, other, "late", seed="late")  # after the plan was shown
    before = {repo: tags_of(registry, repo) for repo in (unique_repo, other)}

    with pytest.raises(ConfirmationRequired, match=f"changed since the plan: {other}:late"):
        remove_many(plan)

    assert {repo: tags_of(registry, repo) for repo in (unique_repo, other)} == before
    assert tags_of(registry, other)["late"] == late.digest


# -- restore -------------------------------------------------------------------------------


def test_restore_after_a_digest_delete_brings_back_the_manifest_and_its_tags(registry,
                                                                            unique_repo):
    image = cotagged(registry, unique_repo, ["1.0", "latest"], media_type="docker")
    # the repository's only image: emptying it needs force (the engine's guard)
    result = remove(f"{registry.host}/{unique_repo}@{image.digest}", force=True)
    assert not manifest_exists(registry, unique_repo, image.digest)

    restored = restore(result)

    assert restored.action == "restore" and restored.changed
    again = get_manifest(registry, unique_repo, image.digest)
    assert again.data == image.manifest and again.digest == image.digest
    assert tags_of(registry, unique_repo) == {"1.0": image.digest, "latest": image.digest}
    assert any(r["action"] == "restore" for r in journal.read())


def test_restore_by_id_brings_back_a_removed_tag_but_never_moves_a_tag_pushed_since(
        registry, unique_repo):
    image = cotagged(registry, unique_repo, ["1.0", "latest"])
    backup_id = remove(f"{registry.host}/{unique_repo}:1.0").details["backup_id"]
    newer = push_image(registry, unique_repo, "1.0", seed="newer")

    with pytest.raises(Protected, match="force=True"):
        restore(backup_id)
    assert tags_of(registry, unique_repo) == {"1.0": newer.digest, "latest": image.digest}

    restore(backup_id, force=True)
    assert tags_of(registry, unique_repo) == {"1.0": image.digest, "latest": image.digest}


# -- faults a real registry does not produce on demand -------------------------------------


def test_a_failing_placeholder_delete_puts_the_tag_back(registry, unique_repo, monkeypatch):
    image = cotagged(registry, unique_repo, ["1.0", "latest"])
    client = clients.client_for(registry.host)
    real_delete = client.delete_manifest

    def delete_fails_for_existing_digests(repository, reference):
        # The probe's digest does not exist and the 2.8 tag DELETE is refused anyway; the
        # placeholder is the only existing digest deleted here.
        if reference.startswith("sha256:") and client.head_manifest(repository, reference):
            raise RegistryError("injected failure", registry=registry.host, status=500)
        return real_delete(repository, reference)

    monkeypatch.setattr(client, "delete_manifest", delete_fails_for_existing_digests)
    with pytest.raises(RegistryError, match="put back on") as caught:
        remove(f"{registry.host}/{unique_repo}:1.0")
    assert caught.value.status == 500
    assert tags_of(registry, unique_repo) == {"1.0": image.digest, "latest": image.digest}


def test_a_registry_whose_tag_delete_takes_the_manifest_is_repaired(registry, unique_repo,
                                                                   monkeypatch):
    # Some registries have deleted the whole manifest (and so every co-tag) on a tag DELETE.
    image = cotagged(registry, unique_repo, ["1.0", "latest"])
    client = clients.client_for(registry.host)
    real_delete = client.delete_manifest

    def tag_delete_deletes_the_manifest(repository, reference):
        if not reference.startswith("sha256:"):
            head = client.head_manifest(repository, reference)
            reference = head.digest if head else reference
        return real_delete(repository, reference)

    monkeypatch.setattr(client, "delete_manifest", tag_delete_deletes_the_manifest)
    result = remove(f"{registry.host}/{unique_repo}:1.0")

    assert result.details["method"] == "tag-delete" and "repaired" in result.details
    assert tags_of(registry, unique_repo) == {"latest": image.digest}
    assert get_manifest(registry, unique_repo, image.digest).data == image.manifest
    assert plan_remove(f"{registry.host}/{unique_repo}:latest").method == "placeholder"


def test_a_registry_with_tag_delete_uses_it(registry, unique_repo, monkeypatch):
    # Distribution 3 / OCI 1.1 behaviour, emulated underneath with the oracle: the DELETE of
    # a tag removes that tag only.
    image = cotagged(registry, unique_repo, ["1.0", "latest"])
    client = clients.client_for(registry.host)
    real_delete = client.delete_manifest
    raw = RawClient(registry)

    def oci_tag_delete(repository, reference):
        if reference.startswith("sha256:"):
            return real_delete(repository, reference)
        config = os.urandom(32)
        manifest = (b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
                    b'"config":{"mediaType":"application/octet-stream","digest":"%s","size":32},'
                    b'"layers":[]}' % oracle_upload_blob(raw, repository, config).encode())
        oracle_put_manifest(raw, repository, reference, manifest,
                            "application/vnd.oci.image.manifest.v1+json")
        raw.request("DELETE", f"/v2/{repository}/manifests/{sha256_digest(manifest)}",
                    scope=f"repository:{repository}:delete", expect=(202,))
        return None

    monkeypatch.setattr(client, "delete_manifest", oci_tag_delete)
    result = remove(f"{registry.host}/{unique_repo}:1.0")

    assert result.details["method"] == "tag-delete" and "repaired" not in result.details
    assert tags_of(registry, unique_repo) == {"latest": image.digest}


# -- remove_namespace ----------------------------------------------------------------------


def test_remove_namespace_needs_the_confirmation_then_leaves_no_tags(registry, unique_repo):
    namespace = unique_repo.split("/")[0]
    app, multi, neighbour = f"{namespace}/app", f"{namespace}/multi", f"{namespace}x/app"
    image = cotagged(registry, app, ["1.0", "latest"])
    old = push_image(registry, app, "0.9", seed="old")
    amd64, arm64, index = two_platform_index(registry, multi)
    kept = push_image(registry, neighbour, "1.0")  # "<namespace>x" is another namespace
    before = {repo: tags_of(registry, repo) for repo in (app, multi, neighbour)}

    for confirm in (None, "wrong", f"{namespace}x"):
        with pytest.raises(ConfirmationRequired) as caught:
            remove_namespace(registry.host, namespace, confirm=confirm)
        message = str(caught.value)
        assert app in message and multi in message and neighbour not in message
        assert "2 repositories, 4 tags, 5 manifests" in message
        assert f'confirm="{namespace}"' in message and "Nothing was changed" in message
    dry = remove_namespace(registry.host, namespace, dry_run=True)
    assert dry.dry_run and not dry.changed and len(dry.details["digests"]) == 5
    assert {repo: tags_of(registry, repo) for repo in (app, multi, neighbour)} == before
    assert plan_remove_namespace(registry.host, namespace).repositories[1].digests[0] == index

    result = remove_namespace(registry.host, namespace, confirm=namespace)

    assert result.changed and sorted(result.details["repositories"]) == [app, multi]
    assert tags_of(registry, app) == {} and tags_of(registry, multi) == {}
    for repo, digest in ((app, image.digest), (app, old.digest), (multi, index),
                         (multi, amd64.digest), (multi, arm64.digest)):
        assert not manifest_exists(registry, repo, digest)
    assert tags_of(registry, neighbour) == {"1.0": kept.digest}
    assert any(r["action"] == "remove_namespace" for r in journal.read())

    restore(result)  # and the backup brings the whole namespace back
    assert {repo: tags_of(registry, repo) for repo in (app, multi, neighbour)} == before
    assert manifest_exists(registry, multi, amd64.digest)


def test_remove_namespace_applies_exactly_the_plan_shown_or_nothing(registry, unique_repo):
    namespace = unique_repo.split("/")[0]
    image = push_image(registry, unique_repo, "1.0", seed="ns-plan")
    shown = plan_remove_namespace(registry.host, namespace)
    assert shown.changes is not None and [c.reference for c in shown.changes.changes] == [
        image.digest]

    # a repository that appeared under the namespace after the plan: refused
    late = push_image(registry, f"{namespace}/late", "1", seed="ns-late")
    with pytest.raises(ConfirmationRequired,
                       match=f"changed since the plan: new repositories: {namespace}/late"):
        remove_namespace(registry.host, namespace, confirm=namespace, plan=shown)
    # a tag that moved in a repository it read: refused by the engine
    shown = plan_remove_namespace(registry.host, namespace)
    moved = push_image(registry, unique_repo, "1.0", seed="ns-moved")
    with pytest.raises(ConfirmationRequired, match=f"{unique_repo}:1.0 moved to {moved.digest}"):
        remove_namespace(registry.host, namespace, confirm=namespace, plan=shown)
    with pytest.raises(ConfirmationRequired, match="Nothing was changed"):  # the name, typed
        remove_namespace(registry.host, namespace, confirm=namespace + "x",
                         plan=plan_remove_namespace(registry.host, namespace))
    with pytest.raises(ValueError, match="the plan is for"):
        remove_namespace(registry.host, namespace + "x", confirm=namespace + "x", plan=shown)
    assert tags_of(registry, unique_repo) == {"1.0": moved.digest}
    assert tags_of(registry, f"{namespace}/late") == {"1": late.digest}

    shown = plan_remove_namespace(registry.host, namespace)
    result = remove_namespace(registry.host, namespace, confirm=namespace, plan=shown)

    assert result.changed and result.details["change_plan"]["changes"] == \
        shown.changes.to_dict()["changes"]
    assert tags_of(registry, unique_repo) == {} and tags_of(registry, f"{namespace}/late") == {}


def test_remove_namespace_on_a_delete_disabled_registry_changes_nothing(nodelete_registry,
                                                                        unique_repo):
    namespace = unique_repo.split("/")[0]
    image = cotagged(nodelete_registry, unique_repo, ["1.0", "latest"])

    with pytest.raises(DeleteDisabled, match="nothing was changed"):
        remove_namespace(nodelete_registry.host, namespace, confirm=namespace)
    assert tags_of(nodelete_registry, unique_repo) == {"1.0": image.digest, "latest": image.digest}
