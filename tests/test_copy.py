"""copy(): registry to registry, byte-exact, skipping, mounting, and safe when interrupted."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time

import pytest

from registry_widgets.errors import NotFound, RegistryError
from registry_widgets.operations import clients, journal
from registry_widgets.operations.copy import copy
from tests.support.images import push_image, push_index, random_layers


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def skopeo_raw_digest(host: str, repository: str, tag: str) -> str:
    """The target digest as skopeo, an independent client, reads it."""
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                          f"docker://{host}/{repository}:{tag}"],
                         check=True, capture_output=True, timeout=60).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def blobs_of(image) -> list:
    return [image.config, *image.layers]


def test_copy_single_image_between_registries(registry, registry_b, unique_repo):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(300_000, 200_000, 100_000),
                       seed="single")
    result = copy(image.reference, f"{registry_b.host}/{unique_repo}:1.0")

    assert result.digest == image.digest
    assert skopeo_raw_digest(registry_b.host, unique_repo, "1.0") == image.digest
    target = clients.client_for(registry_b.host)
    for blob in blobs_of(image):
        assert target.head_blob(unique_repo, blob.digest) == blob.size
    assert result.details["blobs"] == {"copied": 4, "skipped": 0, "mounted": 0}
    assert result.bytes_moved == sum(b.size for b in blobs_of(image))
    assert any(r["action"] == "copy" and r["digest"] == image.digest for r in journal.read())


def test_copy_two_platform_index_keeps_the_index_digest(registry, registry_b, unique_repo):
    amd64 = push_image(registry, unique_repo, None, layer_sizes=(50_000,), seed="amd64")
    arm64 = push_image(registry, unique_repo, None, layer_sizes=(60_000,), seed="arm64",
                       platform=("linux", "arm64", "v8"))
    index = push_index(registry, unique_repo, "multi", [amd64, arm64])

    result = copy(f"{registry.host}/{unique_repo}:multi", f"{registry_b.host}/{unique_repo}:multi")

    assert result.digest == index
    assert skopeo_raw_digest(registry_b.host, unique_repo, "multi") == index
    target = clients.client_for(registry_b.host)
    for child in (amd64, arm64):
        assert target.get_manifest(unique_repo, child.digest).data == child.manifest
    assert sorted(result.details["platforms"]) == ["linux/amd64", "linux/arm64/v8"]


def test_copy_of_one_platform_rewrites_the_index_and_says_so(registry, registry_b, unique_repo):
    amd64 = push_image(registry, unique_repo, None, layer_sizes=(10_000,), seed="p-amd64")
    arm64 = push_image(registry, unique_repo, None, layer_sizes=(10_000,), seed="p-arm64",
                       platform=("linux", "arm64"))
    index = push_index(registry, unique_repo, "multi", [amd64, arm64])

    result = copy(f"{registry.host}/{unique_repo}:multi", f"{registry_b.host}/{unique_repo}:amd",
                  platforms=["linux/amd64"])

    assert result.digest != index and result.details["same_digest"] is False
    target = clients.client_for(registry_b.host)
    children = target.get_manifest(unique_repo, "amd").children
    assert [c.digest for c in children] == [amd64.digest]
    assert target.head_blob(unique_repo, arm64.layers[0].digest) is None


def test_same_registry_copy_mounts_and_moves_no_blob_bytes(registry, unique_repo):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(400_000, 1000), seed="mount")
    client = clients.client_for(registry.host)
    before = dict(client.transport.stats)

    result = copy(image.reference, f"{registry.host}/{unique_repo}-copy:1.0")

    assert client.transport.stats["bytes_up"] == before["bytes_up"]
    assert client.transport.stats["bytes_down"] == before["bytes_down"]
    assert result.bytes_moved == 0
    assert result.details["blobs"] == {"copied": 0, "skipped": 0, "mounted": 3}
    assert client.head_manifest(f"{unique_repo}-copy", "1.0").digest == image.digest


def test_rerun_on_a_complete_target_does_nothing(registry, registry_b, unique_repo):
    image = push_image(registry, unique_repo, "1.0", seed="rerun")
    target_ref = f"{registry_b.host}/{unique_repo}:1.0"
    copy(image.reference, target_ref)
    target = clients.client_for(registry_b.host)
    requests_before = target.transport.stats["requests"]

    again = copy(image.reference, target_ref)

    assert again.changed is False and again.bytes_moved == 0 and again.digest == image.digest
    assert target.transport.stats["requests"] - requests_before == 1  # one HEAD of the tag


def test_blobs_already_at_the_target_are_skipped(registry, registry_b, unique_repo):
    shared = random_layers([250_000], seed="shared")[0]
    push_image(registry_b, unique_repo, "base", layers=[shared])
    image = push_image(registry, unique_repo, "app", layers=[shared, b"app layer" * 1000])

    result = copy(image.reference, f"{registry_b.host}/{unique_repo}:app")

    assert result.details["blobs"]["skipped"] == 1
    assert result.bytes_moved == image.config.size + len(b"app layer" * 1000)


def test_progress_reports_every_blob(registry, registry_b, unique_repo):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(3_000_000, 5000), seed="prog")
    events = []
    copy(image.reference, f"{registry_b.host}/{unique_repo}:1.0", progress=events.append)

    finished = {e.id for e in events if e.status == "copied"}
    assert finished == {b.digest for b in blobs_of(image)}
    big = [e for e in events if e.id == image.layers[0].digest and e.status == "copying"]
    assert len(big) >= 2 and big[-1].current == big[-1].total == image.layers[0].size


def test_missing_source_is_a_clear_error_and_changes_nothing(registry, registry_b, unique_repo):
    with pytest.raises(NotFound) as caught:
        copy(f"{registry.host}/{unique_repo}:nope", f"{registry_b.host}/{unique_repo}:nope")
    assert registry.host in str(caught.value) and "nope" in str(caught.value)
    assert list(clients.client_for(registry_b.host).catalog()) == [] or \
        unique_repo not in list(clients.client_for(registry_b.host).catalog())


def _consistent(host: str, repository: str, tag: str) -> bool | None:
    """None while the tag does not resolve; else whether all its content is present."""
    import requests

    base = f"http://{host}/v2/{repository}"
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    response = requests.get(f"{base}/manifests/{tag}", headers=accept, timeout=5)
    if response.status_code == 404:
        return None
    manifest = json.loads(response.content)
    for blob in [manifest["config"], *manifest["layers"]]:
        if requests.head(f"{base}/blobs/{blob['digest']}", timeout=5).status_code != 200:
            return False
    return True


@pytest.mark.slow
def test_interrupted_copy_never_exposes_missing_blobs_and_a_rerun_completes(
        registry, registry_factory, unique_repo):
    target = registry_factory()
    image = push_image(registry, unique_repo, "big", layer_sizes=(48 << 20, 32 << 20, 4096),
                       seed="big")
    target_ref = f"{target.host}/{unique_repo}:big"
    clients.configure(target.host, retries=1, backoff=0.05)

    observed: list[bool | None] = []
    stop_watching = threading.Event()

    def watch() -> None:
        while not stop_watching.is_set():
            try:
                observed.append(_consistent(target.host, unique_repo, "big"))
            except Exception:  # registry down: nothing resolves  # noqa: BLE001
                observed.append(None)
            time.sleep(0.02)

    stopped = threading.Event()

    def stop_target_midway(event) -> None:
        if event.status == "copying" and event.current > (8 << 20) and not stopped.is_set():
            stopped.set()
            target.stop()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with pytest.raises(RegistryError):
            copy(image.reference, target_ref, progress=stop_target_midway)
        assert stopped.is_set()
        target.start()
        assert _consistent(target.host, unique_repo, "big") is None  # tag never moved
        result = copy(image.reference, target_ref)
    finally:
        stop_watching.set()
        watcher.join()

    assert result.digest == image.digest
    assert _consistent(target.host, unique_repo, "big") is True
    assert False not in observed  # at no point did the tag name a manifest with missing blobs
    assert skopeo_raw_digest(target.host, unique_repo, "big") == image.digest


def test_a_target_blob_with_a_broken_link_is_sent_again(registry, registry_factory, unique_repo):
    # What a registry killed while committing an upload can leave: an empty link file in
    # the repository. distribution answers HEAD on that blob with 500.
    target = registry_factory()
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(200_000,), seed="dangling")
    push_image(target, unique_repo, "old", layers=[b"placeholder"])
    layer = image.layers[0]
    copy(image.reference, f"{target.host}/{unique_repo}:1.0")
    link = target.storage / "docker/registry/v2/repositories" / unique_repo / \
        "_layers/sha256" / layer.digest[7:] / "link"
    link.write_bytes(b"")  # killed before the link's content was written
    clients.reset()
    clients.configure(target.host, retries=1, backoff=0.05)

    result = copy(image.reference, f"{target.host}/{unique_repo}:2.0")

    assert result.details["blobs"]["copied"] >= 1
    assert link.read_text() == layer.digest
    assert skopeo_raw_digest(target.host, unique_repo, "2.0") == image.digest
