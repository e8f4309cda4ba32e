"""Test images for the SBOM and scan tests, built from the real package metadata files in
``tests/scan_data`` and pushed over raw HTTP (``devstack``), never through the
package's own client.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

from devstack.rootfs import gzip_deterministic
from tests.support import RawClient, files_layer
from tests.support.images import put_manifest, upload_blob

DATA = Path(__file__).resolve().parent / "scan_data"
OSV = DATA / "osv"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def tar_layer(entries: list[tuple[str, bytes | None, int, str | None]]) -> bytes:
    """A gzip tar of ``(path, content, mode, symlink target)``; content None with no target
    is a directory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content, mode, link in entries:
            info = tarfile.TarInfo(path)
            info.mode, info.mtime = mode, 1700000000
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            elif content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return gzip_deterministic(buf.getvalue())


def debian_layers(*, openssl: str = "3.0.11-1~deb12u2", requests: str = "2.28.1",
                  semver: str = "7.5.1") -> list[bytes]:
    """Debian 12 with openssl, requests (dist-info) and semver (node_modules); a second
    layer whites out one Python package and makes an npm folder opaque, and adds urllib3."""
    status = data("debian12-dpkg-status").replace(b"3.0.11-1~deb12u2", openssl.encode())
    metadata = data("requests-2.28.1-METADATA").replace(b"Version: 2.28.1", f"Version: {requests}".encode())
    package_json = data("semver-package.json").replace(b'"7.5.1"', json.dumps(semver).encode())
    site = "usr/lib/python3/dist-packages"
    base = files_layer({
        "etc/os-release": data("debian12-os-release"),
        "var/lib/dpkg/status": status,
        f"{site}/requests-{requests}.dist-info/METADATA": metadata,
        f"{site}/requests-{requests}.dist-info/RECORD": b"requests/__init__.py,,\n",
        f"{site}/chardet-5.1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: chardet\nVersion: 5.1.0\n",
        "srv/app/node_modules/semver/package.json": package_json,
        "srv/app/node_modules/semver/functions/package.json": b'{"name": "not-a-package", "version": "0"}',
        "opt/old/node_modules/lodash/package.json": b'{"name": "lodash", "version": "4.17.20"}',
    })
    top = files_layer({
        f"{site}/.wh.chardet-5.1.0.dist-info": b"",
        "opt/old/.wh..wh..opq": b"",
        "usr/local/lib/python3.11/site-packages/urllib3-1.26.18.dist-info/METADATA":
            b"Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.18\n",
    })
    return [base, top]


def alpine_layers(*, openssl: str = "3.1.4-r5") -> list[bytes]:
    installed = data("alpine319-apk-installed").replace(b"V:3.1.4-r5", f"V:{openssl}".encode())
    return [files_layer({"etc/os-release": data("alpine319-os-release"),
                         "lib/apk/db/installed": installed})]


def distroless_layers() -> list[bytes]:
    """Distroless style: one status.d file per package, etc/os-release a symlink."""
    stanza = data("debian12-dpkg-status").split(b"\n\n")[3]  # libssl3
    assert stanza.startswith(b"Package: libssl3")
    stanza = b"\n".join(line for line in stanza.split(b"\n") if not line.startswith(b"Status:"))
    return [tar_layer([
        ("etc", None, 0o755, None),
        ("etc/os-release", None, 0o777, "../usr/lib/os-release"),
        ("usr/lib/os-release", data("debian12-os-release"), 0o644, None),
        ("var/lib/dpkg/status.d/libssl3", stanza + b"\n", 0o644, None),
        ("var/lib/dpkg/status.d/libssl3.md5sums", b"0123 usr/lib/libssl.so.3\n", 0o644, None),
    ])]


def push(registry, repository: str, tag: str, layers: list[bytes], *,
         config: dict | None = None, history: list[str] | None = None) -> dict:
    """Push an OCI image with ``config`` as its runtime config; {digest, layers, reference}."""
    client = RawClient(registry)
    diff_ids = ["sha256:" + hashlib.sha256(__import__("gzip").decompress(b)).hexdigest() for b in layers]
    steps = history or [f"/bin/sh -c #(nop) COPY layer {i}" for i in range(len(layers))]
    config_obj = {
        "architecture": "amd64", "os": "linux", "created": "2024-06-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"], **(config or {})},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-06-01T00:00:00Z", "created_by": s} for s in steps],
    }
    config_bytes = json.dumps(config_obj).encode()
    digests = [upload_blob(client, repository, b) for b in layers]
    config_digest = upload_blob(client, repository, config_bytes)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": LAYER, "digest": d, "size": len(b)} for d, b in zip(digests, layers)],
    }).encode()
    digest = put_manifest(client, repository, tag, manifest, OCI_MANIFEST)
    return {"digest": digest, "layers": digests, "reference": f"{registry.host}/{repository}:{tag}"}
