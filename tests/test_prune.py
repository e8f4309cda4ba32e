"""prune() and collect_garbage(delete_untagged=True): what no tag reaches goes, nothing else.

distribution 2.x's own ``garbage-collect --delete-untagged`` deletes the untagged platform
manifests of every tagged multi-arch index (distribution #3178, #3004). These tests build
exactly that case on a real registry (a tagged index whose children were pushed by digest,
beside an image whose tag moved on) and judge with raw HTTP, never with the package's client.
"""

from __future__ import annotations

import json

import pytest

from registry_widgets import restore
from registry_widgets.errors import BadReference, ConfirmationRequired, RegistryWidgetsError
from registry_widgets.operations.cleanup.gc import blob_bytes, collect_garbage
from registry_widgets.operations.cleanup.prune import plan_prune, prune
from registry_widgets.operations.core import clients
from tests.support import RawClient, push_image, push_index


@pytest.fixture(autouse=True)
def fresh():
    clients.reset()
    yield
    clients.reset()


def status(reg, repository: str, reference: str, kind: str = "manifests") -> int:
    accept = ", ".join([
        "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json"])
    return RawClient(reg).request(
        "GET", f"/v2/{repository}/{kind}/{reference}", scope=f"repository:{repository}:pull",
        headers={"Accept": accept}).status_code


@pytest.fixture
def scene(embedded):
    """team/multi:1.0, a two-platform index over children pushed by digest only;
    team/app:1.0 moved from an old image (now untagged) to a new one."""
    amd = push_image(embedded, "team/multi", None, platform=("linux", "amd64"), seed="amd")
    arm = push_image(embedded, "team/multi", None, platform=("linux", "arm64", "v8"), seed="arm")
    index = push_index(embedded, "team/multi", "1.0", [amd, arm])
    old = push_image(embedded, "team/app", "1.0", seed="old", layer_sizes=(40_000,),
                     created="2024-01-01T00:00:00Z")
    new = push_image(embedded, "team/app", "1.0", seed="new", layer_sizes=(10_000,),
                     created="2024-02-01T00:00:00Z")
    assert status(embedded, "team/app", old.digest) == 200  # untagged, still there
    return {"reg": embedded, "index": index, "children": [amd, arm], "old": old, "new": new}


def test_prune_deletes_only_what_no_tag_reaches_and_restore_brings_it_back(scene):
    reg, old = scene["reg"], scene["old"]
    preview = prune(reg.host)
    assert preview.dry_run and not preview.changed
    planned = {(row["repository"], row["reference"]) for row in preview.details["plan"]["changes"]}
    assert planned == {("team/app", old.digest)}, "index children must never be planned"
    kept = {row["digest"] for row in preview.details["plan"]["kept"]}
    assert {c.digest for c in scene["children"]} <= kept
    assert status(reg, "team/app", old.digest) == 200, "a dry run deleted something"

    result = prune(reg.host, dry_run=False)
    assert result.changed and result.details["backup_id"]
    assert status(reg, "team/app", old.digest) == 404
    for child in scene["children"]:
        assert status(reg, "team/multi", child.digest) == 200
    assert status(reg, "team/multi", "1.0") == 200
    assert status(reg, "team/app", "1.0") == 200
    assert status(reg, "team/app", scene["new"].digest) == 200

    restore(result)
    assert status(reg, "team/app", old.digest) == 200
    assert status(reg, "team/app", "1.0") == 200
    assert scene["new"].digest == RawClient(reg).request(
        "HEAD", "/v2/team/app/manifests/1.0", scope="repository:team/app:pull",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}
    ).headers["Docker-Content-Digest"], "restoring the untagged image must not move the tag"


def test_prune_of_one_repository_leaves_the_others(scene):
    reg, old = scene["reg"], scene["old"]
    other = push_image(reg, "other/app", "1.0", seed="other-old")
    push_image(reg, "other/app", "1.0", seed="other-new")
    result = prune(f"{reg.host}/team/app", dry_run=False)
    assert {r["reference"] for r in result.details["plan"]["changes"]} == {old.digest}
    assert status(reg, "other/app", other.digest) == 200


def test_a_signature_tag_keeps_its_untagged_subject(scene):
    reg, old = scene["reg"], scene["old"]
    # cosign's tag scheme: the signature of old is tagged sha256-<hex>.sig
    push_image(reg, "team/app", f"sha256-{old.digest.split(':')[1]}.sig", seed="sig")
    plan = plan_prune(f"{reg.host}/team")
    assert old.digest not in {c.reference for c in plan.changes}
    assert any(k["digest"] == old.digest and "signed" in k["why"] for k in plan.kept)


def test_a_plan_is_refused_when_a_tag_moved_since(scene):
    reg, old = scene["reg"], scene["old"]
    plan = plan_prune(reg.host)
    assert [c.reference for c in plan.changes] == [old.digest]
    # someone tags the old image again between the plan and its confirmation
    data = RawClient(reg).request(
        "GET", f"/v2/team/app/manifests/{old.digest}", scope="repository:team/app:pull",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    RawClient(reg).request("PUT", "/v2/team/app/manifests/keep", scope="repository:team/app:push,pull",
                           data=data.content, headers={"Content-Type": data.headers["Content-Type"]},
                           expect=(201,))
    with pytest.raises(ConfirmationRequired, match="changed since the plan: team/app:keep is new"):
        prune(reg.host, plan=plan, dry_run=False)
    assert status(reg, "team/app", old.digest) == 200


def test_a_plan_for_another_target_is_refused(scene):
    plan = plan_prune(scene["reg"].host)
    with pytest.raises(BadReference, match="that plan is for"):
        prune(f"{scene['reg'].host}/team", plan=plan, dry_run=False)
    assert status(scene["reg"], "team/app", scene["old"].digest) == 200


def test_collect_garbage_delete_untagged_keeps_every_platform_of_a_tagged_index(scene):
    reg, old = scene["reg"], scene["old"]
    preview = collect_garbage(reg.host, delete_untagged=True, dry_run=True)
    assert preview.details["manifests_deleted"] == [old.digest]
    assert "1. prune" in preview.details["steps"][0]
    assert status(reg, "team/app", old.digest) == 200, "the dry run deleted something"

    on_disk = blob_bytes(reg.storage)
    result = collect_garbage(reg.host, delete_untagged=True)
    assert result.details["manifests_deleted"] == [old.digest]
    assert result.details["bytes_freed"] > 0
    assert on_disk - blob_bytes(reg.storage) == result.details["bytes_freed"]
    assert status(reg, "team/app", old.digest) == 404
    for layer in old.layers:
        assert status(reg, "team/app", layer.digest, "blobs") == 404
    # the index and every platform it lists, with their blobs, are whole
    assert status(reg, "team/multi", "1.0") == 200
    for child in scene["children"]:
        assert status(reg, "team/multi", child.digest) == 200
        for layer in child.layers:
            assert status(reg, "team/multi", layer.digest, "blobs") == 200


def test_garbage_collection_refuses_a_live_registry_it_cannot_pause(scene):
    reg, old = scene["reg"], scene["old"]
    from registry_widgets.operations.images.remove import remove

    remove(f"{reg.host}/team/app@{old.digest}")
    pid = reg.pid_file.read_text()
    reg.pid_file.unlink()  # the registry still serves, but we can no longer find its process
    try:
        on_disk = blob_bytes(reg.storage)
        with pytest.raises(RegistryWidgetsError, match="not as a process this package can pause"):
            collect_garbage(reg.host)
        assert blob_bytes(reg.storage) == on_disk, "a live, writable registry was swept"
        assert status(reg, "team/app", "1.0") == 200
    finally:
        reg.pid_file.write_text(pid)  # so the fixture can stop it
