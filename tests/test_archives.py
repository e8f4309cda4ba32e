"""copy() through OCI layouts, oci-archives and docker-archives, cross-checked with skopeo.

Both ways: skopeo reads what we write (``skopeo inspect --raw oci:DIR:REF``, same digests),
and we read what skopeo writes (``skopeo copy docker://... oci:/oci-archive:/docker-archive:``).
What reaches a registry is read back with the raw-HTTP oracle, never the package's client.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import io
import tarfile
import threading
from pathlib import Path

import pytest

from registry_widgets.errors import Cancelled
from registry_widgets.operations.core import clients
from registry_widgets.operations.images.archive import BadArchive
from registry_widgets.operations.images.copy import copy
from tests.support.images import busybox_layer, files_layer, push_image, push_index
from tests.support.oracle import RawClient, get_blob, get_manifest


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
    image = push_image(registry, unique_repo, "2.0",
                       layers=[files_layer({transport: b"y" * 40_000})])
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


# -- bad archives: one clear error naming the file, and nothing reaches the registry -------

def _tar_folder(folder: Path, archive: Path, extra: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(archive, "w") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


def _damage(kind: str, folder: Path, image, tmp_path: Path) -> str:
    """A bad oci-archive (or file) of ``kind`` made from the good layout in ``folder``."""
    # the smallest layer: the others would be uploaded first without the check before
    layer = folder / "blobs" / "sha256" / image.layers[-1].digest[7:]
    bad = tmp_path / f"{kind}.tar"
    if kind == "truncated":
        good = _tar_folder(folder, tmp_path / "good.tar").read_bytes()
        bad.write_bytes(good[:len(good) // 2])
    elif kind == "digest mismatch":
        data = bytearray(layer.read_bytes())
        data[100] ^= 0xFF  # same size, other content
        layer.write_bytes(bytes(data))
        _tar_folder(folder, bad)
    elif kind == "missing blob":
        layer.unlink()
        _tar_folder(folder, bad)
    elif kind == "path traversal":
        _tar_folder(folder, bad, extra={"../../escape": b"owned"})
    elif kind == "not an archive":
        bad.write_bytes(b"this is a text file, not a tar\n" * 40)
    return f"oci-archive:{bad}:1.0"


@pytest.mark.parametrize("kind, words", [
    ("truncated", "cut short"),
    ("digest mismatch", "has the digest"),
    ("missing blob", "is missing"),
    ("path traversal", "outside the archive"),
    ("not an archive", "not a tar archive"),
])
def test_a_bad_archive_is_refused_and_nothing_reaches_the_registry(
        registry, registry_b, unique_repo, tmp_path, kind, words):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(30_000, 20_000), seed=kind)
    folder = tmp_path / "layout"
    copy(image.reference, f"oci:{folder}")
    source = _damage(kind, folder, image, tmp_path)
    with pytest.raises(BadArchive) as caught:
        # One blob at a time, largest first: without the check before any upload, the good
        # layer would be in registry B before the damaged one is read.
        copy(source, f"{registry_b.host}/{unique_repo}:1.0", workers=1)
    message = str(caught.value)
    assert words in message and f"{kind}.tar" in message and "Nothing was copied" in message
    # Not a manifest, not a tag, not even a blob: the archive is checked before any upload.
    assert status(registry_b, f"/v2/{unique_repo}/manifests/1.0") == 404
    for blob in (image.config, *image.layers):
        assert status(registry_b, f"/v2/{unique_repo}/blobs/{blob.digest}") == 404


def test_a_damaged_docker_archive_layer_is_refused_before_any_upload(
        registry, registry_b, unique_repo, tmp_path):
    image = push_image(registry, unique_repo, "1.0", layers=[files_layer({"c": b"z" * 5000})])
    good = tmp_path / "good.tar"
    copy(image.reference, f"docker-archive:{good}")
    bad = tmp_path / "bad.tar"
    with tarfile.open(good) as src, tarfile.open(bad, "w") as dst:
        for info in src:
            data = src.extractfile(info).read()
            if info.name.endswith(".tar"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.addfile(info, io.BytesIO(data))
    with pytest.raises(BadArchive, match="bad.tar.*config says"):
        copy(f"docker-archive:{bad}", f"{registry_b.host}/{unique_repo}:1.0")
    assert status(registry_b, f"/v2/{unique_repo}/manifests/1.0") == 404
    assert status(registry_b, f"/v2/{unique_repo}/blobs/{image.config.digest}") == 404


def test_an_oci_folder_missing_is_one_clear_error(registry_b, unique_repo, tmp_path):
    with pytest.raises(BadArchive, match="no such folder"):
        copy(f"oci:{tmp_path / 'nowhere'}:1.0", f"{registry_b.host}/{unique_repo}:1.0")
    with pytest.raises(BadArchive, match="no image named '2.0'"):
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "index.json").write_text('{"schemaVersion":2,"manifests":[]}')
        copy(f"oci:{tmp_path / 'empty'}:2.0", f"{registry_b.host}/{unique_repo}:1.0")


def test_an_oci_folder_keeps_its_other_tags_and_a_rerun_changes_nothing(registry, registry_b,
                                                                        unique_repo, tmp_path):
    one = push_image(registry, unique_repo, "1.0", layer_sizes=(5000,), seed="f1")
    two = push_image(registry, unique_repo, "2.0", layer_sizes=(5000,), seed="f2")
    folder = tmp_path / "folder"
    copy(f"docker://{one.reference}", f"oci:{folder}")  # skopeo's docker:// is accepted
    copy(two.reference, f"oci:{folder}")
    assert skopeo_digest(f"oci:{folder}:1.0") == one.digest
    assert skopeo_digest(f"oci:{folder}:2.0") == two.digest
    again = copy(two.reference, f"oci:{folder}:2.0")
    assert not again.changed and again.details["blobs"]["copied"] == 0
    with pytest.raises(BadArchive, match="holds 2 images.*1.0, 2.0"):
        copy(f"oci:{folder}", f"{registry_b.host}/{unique_repo}:x")
    loaded = copy(f"oci:{folder}:2.0", f"docker://{registry_b.host}/{unique_repo}:2.0")
    assert loaded.digest == two.digest == get_manifest(registry_b, unique_repo, "2.0").digest


# -- the transport grammar, as a table (no registry) ---------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("oci:/data/app:1.0", ("oci", "/data/app", "1.0")),
    ("oci:/data/mirror:team/app:1.0", ("oci", "/data/mirror", "team/app:1.0")),
    ("oci-archive:/data/app.tar", ("oci-archive", "/data/app.tar", None)),
    ("docker-archive:/data/app.tar:team/app:1.0", ("docker-archive", "/data/app.tar",
                                                   "team/app:1.0")),
    ("oci:5000/team/app:1.0", "oci:5000/team/app:1.0"),  # the registry "oci", port 5000
    ("docker://127.0.0.1:5000/team/app:1.0", "127.0.0.1:5000/team/app:1.0"),
])
def test_locations_parse_as_skopeo_names_them(text, expected):
    from registry_widgets.operations.images.transports import FileLocation, parse_location

    found = parse_location(text)
    if isinstance(expected, tuple):
        assert found == FileLocation(expected[0], Path(expected[1]), expected[2])
    else:
        assert str(found) == expected


@pytest.mark.parametrize("text, words", [
    ("oci-archive:", "names no file"),
    ("oci:/data/app:", "ends with ':'"),
    ("oci:/data/app:bad ref!", "not a reference an OCI layout can hold"),
    ("docker-archive:/data/app.tar:@0", "not by index"),
])
def test_a_bad_location_is_one_error_naming_the_argument(text, words, tmp_path):
    from registry_widgets.errors import BadReference

    with pytest.raises(BadReference, match=re.escape(words)) as caught:
        copy(text, f"oci:{tmp_path / 'out'}")
    assert str(caught.value).startswith(f"source {text!r}") and "nothing was done" in \
        str(caught.value)
    assert not (tmp_path / "out").exists()


def test_a_docker_archive_of_an_index_holds_one_platform_picked_as_skopeo_picks(
        registry, unique_repo, tmp_path):
    amd = push_image(registry, unique_repo, None, layers=[files_layer({"amd": b"1"})])
    arm = push_image(registry, unique_repo, None, layers=[files_layer({"arm": b"2"})],
                     platform=("linux", "arm64", "v8"))
    push_index(registry, unique_repo, "multi", [amd, arm])
    source = f"{registry.host}/{unique_repo}:multi"
    copy(source, f"docker-archive:{tmp_path / 'host.tar'}")  # this machine's platform
    copy(source, f"docker-archive:{tmp_path / 'arm.tar'}", platforms=["linux/arm64"])
    from registry_widgets.operations.images.transfer import host_platform

    mine = arm if host_platform() == "linux/arm64" else amd
    for name, image in (("host.tar", mine), ("arm.tar", arm)):
        raw = json.loads(skopeo("inspect", "--raw", f"docker-archive:{tmp_path / name}"))
        assert raw["config"]["digest"] == image.config.digest
    with pytest.raises(Exception, match="no platform"):
        copy(source, f"docker-archive:{tmp_path / 'none.tar'}", platforms=["linux/s390x"])
    assert not (tmp_path / "none.tar").exists()
