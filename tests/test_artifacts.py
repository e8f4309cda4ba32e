"""``push_artifact`` and ``pull_artifact``: files and folders as OCI artifacts, as ORAS makes them.

The oracle for "as ORAS makes them" is oras-go v2's ``PackManifest`` with
``PackManifestVersion1_1`` (pack.go, https://github.com/oras-project/oras-go/blob/main/pack.go)
and its file store (content/file/utils.go, ``tarDirectory``; content/file/file.go): the
expected manifest below is written from that source and from the OCI image-spec v1.1
"Guidelines for Artifact Usage" (https://github.com/opencontainers/image-spec/blob/v1.1.0/
manifest.md#guidelines-for-artifact-usage) and ORAS's docs (https://oras.land/docs/
concepts/artifact/). Manifests and blobs are read back over raw HTTP (tests/support/oracle).
"We read theirs": an artifact is written here byte for byte as oras would write it, and
pulled.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from registry_widgets.errors import InvalidArgument
from registry_widgets.operations.core import clients
from registry_widgets.operations.core.undo import restore
from registry_widgets.operations.images.artifacts import (artifact_files, pull_artifact,
                                                          push_artifact)
from tests.support.images import put_manifest, upload_blob
from tests.support.oracle import RawClient, get_blob, get_manifest

EMPTY = {"mediaType": "application/vnd.oci.empty.v1+json",
         "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
         "size": 2, "data": "e30="}  # ocispec.DescriptorEmptyJSON


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def model_and_dataset(tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "src" / "model.onnx"
    model.parent.mkdir()
    model.write_bytes(bytes(range(256)) * 64)
    dataset = tmp_path / "src" / "dataset"
    (dataset / "train").mkdir(parents=True)
    (dataset / "train" / "a.csv").write_text("x,y\n1,2\n")
    (dataset / "README").write_text("a small dataset\n")
    (dataset / "latest.csv").symlink_to("train/a.csv")
    return model, dataset


def test_push_writes_the_manifest_oras_writes(registry, unique_repo, model_and_dataset):
    model, dataset = model_and_dataset
    ref = f"{registry.host}/{unique_repo}:v1"
    result = push_artifact(ref, [model, dataset], artifact_type="application/vnd.example.model.v1",
                           annotations={"org.opencontainers.image.description": "demo"})
    stored = get_manifest(registry, unique_repo, "v1")
    assert stored.digest == result.digest
    assert stored.media_type == "application/vnd.oci.image.manifest.v1+json"
    doc = json.loads(stored.data)
    # Go's encoding/json: compact, struct field order (schemaVersion, mediaType,
    # artifactType, config, layers, annotations), map keys sorted
    assert list(doc) == ["schemaVersion", "mediaType", "artifactType", "config", "layers",
                         "annotations"]
    assert stored.data == json.dumps(doc, separators=(",", ":")).encode()
    assert doc["artifactType"] == "application/vnd.example.model.v1"
    assert doc["config"] == EMPTY
    assert get_blob(registry, unique_repo, EMPTY["digest"]) == b"{}"
    created = doc["annotations"].pop("org.opencontainers.image.created")
    assert created.endswith("Z") and len(created) == 20  # RFC 3339, UTC, seconds
    assert doc["annotations"] == {"org.opencontainers.image.description": "demo"}
    file_layer, folder_layer = doc["layers"]
    assert file_layer == {"mediaType": "application/vnd.oci.image.layer.v1.tar",
                          "digest": sha(model.read_bytes()), "size": model.stat().st_size,
                          "annotations": {"org.opencontainers.image.title": "model.onnx"}}
    assert get_blob(registry, unique_repo, file_layer["digest"]) == model.read_bytes()
    assert folder_layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    blob = get_blob(registry, unique_repo, folder_layer["digest"])
    tar_bytes = gzip.decompress(blob)
    assert folder_layer["annotations"] == {
        "io.deis.oras.content.digest": sha(tar_bytes), "io.deis.oras.content.unpack": "true",
        "org.opencontainers.image.title": "dataset"}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert sorted(members) == ["dataset", "dataset/README", "dataset/latest.csv",
                               "dataset/train", "dataset/train/a.csv"]
    assert members["dataset/latest.csv"].linkname == "train/a.csv"
    assert {(m.uid, m.gid, m.uname) for m in members.values()} == {(0, 0, "")}


def test_round_trip_is_byte_exact(registry, unique_repo, model_and_dataset, tmp_path):
    model, dataset = model_and_dataset
    ref = f"{registry.host}/{unique_repo}:v1"
    push_artifact(ref, [model, dataset], artifact_type="application/vnd.example.model.v1")
    assert [(f["title"], f["folder"]) for f in artifact_files(ref)] == [
        ("model.onnx", False), ("dataset", True)]
    out = tmp_path / "out"
    result = pull_artifact(ref, out)
    assert (out / "model.onnx").read_bytes() == model.read_bytes()
    assert (out / "dataset" / "train" / "a.csv").read_bytes() == b"x,y\n1,2\n"
    assert (out / "dataset" / "README").read_text() == "a small dataset\n"
    assert (out / "dataset" / "latest.csv").is_symlink()
    assert (out / "dataset" / "latest.csv").read_bytes() == b"x,y\n1,2\n"
    assert [f["title"] for f in result.details["files"]] == ["model.onnx", "dataset"]
    assert sorted(p.name for p in out.iterdir()) == ["dataset", "model.onnx"]  # no scratch left


def test_a_replaced_tag_is_backed_up_and_restored(registry, unique_repo, tmp_path):
    one, two = tmp_path / "w1.bin", tmp_path / "w2.bin"
    one.write_bytes(b"one")
    two.write_bytes(b"two")
    ref = f"{registry.host}/{unique_repo}:latest"
    first = push_artifact(ref, one, artifact_type="application/vnd.example.model.v1")
    second = push_artifact(ref, two, artifact_type="application/vnd.example.model.v1")
    assert second.details["replaces"] == {"latest": first.digest}
    assert get_manifest(registry, unique_repo, "latest").digest == second.digest
    restore(second)
    assert get_manifest(registry, unique_repo, "latest").digest == first.digest


def _oras_made(registry, repository: str, tag: str, layers: list[tuple[dict, bytes]]) -> str:
    """Write an artifact as oras push does (see the module docstring), over raw HTTP."""
    client = RawClient(registry)
    upload_blob(client, repository, b"{}")
    for _, data in layers:
        upload_blob(client, repository, data)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.unknown.artifact.v1", "config": EMPTY,
        "layers": [desc for desc, _ in layers],
        "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}},
        separators=(",", ":")).encode()
    put_manifest(client, repository, tag, manifest, "application/vnd.oci.image.manifest.v1+json")
    return f"{registry.host}/{repository}:{tag}"


def _file(title: str, data: bytes) -> tuple[dict, bytes]:
    return ({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(data),
             "size": len(data), "annotations": {"org.opencontainers.image.title": title}}, data)


def _folder(title: str, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> tuple[dict, bytes]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                tar.addfile(info, io.BytesIO(member[1]))
    blob = gzip.compress(buf.getvalue())
    return ({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(blob),
             "size": len(blob), "annotations": {
                 "io.deis.oras.content.digest": sha(buf.getvalue()),
                 "io.deis.oras.content.unpack": "true",
                 "org.opencontainers.image.title": title}}, blob)


def test_we_read_what_oras_writes(registry, unique_repo, tmp_path):
    ref = _oras_made(registry, unique_repo, "v1", [
        _file("hello.txt", b"hello\n"), _folder("data", [("data/x.txt", b"x")])])
    pull_artifact(ref, tmp_path / "out")
    assert (tmp_path / "out" / "hello.txt").read_bytes() == b"hello\n"
    assert (tmp_path / "out" / "data" / "x.txt").read_bytes() == b"x"


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


HOSTILE = {
    "a title climbing out": [_file("../evil.txt", b"evil")],
    "an absolute title": [_file("/tmp/evil.txt", b"evil")],
    "a tar member climbing out": [_folder("data", [("data/../../evil.txt", b"evil")])],
    "a tar member outside its folder": [_folder("data", [("other/evil.txt", b"evil")])],
    "an absolute tar member": [_folder("data", [("/data/evil.txt", b"evil")])],
    "a symbolic link out": [_folder("data", [_link("data/out", "../../..")])],
    "a hard link out": [_folder("data", [_link("data/h", "/etc/passwd", tarfile.LNKTYPE)])],
    "a file then a bad one": [_file("fine.txt", b"fine"), _file("../evil.txt", b"evil")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_artifacts_are_refused_with_nothing_written(registry, unique_repo, tmp_path,
                                                            case):
    ref = _oras_made(registry, unique_repo, "evil", HOSTILE[case])
    out = tmp_path / "deep" / "out"
    out.mkdir(parents=True)
    with pytest.raises(InvalidArgument, match="nothing was written"):
        pull_artifact(ref, out)
    written = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "deep").rglob("*"))
    assert written == ["deep/out"]
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/evil.txt").exists()


def test_a_folder_whose_digest_annotation_lies_is_refused(registry, unique_repo, tmp_path):
    desc, blob = _folder("data", [("data/x", b"x")])
    desc["annotations"]["io.deis.oras.content.digest"] = sha(b"something else")
    ref = _oras_made(registry, unique_repo, "lies", [(desc, blob)])
    from registry_widgets.errors import DigestMismatch
    with pytest.raises(DigestMismatch, match="nothing was written"):
        pull_artifact(ref, tmp_path / "out")
    assert not (tmp_path / "out" / "data").exists()


def test_a_folder_that_unpacks_beyond_the_free_space_writes_nothing(registry, unique_repo,
                                                                    tmp_path, monkeypatch):
    """1 MiB of zeros gzips to about 1 KiB: the sizes in the tar headers, not the blob's, are
    checked against the disk's free space before anything is unpacked. The disk is made to
    look almost full (512 KiB free) rather than filled."""
    desc, blob = _folder("data", [("data/zeros", bytes(1 << 20))])
    assert len(blob) < 16 << 10
    ref = _oras_made(registry, unique_repo, "big", [(desc, blob)])
    out = tmp_path / "out"
    (out / "data").mkdir(parents=True)
    (out / "data" / "kept.txt").write_text("mine")
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda path: real(path)._replace(free=512 << 10))
    with pytest.raises(InvalidArgument, match=r"unpack to 1\.0 MB, and .* has 524\.3 kB "
                                              r"free: nothing was written"):
        pull_artifact(ref, out)
    assert sorted(p.name for p in (out / "data").iterdir()) == ["kept.txt"]
    assert [p.name for p in out.iterdir()] == ["data"]  # no scratch folder left either


@pytest.mark.parametrize("kwargs, message", [
    ({"artifact_type": "model"}, "artifact_type must be a media type"),
    ({"annotations": {"a": 1}}, "annotations must map text to text"),
    ({"annotations": {"org.opencontainers.image.created": "yesterday"}}, "RFC 3339"),
])
def test_bad_arguments_push_nothing(registry, unique_repo, tmp_path, kwargs, message):
    f = tmp_path / "f.bin"
    f.write_bytes(b"x")
    with pytest.raises(InvalidArgument, match=message):
        push_artifact(f"{registry.host}/{unique_repo}:v1", f, **kwargs)
    with pytest.raises(InvalidArgument, match="not found on this machine"):
        push_artifact(f"{registry.host}/{unique_repo}:v1", tmp_path / "missing")
    client = RawClient(registry)
    r = client.request("GET", f"/v2/{unique_repo}/tags/list",
                       scope=f"repository:{unique_repo}:pull")
    assert r.status_code == 404  # the repository was never created


# --- an artifact in the listing, the scan and the SBOM -------------------------------------

def test_the_listing_shows_the_artifact_type_and_no_unknown_platform(registry, unique_repo,
                                                                     model_and_dataset):
    from registry_widgets.operations.images.inventory import images
    from tests.support import push_image

    model, _ = model_and_dataset
    push_artifact(f"{registry.host}/{unique_repo}:model", model,
                  artifact_type="application/vnd.example.model.v1")
    push_image(registry, unique_repo, "app")
    table = images(registry.host, repositories=[unique_repo]).set_index("tag")
    assert table.loc["model", "artifact_type"] == "application/vnd.example.model.v1"
    assert table.loc["model", "platforms"] == []
    assert table.loc["app", "artifact_type"] == ""
    assert table.loc["app", "platforms"] == ["linux/amd64"]


def test_scan_and_sbom_say_it_is_an_artifact(registry, unique_repo, model_and_dataset):
    from registry_widgets.operations.security.sbom import cyclonedx_json, sbom, sbom_table
    from registry_widgets.operations.security.scan import scan
    from tests.test_scan import OSV

    model, dataset = model_and_dataset
    ref = f"{registry.host}/{unique_repo}:model"
    push_artifact(ref, [model, dataset], artifact_type="application/vnd.example.model.v1")
    report = scan(ref, feed=OSV)
    assert report.findings == []  # no "runs as root", no "no healthcheck"
    assert report.status == "artifact, not scanned"
    assert any("is an artifact of type application/vnd.example.model.v1" in n
               for n in report.notes)
    contents = sbom(ref)
    assert sbom_table(contents).empty
    assert contents.artifact_type == "application/vnd.example.model.v1"
    assert [f["title"] for f in contents.artifact_files] == ["model.onnx", "dataset"]
    assert "files: model.onnx, dataset" in contents.describe()
    document = json.loads(cyclonedx_json(contents))
    assert document["metadata"]["component"]["type"] == "data"
    assert sorted(c["name"] for c in document["components"]) == ["dataset", "model.onnx"]


def test_files_given_as_links_keep_their_names(registry, unique_repo, tmp_path,
                                               model_and_dataset):
    model, dataset = model_and_dataset
    (tmp_path / "current.onnx").symlink_to(model)
    (tmp_path / "data").symlink_to(dataset, target_is_directory=True)
    ref = f"{registry.host}/{unique_repo}:links"
    push_artifact(ref, [tmp_path / "current.onnx", tmp_path / "data"])
    pull_artifact(ref, tmp_path / "out")
    assert (tmp_path / "out" / "current.onnx").read_bytes() == model.read_bytes()
    assert not (tmp_path / "out" / "data").is_symlink()
    assert (tmp_path / "out" / "data" / "train" / "a.csv").read_text() == "x,y\n1,2\n"


def test_an_artifact_of_older_oras_is_read_too(registry, unique_repo, tmp_path):
    """oras before image-spec 1.1 put the type in config.mediaType, with "{}" as the config
    (oras-go v2 pack.go, packManifestV1_1_RC2 / PackManifestVersion1_0)."""
    from registry_widgets.operations.images.inventory import images

    client = RawClient(registry)
    config = upload_blob(client, unique_repo, b"{}")
    desc, data = _file("notes.txt", b"old style\n")
    upload_blob(client, unique_repo, data)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.example.dataset.config.v1+json",
                   "digest": config, "size": 2},
        "layers": [desc],
        "annotations": {"org.opencontainers.image.created": "2023-01-01T00:00:00Z"}},
        separators=(",", ":")).encode()
    put_manifest(client, unique_repo, "old", manifest, "application/vnd.oci.image.manifest.v1+json")
    table = images(registry.host, repositories=[unique_repo]).set_index("tag")
    assert table.loc["old", "artifact_type"] == "application/vnd.example.dataset.config.v1+json"
    assert table.loc["old", "platforms"] == []
    pull_artifact(f"{registry.host}/{unique_repo}:old", tmp_path / "out")
    assert (tmp_path / "out" / "notes.txt").read_bytes() == b"old style\n"
