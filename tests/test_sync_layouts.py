"""sync() into one OCI layout and back, and sync's target names as skopeo sync writes them.

skopeo reads every image of the layout we write by its ``ref.name``; what reaches a registry
is read back with the raw-HTTP oracle.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import subprocess
import tarfile

import pytest

from registry_widgets.errors import BadReference, InvalidArgument
from registry_widgets.operations.images.archive import BadArchive
from registry_widgets.operations.mirror.sync import sync
from tests.support.images import push_image, push_index
from tests.support.oracle import get_manifest, list_repositories, list_tags

pytest_plugins = ["faults_fixtures"]  # fresh clients for every test

REF_NAME = "org.opencontainers.image.ref.name"


def name() -> str:
    return f"gap-{secrets.token_hex(3)}"


def skopeo_digest(transport_ref: str) -> str:
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", transport_ref],
                         check=True, capture_output=True, timeout=60).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.fixture
def team(registry):
    """``ns/app`` (1.0, 2.0, sharing a layer) and ``ns/multi:1.0`` (a two-platform index)."""
    ns = name()
    shared = b"shared layer " * 200
    one = push_image(registry, f"{ns}/app", "1.0", layers=[shared, b"one" * 50])
    two = push_image(registry, f"{ns}/app", "2.0", layers=[shared, b"two" * 50])
    amd = push_image(registry, f"{ns}/multi", None, layers=[shared])
    arm = push_image(registry, f"{ns}/multi", None, layers=[b"arm" * 99],
                     platform=("linux", "arm64"))
    index = push_index(registry, f"{ns}/multi", "1.0", [amd, arm])
    return {"ns": ns, "app:1.0": one.digest, "app:2.0": two.digest, "multi:1.0": index}


def test_a_repository_lands_under_the_target_as_skopeo_sync_names_it(registry, registry_b,
                                                                     team):
    target = name()
    sync(f"{registry.host}/{team['ns']}/app", f"{registry_b.host}/{target}")
    repositories = list_repositories(registry_b)
    assert f"{target}/app" in repositories and target not in repositories
    assert sorted(list_tags(registry_b, f"{target}/app")) == ["1.0", "2.0"]


def test_a_namespace_goes_into_one_oci_archive_and_back_with_every_digest(registry, registry_b,
                                                                          team, tmp_path):
    archive = tmp_path / "team.tar"
    out = sync(f"{registry.host}/{team['ns']}", f"oci-archive:{archive}")
    assert out.details["counts"] == {"copied": 3}
    for ref in ("app:1.0", "app:2.0", "multi:1.0"):
        assert skopeo_digest(f"oci-archive:{archive}:{ref}") == team[ref]
    with tarfile.open(archive) as tar:
        index = json.loads(tar.extractfile("index.json").read())
        shared = [m for m in tar.getnames() if m.startswith("blobs/")]
    assert sorted(m["annotations"][REF_NAME] for m in index["manifests"]) == [
        "app:1.0", "app:2.0", "multi:1.0"]
    assert len(shared) == len(set(shared))  # the shared layer is stored once

    mirror = name()
    plan = sync(f"oci-archive:{archive}", f"{registry_b.host}/{mirror}", dry_run=True)
    assert {r["target"]: r["action"] for r in plan.details["images"]} == {
        f"{registry_b.host}/{mirror}/app:1.0": "copy",
        f"{registry_b.host}/{mirror}/app:2.0": "copy",
        f"{registry_b.host}/{mirror}/multi:1.0": "copy"}
    assert not any(r.startswith(mirror) for r in list_repositories(registry_b))  # a dry run
    back = sync(f"oci-archive:{archive}", f"{registry_b.host}/{mirror}", plan=plan)
    assert back.details["counts"] == {"copied": 3}
    for ref in ("app:1.0", "app:2.0", "multi:1.0"):
        repository, _, tag = ref.partition(":")
        assert get_manifest(registry_b, f"{mirror}/{repository}", tag).digest == team[ref]
    again = sync(f"oci-archive:{archive}", f"{registry_b.host}/{mirror}")
    assert again.details["counts"] == {"skipped": 3} and not again.changed


def test_a_target_tag_that_moved_since_the_import_plan_fails_alone(registry, registry_b, team,
                                                                   tmp_path):
    folder = tmp_path / "layout"
    sync(f"{registry.host}/{team['ns']}", f"oci:{folder}", tags=r"^1\.0$")
    mirror = name()
    plan = sync(f"oci:{folder}", f"{registry_b.host}/{mirror}", dry_run=True)
    later = push_image(registry_b, f"{mirror}/app", "1.0", layers=[b"pushed meanwhile"])
    result = sync(f"oci:{folder}", f"{registry_b.host}/{mirror}", plan=plan)
    rows = {r["target"]: r for r in result.details["images"]}
    moved = rows[f"{registry_b.host}/{mirror}/app:1.0"]
    assert moved["status"] == "failed" and "changed since the plan" in moved["error"]
    assert get_manifest(registry_b, f"{mirror}/app", "1.0").digest == later.digest
    assert rows[f"{registry_b.host}/{mirror}/multi:1.0"]["status"] == "copied"


def test_a_damaged_archive_syncs_nothing(registry, registry_b, team, tmp_path):
    archive = tmp_path / "team.tar"
    sync(f"{registry.host}/{team['ns']}", f"oci-archive:{archive}")
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(archive) as src, tarfile.open(damaged, "w") as dst:
        last_blob = [m.name for m in src if m.name.startswith("blobs/")][-1]
        for info in src:
            data = src.extractfile(info).read() if info.isreg() else None
            if info.name == last_blob:
                data = bytes([data[0] ^ 1]) + data[1:]
            dst.addfile(info, io.BytesIO(data) if data is not None else None)
    mirror = name()
    with pytest.raises(BadArchive, match="damaged.tar"):
        sync(f"oci-archive:{damaged}", f"{registry_b.host}/{mirror}")
    assert not any(r.startswith(mirror) for r in list_repositories(registry_b))


@pytest.mark.parametrize("source, target, words", [
    ("{a}/ns", "oci:{tmp}/x:app:1.0", "names one image"),
    ("oci:{tmp}/x:app:1.0", "{b}/ns", "without :REF"),
    ("docker-archive:{tmp}/x.tar", "{b}/ns", "whole OCI layout"),
    ("oci:{tmp}/x", "oci:{tmp}/y", "one side must be a registry"),
])
def test_sync_refuses_what_a_layout_sync_cannot_do(registry, registry_b, tmp_path, source,
                                                   target, words):
    files = tmp_path / "files"
    files.mkdir()
    fill = {"a": registry.host, "b": registry_b.host, "tmp": files}
    with pytest.raises((BadReference, InvalidArgument), match=words):
        sync(source.format(**fill), target.format(**fill))
    assert not list(files.iterdir())


def test_images_in_the_layout_are_named_as_skopeo_sync_names_its_folders(registry, team,
                                                                          tmp_path):
    """skopeo 1.9's sync has no oci destination; ``--dest dir`` writes a folder per image,
    named as our layout names its entries (the repository's last component, then the tag)."""
    config = tmp_path / "sync.yaml"
    config.write_text(json.dumps({registry.host: {"tls-verify": False, "images": {
        f"{team['ns']}/app": [], f"{team['ns']}/multi": []}}}))
    theirs = tmp_path / "skopeo"
    subprocess.run(["skopeo", "sync", "--all", "--src", "yaml", "--dest", "dir", str(config),
                    str(theirs)], check=True, capture_output=True, timeout=120)
    ours = sync(f"{registry.host}/{team['ns']}", f"oci:{tmp_path / 'ours'}")
    assert sorted(row["ref"] for row in ours.details["images"]) == \
        sorted(p.name for p in theirs.iterdir())
