"""copy() through OCI layouts, oci-archives and docker-archives, cross-checked with skopeo.

Both ways: skopeo reads what we write (``skopeo inspect --raw oci:DIR:REF``, same digests),
and we read what skopeo writes (``skopeo copy docker://... oci:/oci-archive:/docker-archive:``).
What reaches a registry is read back with the raw-HTTP oracle, never the package's client.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

from registry_widgets.errors import Cancelled
from registry_widgets.operations.core import clients
from registry_widgets.operations.images.archive import BadArchive
from registry_widgets.operations.images.copy import copy
from tests.support.images import busybox_layer, files_layer, push_image, push_index
from tests.support.oracle import RawClient, get_blob, get_manifest, list_tags


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def skopeo(*args: str) -> bytes:
    return subprocess.run(["skopeo", *args], check=True, capture_output=True,
                          timeout=120).stdout


def skopeo_digest(transport_ref: str) -> str:
    """The manifest digest skopeo, an independent reader, sees at ``transport_ref``."""
    return sha(skopeo("inspect", "--raw", "--tls-verify=false", transport_ref))


def index_json(folder: Path) -> dict:
    return json.loads((folder / "index.json").read_text())


def status(registry, path: str) -> int:
    return RawClient(registry).request("HEAD", path).status_code


# -- we write, skopeo reads ---------------------------------------------------------------

def test_registry_to_oci_layout_keeps_the_digest_and_skopeo_reads_it(registry, unique_repo,
                                                                     tmp_path):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(70_000, 3_000), seed="lay")
    events = []
    result = copy(image.reference, f"oci:{tmp_path / 'lay'}", progress=events.append)
    assert result.digest == image.digest and result.details["ref"] == "1.0"
    assert skopeo_digest(f"oci:{tmp_path / 'lay'}:1.0") == image.digest
    entry, = index_json(tmp_path / "lay")["manifests"]
    assert entry["annotations"] == {"org.opencontainers.image.ref.name": "1.0"}
    for blob in (image.config, *image.layers):
        data = (tmp_path / "lay" / "blobs" / "sha256" / blob.digest[7:]).read_bytes()
        assert sha(data) == blob.digest
    assert {e.id for e in events if e.status == "copied"} >= {b.digest for b in image.layers}


def test_multi_arch_index_round_trips_through_an_oci_archive_with_its_digest(
        registry, registry_b, unique_repo, tmp_path):
    amd = push_image(registry, unique_repo, None, layer_sizes=(20_000,), seed="amd")
    arm = push_image(registry, unique_repo, None, layer_sizes=(21_000,), seed="arm",
                     platform=("linux", "arm64", "v8"))
    digest = push_index(registry, unique_repo, "multi", [amd, arm])
    archive = tmp_path / "multi.tar"
    copy(f"{registry.host}/{unique_repo}:multi", f"oci-archive:{archive}:multi")
    assert skopeo_digest(f"oci-archive:{archive}:multi") == digest
    assert not archive.with_name("multi.tar.partial").exists()
    result = copy(f"oci-archive:{archive}:multi", f"{registry_b.host}/{unique_repo}:multi")
    assert result.digest == digest
    assert get_manifest(registry_b, unique_repo, "multi").digest == digest
    for child in (amd, arm):
        assert get_manifest(registry_b, unique_repo, child.digest).digest == child.digest
        assert get_blob(registry_b, unique_repo, child.layers[0].digest)


def test_docker_archive_we_write_is_read_by_skopeo_with_the_config_digest(registry, unique_repo,
                                                                          tmp_path):
    image = push_image(registry, unique_repo, "1.0", layers=[files_layer({"a.txt": b"hi"})])
    archive = tmp_path / "app.tar"
    result = copy(image.reference, f"docker-archive:{archive}")
    assert result.details["ref"] == image.reference
    with tarfile.open(archive) as tar:
        manifest, = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["RepoTags"] == [image.reference]
    raw = json.loads(skopeo("inspect", "--raw", f"docker-archive:{archive}"))
    assert raw["config"]["digest"] == image.config.digest


@pytest.mark.engine
def test_the_engine_loads_and_runs_our_docker_archive(registry, unique_repo, tmp_path,
                                                      docker_client, local_names):
    image = push_image(registry, unique_repo, "run", layers=[busybox_layer()],
                       cmd=("/bin/sh", "-c", "echo carried across"))
    archive = tmp_path / "run.tar"
    copy(image.reference, f"docker-archive:{archive}")
    local_names.append(image.reference)
    loaded, = docker_client.images.load(archive.read_bytes())
    assert image.reference in loaded.tags
    assert loaded.id == image.config.digest  # the config's digest is the image id
    out = docker_client.containers.run(image.reference, network_mode="none", remove=True)
    assert out.strip() == b"carried across"


# -- skopeo writes, we read ---------------------------------------------------------------

@pytest.mark.parametrize("transport", ["oci", "oci-archive"])
def test_we_read_the_layouts_skopeo_writes(registry, registry_b, unique_repo, tmp_path,
                                           transport):
    image = push_image(registry, unique_repo, "2.0", layers=[files_layer({transport: b"y" * 40_000})])
    where = tmp_path / ("skopeo.tar" if transport == "oci-archive" else "skopeo")
    skopeo("copy", "--src-tls-verify=false", f"docker://{image.reference}",
           f"{transport}:{where}:2.0")
    written = skopeo_digest(f"{transport}:{where}:2.0")  # skopeo re-serialises the manifest
    result = copy(f"{transport}:{where}:2.0", f"{registry_b.host}/{unique_repo}:2.0")
    assert result.digest == written
    pushed = get_manifest(registry_b, unique_repo, "2.0")
    assert pushed.digest == written
    assert json.loads(pushed.data)["config"]["digest"] == image.config.digest
    assert get_blob(registry_b, unique_repo, image.layers[0].digest)


def test_we_read_the_docker_archive_skopeo_writes(registry, registry_b, unique_repo, tmp_path):
    image = push_image(registry, unique_repo, "3.0", layers=[files_layer({"b": b"x" * 999})])
    archive = tmp_path / "skopeo-docker.tar"
    skopeo("copy", "--src-tls-verify=false", f"docker://{image.reference}",
           f"docker-archive:{archive}:{unique_repo}:3.0")
    result = copy(f"docker-archive:{archive}", f"{registry_b.host}/{unique_repo}:3.0")
    pushed = json.loads(get_manifest(registry_b, unique_repo, "3.0").data)
    assert pushed["config"]["digest"] == image.config.digest == result.details.get(
        "config_digest", pushed["config"]["digest"])
    # docker-archive layers are plain tars: their digests are the config's diff_ids
    config = json.loads(get_blob(registry_b, unique_repo, image.config.digest))
    assert [layer["digest"] for layer in pushed["layers"]] == config["rootfs"]["diff_ids"]
    # and skopeo reads the image we pushed from it
    assert skopeo_digest(f"docker://{registry_b.host}/{unique_repo}:3.0") == result.digest


# -- progress, cancel, rerun ---------------------------------------------------------------

def test_cancel_leaves_no_archive_and_a_rerun_completes(registry, unique_repo, tmp_path):
    image = push_image(registry, unique_repo, "big", layer_sizes=(3 << 20,), seed="cancel")
    cancel = threading.Event()
    archive = tmp_path / "big.tar"

    def stop_midway(event):
        if event.status == "copying":
            cancel.set()

    with pytest.raises(Cancelled, match="cancelled"):
        copy(image.reference, f"oci-archive:{archive}", cancel=cancel, progress=stop_midway)
    assert not archive.exists() and not list(tmp_path.glob("*.partial"))
    copy(image.reference, f"oci-archive:{archive}")
    assert skopeo_digest(f"oci-archive:{archive}:big") == image.digest
