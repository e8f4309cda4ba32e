"""``files``, ``read_file`` and ``diff``: what is inside an image, from its layers.

The images are written here, tar member by tar member (regular files, directories,
symbolic and hard links, whiteouts ``.wh.<name>`` and opaque markers ``.wh..wh..opq``, as the
OCI image spec's "Representing Changes" describes them), and pushed over raw HTTP by
tests/support: what each image holds is known exactly, and that is the oracle. A layer of
random bytes labelled as a gzip tar is unreadable: an image carrying one below what a test
asks for proves that layer was never streamed.
"""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from registry_widgets.errors import InvalidArgument, NotFound, UnreadableLayer
from registry_widgets.operations.contents.diff import diff
from registry_widgets.operations.contents.files import files, read_file
from registry_widgets.operations.core import clients
from tests.support import push_image
from tests.support.images import random_layers
from devstack.rootfs import gzip_deterministic


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def layer(*members: tuple) -> bytes:
    """A gzip tar of members: ("f", path, bytes[, mode]), ("d", path), ("l", path, target)
    (symbolic), ("h", path, target) (hard), ("w", path) (a whiteout of path), ("o", dir)
    (an opaque marker)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, path, *rest in members:
            if kind == "w":
                head, _, base = path.rpartition("/")
                path = f"{head}/.wh.{base}" if head else f".wh.{base}"
            elif kind == "o":
                path = f"{path}/.wh..wh..opq"
            info = tarfile.TarInfo(path)
            info.mtime = 1700000000
            info.mode = rest[1] if kind == "f" and len(rest) > 1 else 0o755
            data = None
            if kind == "f":
                data = rest[0]
                info.size = len(data)
                info.mode = rest[1] if len(rest) > 1 else 0o644
            elif kind == "d":
                info.type = tarfile.DIRTYPE
            elif kind == "l":
                info.type, info.linkname = tarfile.SYMTYPE, rest[0]
            elif kind == "h":
                info.type, info.linkname = tarfile.LNKTYPE, rest[0]
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return gzip_deterministic(buf.getvalue())


BASE = layer(("d", "etc"), ("f", "etc/os-release", b"ID=test\n"),
             ("f", "etc/passwd", b"root:x:0:0\n"), ("d", "app"),
             ("f", "app/old.txt", b"old"), ("d", "cache"), ("f", "cache/a", b"a"),
             ("f", "cache/b", b"b"), ("f", "bin/tool", b"#!/bin/sh\n", 0o755),
             ("l", "etc/release", "os-release"), ("d", "data"), ("f", "data/x", b"x"))
TOP = layer(("w", "app/old.txt"), ("f", "app/new.txt", b"new!"), ("o", "cache"),
            ("f", "cache/c", b"c"), ("h", "bin/tool2", "bin/tool"),
            ("f", "etc/passwd", b"root:x:0:0\napp:x:1000:1000\n", 0o600),
            ("f", "data", b"a file where a folder was"), ("l", "lib", "/usr/lib"))


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_files_is_the_merged_filesystem_with_whiteouts_applied(registry, unique_repo):
    pushed = push_image(registry, unique_repo, "v1", layers=[BASE, TOP])
    table = files(pushed.reference).set_index("path")
    assert sorted(table.index) == ["/app", "/app/new.txt", "/bin", "/bin/tool", "/bin/tool2",
                                   "/cache", "/cache/c", "/data", "/etc", "/etc/os-release",
                                   "/etc/passwd", "/etc/release", "/lib"]
    # whiteout, opaque directory and a file replacing a folder took what was below
    for gone in ("/app/old.txt", "/cache/a", "/cache/b", "/data/x"):
        assert gone not in table.index
    top, base = pushed.layers[1].digest, pushed.layers[0].digest
    assert table.loc["/etc/passwd", ["type", "size", "mode", "layer", "layer_digest"]].tolist() \
        == ["file", 27, "0600", 2, top]
    assert table.loc["/etc/os-release", ["layer", "layer_digest"]].tolist() == [1, base]
    assert table.loc["/etc/release", ["type", "link"]].tolist() == ["symlink", "os-release"]
    assert table.loc["/lib", ["type", "link"]].tolist() == ["symlink", "/usr/lib"]
    assert table.loc["/bin/tool2", ["type", "link", "size"]].tolist() == \
        ["hardlink", "/bin/tool", 10]
    assert table.loc["/bin/tool", "mode"] == "0755"
    assert table.loc["/data", "type"] == "file"


def test_read_file_follows_links_inside_the_image(registry, unique_repo):
    pushed = push_image(registry, unique_repo, "v1", layers=[BASE, TOP])
    ref = pushed.reference
    assert read_file(ref, "/etc/passwd") == b"root:x:0:0\napp:x:1000:1000\n"
    assert read_file(ref, "etc/os-release") == b"ID=test\n"
    assert read_file(ref, "/etc/release") == b"ID=test\n"  # symlink, resolved in the image
    assert read_file(ref, "/bin/tool2") == b"#!/bin/sh\n"  # hard link to a lower layer
    assert read_file(ref, "/cache/c") == b"c"


@pytest.mark.parametrize("path", ["/app/old.txt", "/cache/a", "/data/x", "/nowhere"])
def test_read_file_of_a_deleted_or_missing_path_is_not_found(registry, unique_repo, path):
    pushed = push_image(registry, unique_repo, "v1", layers=[BASE, TOP])
    with pytest.raises(NotFound, match="files\\(\\) lists"):
        read_file(pushed.reference, path)


def test_read_file_of_a_directory_names_it(registry, unique_repo):
    pushed = push_image(registry, unique_repo, "v1", layers=[BASE, TOP])
    with pytest.raises(InvalidArgument, match="/etc is a directory"):
        read_file(pushed.reference, "/etc")


def test_read_file_streams_only_the_layers_it_needs(registry, unique_repo):
    # the bottom layer is not a tar at all: reading it would raise UnreadableLayer
    garbage = random_layers([4096], seed="contents")[0]
    top = layer(("f", "hello.txt", b"hi"), ("w", "gone"))
    pushed = push_image(registry, unique_repo, "v1", layers=[garbage, top])
    assert read_file(pushed.reference, "/hello.txt") == b"hi"
    # a whiteout in the top layer ends the search there too
    with pytest.raises(NotFound, match="layer 2 deletes /gone"):
        read_file(pushed.reference, "/gone")
    with pytest.raises(UnreadableLayer):  # the oracle: a miss does reach the bad layer
        read_file(pushed.reference, "/elsewhere")


def test_diff_reports_config_layers_and_files(registry, unique_repo):
    shared = random_layers([2048], seed="shared-base")[0]  # never read: not a tar
    one = layer(("f", "app/main.py", b"print(1)\n"), ("f", "app/conf", b"a=1"),
                ("f", "app/gone", b"bye"))
    two = layer(("f", "app/main.py", b"print(2)\n"), ("f", "app/conf", b"a=1", 0o600),
                ("f", "app/added", b"new"), ("w", "etc/motd"))
    a = push_image(registry, unique_repo, "1.0", layers=[shared, one],
                   labels={"version": "1.0", "team": "x"})
    b = push_image(registry, unique_repo, "1.1", layers=[shared, two],
                   labels={"version": "1.1", "team": "x"}, cmd=("/app/run",))
    result = diff(a.reference, b.reference)
    assert result.shared_layers == 1
    changes = {row.path: row.change for row in result.files.itertuples()}
    assert changes == {"/app/main.py": "changed", "/app/conf": "changed",
                       "/app/gone": "removed", "/app/added": "added", "/etc/motd": "removed"}
    main = result.files.set_index("path").loc["/app/main.py"]
    assert (main.digest_a, main.digest_b) == (sha(b"print(1)\n"), sha(b"print(2)\n"))
    conf = result.files.set_index("path").loc["/app/conf"]
    assert (conf.mode_a, conf.mode_b, conf.digest_a == conf.digest_b) == ("0644", "0600", True)
    settings = {(r.setting, r.key): (r.a, r.b) for r in result.config.itertuples()}
    assert settings == {("Cmd", ""): ("/bin/sh", "/app/run"),
                        ("Labels", "version"): ("1.0", "1.1")}
    assert sorted(zip(result.layers.change, result.layers.digest)) == [
        ("added", b.layers[1].digest), ("removed", a.layers[1].digest)]
    text = result.summary()
    assert "1 added, 1 removed, 1 shared" in text and "2 changed" in text
    assert "<h4>Files</h4>" in result._repr_html_()
    with pytest.raises(UnreadableLayer):  # exact reads the shared layer too: the oracle
        diff(a.reference, b.reference, exact=True)


def test_diff_exact_tells_a_rewritten_file_from_an_added_one(registry, unique_repo):
    base = layer(("f", "etc/conf", b"v1"))
    a = push_image(registry, unique_repo, "a", layers=[base])
    b = push_image(registry, unique_repo, "b", layers=[base, layer(("f", "etc/conf", b"v2"),
                                                                   ("f", "etc/new", b"n"))])
    quick = {r.path: r.change for r in diff(a.reference, b.reference).files.itertuples()}
    assert quick == {"/etc/conf": "added", "/etc/new": "added"}
    exact = {r.path: r.change for r in
             diff(a.reference, b.reference, exact=True).files.itertuples()}
    assert exact == {"/etc/conf": "changed", "/etc/new": "added"}


def test_an_artifact_is_not_read_as_a_filesystem(registry, unique_repo):
    from tests.support.oracle import RawClient
    from tests.support.images import put_manifest, upload_blob
    import json

    client = RawClient(registry)
    data = b"weights"
    digest = upload_blob(client, unique_repo, data)
    empty = upload_blob(client, unique_repo, b"{}")
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.model",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": digest, "size": 7}]}
    ).encode()
    put_manifest(client, unique_repo, "model", manifest,
                 "application/vnd.oci.image.manifest.v1+json")
    with pytest.raises(InvalidArgument, match="is an artifact.*pull_artifact"):
        files(f"{registry.host}/{unique_repo}:model")


def test_a_layer_climbing_out_of_the_root_is_refused(registry, unique_repo):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../../etc/evil")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    pushed = push_image(registry, unique_repo, "v1", layers=[gzip_deterministic(buf.getvalue())])
    with pytest.raises(UnreadableLayer, match="tar slip"):
        files(pushed.reference)
    with pytest.raises(UnreadableLayer, match="tar slip"):
        read_file(pushed.reference, "/etc/evil")


def test_a_platform_of_an_index(registry, unique_repo):
    from tests.support.images import push_index

    amd64 = push_image(registry, unique_repo, None, layers=[layer(("f", "arch", b"amd64"))])
    arm64 = push_image(registry, unique_repo, None, layers=[layer(("f", "arch", b"arm64"))],
                       platform=("linux", "arm64", "v8"))
    push_index(registry, unique_repo, "multi", [amd64, arm64])
    ref = f"{registry.host}/{unique_repo}:multi"
    assert read_file(ref, "/arch") == b"amd64"  # linux/amd64 by default
    assert read_file(ref, "/arch", platform="linux/arm64/v8") == b"arm64"
    assert files(ref, platform="linux/arm64/v8")["size"].tolist() == [5]
    with pytest.raises(NotFound, match="has no platform 'linux/s390x'.*linux/arm64/v8"):
        files(ref, platform="linux/s390x")


def test_diff_names_env_user_and_ports(registry, unique_repo):
    from tests.support.oracle import RawClient
    from tests.support.images import put_manifest, upload_blob
    import json

    client = RawClient(registry)
    base = layer(("f", "x", b"x"))
    digest = upload_blob(client, unique_repo, base)

    def image(tag: str, run: dict) -> str:
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": run,
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        config_digest = upload_blob(client, unique_repo, config)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": digest, "size": len(base)}]}).encode()
        put_manifest(client, unique_repo, tag, manifest,
                     "application/vnd.oci.image.manifest.v1+json")
        return f"{registry.host}/{unique_repo}:{tag}"

    a = image("a", {"Env": ["PATH=/bin", "MODE=dev"], "User": "",
                    "ExposedPorts": {"80/tcp": {}}, "Entrypoint": ["/run"]})
    b = image("b", {"Env": ["PATH=/bin", "MODE=prod", "NEW=1"], "User": "1000",
                    "ExposedPorts": {"8080/tcp": {}}, "Entrypoint": ["/run"]})
    result = diff(a, b)
    rows = {(r.setting, r.key): (r.a, r.b) for r in result.config.itertuples()}
    assert rows == {("Env", "MODE"): ("dev", "prod"), ("Env", "NEW"): ("", "1"),
                    ("User", ""): ("", "1000"), ("ExposedPorts", "80/tcp"): ("present", ""),
                    ("ExposedPorts", "8080/tcp"): ("", "present")}
    assert result.files.empty and result.layers.empty and result.shared_layers == 1


def test_read_file_of_a_folder_the_tar_only_implies(registry, unique_repo):
    pushed = push_image(registry, unique_repo, "v1", layers=[layer(("f", "opt/app/x", b"x"))])
    with pytest.raises(InvalidArgument, match="/opt/app is a directory"):
        read_file(pushed.reference, "/opt/app")
