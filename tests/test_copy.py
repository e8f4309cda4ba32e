"""copy(): registry to registry, byte-exact, skipping, mounting, and safe when interrupted.

What arrived is read back with the raw-HTTP oracle of ``tests/support`` or skopeo, and what
crossed the wire is counted by a ``FaultProxy`` (no faults, just its log) in front of the target,
never by the package's own client or counters.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time

import pytest

from registry_widgets.errors import NotFound, RegistryError
from registry_widgets.operations.core import clients, journal
from registry_widgets.operations.images.copy import copy
from tests.support.images import push_image, push_index, random_layers
from tests.support.oracle import RawClient, get_blob, get_manifest, list_repositories

pytest_plugins = ["faults_fixtures"]  # fault_proxy: counts what crosses the wire


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


def uploaded_bytes(proxy) -> int:
    """Request-body bytes the proxy saw going into blob uploads."""
    return sum(e.bytes_in for e in proxy.exchanges(None, r"/blobs/uploads/")
               if e.method in ("PUT", "PATCH"))


def blob_status(registry, repository: str, digest: str) -> int:
    return RawClient(registry).request("HEAD", f"/v2/{repository}/blobs/{digest}").status_code


def test_copy_single_image_between_registries(registry, registry_b, unique_repo, fault_proxy):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(300_000, 200_000, 100_000),
                       seed="single")
    wire = fault_proxy(registry_b)
    result = copy(image.reference, f"{wire.host}/{unique_repo}:1.0")

    assert result.digest == image.digest
    assert skopeo_raw_digest(registry_b.host, unique_repo, "1.0") == image.digest
    for blob in blobs_of(image):
        assert len(get_blob(registry_b, unique_repo, blob.digest)) == blob.size  # digest checked
    total = sum(b.size for b in blobs_of(image))
    assert uploaded_bytes(wire) == total == result.bytes_moved
    assert result.details["blobs"] == {"copied": 4, "skipped": 0, "mounted": 0}
    assert any(r["action"] == "copy" and r["digest"] == image.digest for r in journal.read())
    assert f"{image.digest} ({total / 1e3:.1f} kB moved, " in result.summary()


def test_copy_two_platform_index_keeps_the_index_digest(registry, registry_b, unique_repo):
    amd64 = push_image(registry, unique_repo, None, layer_sizes=(50_000,), seed="amd64")
    arm64 = push_image(registry, unique_repo, None, layer_sizes=(60_000,), seed="arm64",
                       platform=("linux", "arm64", "v8"))
    index = push_index(registry, unique_repo, "multi", [amd64, arm64])

    result = copy(f"{registry.host}/{unique_repo}:multi", f"{registry_b.host}/{unique_repo}:multi")

    assert result.digest == index
    assert skopeo_raw_digest(registry_b.host, unique_repo, "multi") == index
    for child in (amd64, arm64):
        assert get_manifest(registry_b, unique_repo, child.digest).data == child.manifest
    assert sorted(result.details["platforms"]) == ["linux/amd64", "linux/arm64/v8"]


def test_copy_of_one_platform_rewrites_the_index_and_says_so(registry, registry_b, unique_repo):
    amd64 = push_image(registry, unique_repo, None, layer_sizes=(10_000,), seed="p-amd64")
    arm64 = push_image(registry, unique_repo, None, layer_sizes=(10_000,), seed="p-arm64",
                       platform=("linux", "arm64"))
    index = push_index(registry, unique_repo, "multi", [amd64, arm64])

    result = copy(f"{registry.host}/{unique_repo}:multi", f"{registry_b.host}/{unique_repo}:amd",
                  platforms=["linux/amd64"])

    assert result.digest != index and result.details["same_digest"] is False
    rewritten = json.loads(get_manifest(registry_b, unique_repo, "amd").data)
    assert [c["digest"] for c in rewritten["manifests"]] == [amd64.digest]
    assert blob_status(registry_b, unique_repo, arm64.layers[0].digest) == 404


def test_same_registry_copy_mounts_and_moves_no_blob_bytes(registry, unique_repo, fault_proxy):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(400_000, 1000), seed="mount")
    wire = fault_proxy(registry)

    result = copy(f"{wire.host}/{unique_repo}:1.0", f"{wire.host}/{unique_repo}-copy:1.0")

    assert wire.exchanges("GET", r"/blobs/sha256:") == []
    assert uploaded_bytes(wire) == 0
    mounts = wire.exchanges("POST", r"/blobs/uploads/\?.*mount=")
    assert sorted((e.path.split("mount=")[1].split("&")[0], e.status) for e in mounts) == \
        sorted((b.digest, 201) for b in blobs_of(image))
    assert result.bytes_moved == 0
    assert result.details["blobs"] == {"copied": 0, "skipped": 0, "mounted": 3}
    assert get_manifest(registry, f"{unique_repo}-copy", "1.0").digest == image.digest


def test_rerun_on_a_complete_target_does_nothing(registry, registry_b, unique_repo, fault_proxy):
    image = push_image(registry, unique_repo, "1.0", seed="rerun")
    wire = fault_proxy(registry_b)
    target_ref = f"{wire.host}/{unique_repo}:1.0"
    copy(image.reference, target_ref)
    wire.clear()

    again = copy(image.reference, target_ref)

    assert again.changed is False and again.bytes_moved == 0 and again.digest == image.digest
    assert [(e.method, e.path) for e in wire.log] == [("HEAD", f"/v2/{unique_repo}/manifests/1.0")]


def test_blobs_already_at_the_target_are_skipped(registry, registry_b, unique_repo, fault_proxy):
    shared = random_layers([250_000], seed="shared")[0]
    push_image(registry_b, unique_repo, "base", layers=[shared])
    image = push_image(registry, unique_repo, "app", layers=[shared, b"app layer" * 1000])
    wire = fault_proxy(registry_b)

    result = copy(image.reference, f"{wire.host}/{unique_repo}:app")

    sent = image.config.size + len(b"app layer" * 1000)
    assert uploaded_bytes(wire) == sent == result.bytes_moved
    assert result.details["blobs"]["skipped"] == 1
    assert get_manifest(registry_b, unique_repo, "app").digest == image.digest


def test_progress_reports_every_blob(registry, registry_b, unique_repo):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(3_000_000, 5000), seed="prog")
    events = []
    copy(image.reference, f"{registry_b.host}/{unique_repo}:1.0", progress=events.append)

    finished = {e.id for e in events if e.status == "copied"}
    assert finished == {b.digest for b in blobs_of(image)}
    big = [e for e in events if e.id == image.layers[0].digest and e.status == "copying"]
    assert len(big) >= 2 and big[-1].current == big[-1].total == image.layers[0].size


def test_missing_source_is_a_clear_error_and_changes_nothing(registry, registry_b, unique_repo,
                                                             fault_proxy):
    wire = fault_proxy(registry_b)
    with pytest.raises(NotFound) as caught:
        copy(f"{registry.host}/{unique_repo}:nope", f"{wire.host}/{unique_repo}:nope")
    assert registry.host in str(caught.value) and "nope" in str(caught.value)
    assert [e for e in wire.log if e.method not in ("GET", "HEAD")] == []
    assert unique_repo not in list_repositories(registry_b)


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
    assert get_blob(target, unique_repo, layer.digest)  # served again, digest checked
    assert link.read_text() == layer.digest
    assert skopeo_raw_digest(target.host, unique_repo, "2.0") == image.digest


def test_a_blob_over_the_metadata_bound_is_seen_present_and_skipped(registry, registry_b,
                                                                     unique_repo):
    # A blob's HEAD announces the blob's size. The small-request path bounds metadata bodies
    # at 4 MiB; applied to a blob HEAD, every layer above it looked like a hostile answer and a
    # copy to a target that already had the layer failed (found by the benchmark).
    big = push_image(registry, unique_repo, "1.0", layer_sizes=(6 << 20,), seed=unique_repo)
    first = copy(big.reference, f"{registry_b.host}/{unique_repo}:1.0")
    assert first.digest == big.digest
    again = copy(big.reference, f"{registry_b.host}/{unique_repo}:2.0")  # blobs all present
    assert again.details["blobs"]["skipped"] >= 1 and again.bytes_moved == 0
    assert get_manifest(registry_b, unique_repo, "2.0").digest == big.digest
