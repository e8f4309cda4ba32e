"""``mutate``: a new config and manifest over the same layers, without a rebuild.

skopeo, an independent client, reads the result (``skopeo inspect`` for the config it
presents, ``--raw`` for the manifest); blobs are read over raw HTTP. The layers' being
mounted or skipped rather than uploaded is read from the registry's own storage: a
cross-repository mount links the blob, it writes no new upload data.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from registry_widgets.errors import InvalidArgument, Protected
from registry_widgets.operations.core import clients
from registry_widgets.operations.core.undo import restore
from registry_widgets.operations.images.mutate import mutate
from registry_widgets.operations.images.protection import protect
from tests.support import push_image
from tests.support.oracle import get_blob, get_manifest


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def skopeo(host: str, repository: str, tag: str, *raw: str) -> dict:
    out = subprocess.run(["skopeo", "inspect", *raw, "--tls-verify=false",
                          f"docker://{host}/{repository}:{tag}"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return json.loads(out)


def test_mutate_changes_the_config_and_keeps_the_layers(registry, unique_repo):
    image = push_image(registry, unique_repo, "1.0", labels={"team": "a", "old": "x"})
    result = mutate(f"{registry.host}/{unique_repo}:1.0", f"{registry.host}/{unique_repo}:1.0-p",
                    labels={"version": "1.0-p", "old": None}, env={"LOG": "debug"},
                    entrypoint=["/bin/sh", "-c"], cmd="echo 'hello world'", user="1000:1000")
    seen = skopeo(registry.host, unique_repo, "1.0-p")
    assert seen["Labels"] == {"team": "a", "version": "1.0-p"}
    assert seen["Env"][-1] == "LOG=debug" and seen["Env"][0].startswith("PATH=")
    raw = skopeo(registry.host, unique_repo, "1.0-p", "--raw")
    assert [layer["digest"] for layer in raw["layers"]] == [b.digest for b in image.layers]
    assert raw["config"]["digest"] == result.details["config"] != image.config.digest
    config = json.loads(get_blob(registry, unique_repo, raw["config"]["digest"]))["config"]
    assert (config["Entrypoint"], config["Cmd"], config["User"]) == (
        ["/bin/sh", "-c"], ["echo", "hello world"], "1000:1000")
    assert get_manifest(registry, unique_repo, "1.0-p").digest == result.digest
    assert get_manifest(registry, unique_repo, "1.0").digest == image.digest  # untouched
    assert result.details["layers"]["skipped"] == len(image.layers)  # same repository


def test_mutate_into_another_repository_mounts_the_layers(registry, unique_repo):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(4096, 8192))
    other = unique_repo + "-patched"
    result = mutate(image.reference, f"{registry.host}/{other}:1.0", labels={"patched": "yes"})
    assert result.details["layers"]["mounted"] == 2
    assert result.bytes_moved < 4096  # only the config moved
    for layer in image.layers:
        assert len(get_blob(registry, other, layer.digest)) == layer.size
    assert skopeo(registry.host, other, "1.0")["Labels"] == {"patched": "yes"}


def test_mutate_across_registries_copies_the_layers(registry, registry_b, unique_repo):
    image = push_image(registry, unique_repo, "1.0")
    mutate(image.reference, f"{registry_b.host}/{unique_repo}:1.0", cmd=["/app"])
    assert skopeo(registry_b.host, unique_repo, "1.0", "--raw")["layers"] == [
        {"mediaType": b.media_type, "digest": b.digest, "size": b.size} for b in image.layers]


def test_a_replaced_tag_is_backed_up_and_restore_undoes(registry, unique_repo):
    image = push_image(registry, unique_repo, "latest", labels={"v": "1"})
    result = mutate(image.reference, image.reference, labels={"v": "2"})
    assert result.details["replaces"] == {"latest": image.digest}
    assert skopeo(registry.host, unique_repo, "latest")["Labels"] == {"v": "2"}
    restore(result)
    assert get_manifest(registry, unique_repo, "latest").digest == image.digest


def test_a_protected_tag_is_refused(registry, unique_repo):
    image = push_image(registry, unique_repo, "prod")
    other = push_image(registry, unique_repo, "dev", seed="dev")
    protect(f"{registry.host}/{unique_repo.split('/')[0]}", "prod")
    with pytest.raises(Protected):
        mutate(other.reference, image.reference, labels={"x": "y"})
    assert get_manifest(registry, unique_repo, "prod").digest == image.digest


@pytest.mark.parametrize("kwargs, message", [
    ({}, "needs something to change"),
    ({"labels": ["a=b"]}, "labels must map names to text"),
    ({"env": {"A": 1}}, "env must map names to text"),
    ({"cmd": 5}, "cmd must be a list of words"),
    ({"entrypoint": "'unclosed"}, "does not split into words"),
])
def test_bad_arguments_change_nothing(registry, unique_repo, kwargs, message):
    image = push_image(registry, unique_repo, "1.0")
    with pytest.raises(InvalidArgument, match=message):
        mutate(image.reference, f"{registry.host}/{unique_repo}:new", **kwargs)
    assert subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                           f"docker://{registry.host}/{unique_repo}:new"],
                          capture_output=True).returncode != 0


def test_one_platform_of_an_index(registry, unique_repo):
    from tests.support.images import push_index

    amd64 = push_image(registry, unique_repo, None, seed="m-amd64")
    arm64 = push_image(registry, unique_repo, None, seed="m-arm64",
                       platform=("linux", "arm64", "v8"))
    push_index(registry, unique_repo, "multi", [amd64, arm64])
    source = f"{registry.host}/{unique_repo}:multi"
    with pytest.raises(InvalidArgument, match="multi-arch index.*platform='linux/amd64'"):
        mutate(source, f"{registry.host}/{unique_repo}:arm", labels={"a": "b"})
    mutate(source, f"{registry.host}/{unique_repo}:arm", labels={"a": "b"},
           platform="linux/arm64/v8")
    raw = skopeo(registry.host, unique_repo, "arm", "--raw")
    assert [layer["digest"] for layer in raw["layers"]] == [b.digest for b in arm64.layers]
    config = json.loads(get_blob(registry, unique_repo, raw["config"]["digest"]))
    assert (config["architecture"], config["config"]["Labels"]) == ("arm64", {"a": "b"})
