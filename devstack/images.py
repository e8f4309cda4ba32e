"""The sample images of ``make lab``, written by hand and pushed without a Docker engine.

``seed_sample`` pushes ``tutorial/busybox``, ``tutorial/hello``, a two-platform
``tutorial/multiarch`` index and three ``demo/app`` tags with the minimal monolithic upload
(``POST`` + ``PUT ?digest=``, then ``PUT`` of the manifest). It shares no code with the library's
own client, so the tests can seed with it too. Layers are a real busybox rootfs (the images run)
or seeded random bytes (the registry never unpacks a blob). ``demo/debian-app`` and
``demo/alpine-app`` add a layer of package databases (``packages``) that the bundled
advisories match, so a scan of them has findings. The general test helpers
(``push_image``, ``push_index``) live in the tests' own ``tests/support/images.py``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import zlib
from typing import TYPE_CHECKING, Sequence

import requests

from .packages import alpine_files, debian_files
from .rootfs import files_tar, gzip_deterministic, rootfs_tar

if TYPE_CHECKING:
    from .registry import LocalRegistry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_TYPES = {  # manifest, config, layer
    "oci": (OCI_MANIFEST, "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip"),
    "docker": (DOCKER_MANIFEST, "application/vnd.docker.container.image.v1+json",
               "application/vnd.docker.image.rootfs.diff.tar.gzip"),
}
_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def busybox_layer() -> bytes:
    """A gzipped busybox rootfs layer (deterministic: same busybox, same digest)."""
    return gzip_deterministic(rootfs_tar())


def files_layer(files: dict[str, bytes]) -> bytes:
    return gzip_deterministic(files_tar(files))


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _diff_id(blob: bytes) -> str:
    # A gzip layer's diff_id is the digest of the tar inside; random filler has none, and the
    # registry never checks, so its own digest stands in.
    try:
        return _digest(gzip.decompress(blob))
    except (OSError, EOFError, zlib.error):
        return _digest(blob)


class _Pusher:
    """Just enough HTTP to write images: anonymous, or basic auth with the registry's CA."""

    def __init__(self, registry: "LocalRegistry") -> None:
        self.base = registry.url
        self.session = requests.Session()
        self.session.trust_env = False  # loopback: no proxy or netrc from the environment
        self.session.auth = registry.auth
        self.verify: str | bool = str(registry.ca_file) if registry.ca_file else True

    def _send(self, method: str, url: str, expect: int, **kwargs) -> requests.Response:
        r = self.session.request(method, url, verify=self.verify, timeout=60, **kwargs)
        if r.status_code != expect:
            raise RuntimeError(f"{method} {url} answered {r.status_code}: {r.text[:300]}")
        return r

    def blob(self, repository: str, data: bytes, media_type: str) -> dict:
        digest = _digest(data)
        head = self.session.head(f"{self.base}/v2/{repository}/blobs/{digest}", verify=self.verify,
                                 timeout=60)
        if head.status_code != 200:
            location = self._send("POST", f"{self.base}/v2/{repository}/blobs/uploads/",
                                  202).headers["Location"]
            if location.startswith("/"):
                location = self.base + location
            self._send("PUT", location + ("&" if "?" in location else "?") + f"digest={digest}",
                       201, data=data, headers={"Content-Type": "application/octet-stream"})
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def manifest(self, repository: str, tag: str | None, data: bytes, media_type: str) -> dict:
        digest = _digest(data)
        self._send("PUT", f"{self.base}/v2/{repository}/manifests/{tag or digest}", 201,
                   data=data, headers={"Content-Type": media_type})
        return {"mediaType": media_type, "digest": digest, "size": len(data)}


def _image(pusher: _Pusher, repository: str, tag: str | None, layers: Sequence[bytes], *,
           created: str, kind: str = "oci", platform: tuple[str, ...] = ("linux", "amd64"),
           labels: dict[str, str] | None = None, cmd: Sequence[str] = ("/bin/sh",)) -> dict:
    """Push one single-platform image; its manifest descriptor, with the platform."""
    manifest_type, config_type, layer_type = _TYPES[kind]
    os_name, arch, *variant = platform
    config: dict = {
        "created": created, "architecture": arch, "os": os_name,
        "config": {"Env": [_PATH_ENV], "Cmd": list(cmd), "Labels": dict(labels or {})},
        "rootfs": {"type": "layers", "diff_ids": [_diff_id(b) for b in layers]},
        # The module's old name, kept: it is part of the config bytes, so renaming it would
        # change every sample image's digest.
        "history": [{"created": created, "created_by": "registry_widgets.stack seed_sample"}
                    for _ in layers],
    }
    if variant:
        config["variant"] = variant[0]
    layer_descs = [pusher.blob(repository, blob, layer_type) for blob in layers]
    config_desc = pusher.blob(repository, _json(config), config_type)
    manifest = _json({"schemaVersion": 2, "mediaType": manifest_type, "config": config_desc,
                      "layers": layer_descs})
    desc = pusher.manifest(repository, tag, manifest, manifest_type)
    plat = {"architecture": arch, "os": os_name} | ({"variant": variant[0]} if variant else {})
    return desc | {"platform": plat}


def _filler(sizes: Sequence[int], seed: str) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(n) for n in sizes]


def seed_sample(registry: "LocalRegistry") -> dict[str, str]:
    """Push the ``make lab`` demo images; returns {reference: digest}.

    ``tutorial/busybox:1.0`` (and ``:latest``, a co-tag) runs ``sh``; ``tutorial/hello:1.0``
    prints a greeting; ``tutorial/multiarch:1.0`` is an index (amd64 real, arm64 filler);
    ``demo/app`` has three dated, labelled tags; ``demo/debian-app:1.0`` and
    ``demo/alpine-app:1.0`` run ``sh`` and carry Debian 12 and Alpine 3.19 package databases
    (with a Python package each) that ``notebooks/osv-demo`` has advisories for.
    """
    pusher = _Pusher(registry)
    busybox = busybox_layer()
    pushed: dict[str, str] = {}

    def record(repository: str, tag: str, desc: dict) -> None:
        pushed[f"{registry.host}/{repository}:{tag}"] = desc["digest"]

    for tag in ("1.0", "latest"):
        record("tutorial/busybox", tag, _image(
            pusher, "tutorial/busybox", tag, [busybox], kind="docker", created="2024-01-15T09:00:00Z",
            labels={"org.opencontainers.image.title": "busybox"}))
    hello = files_layer({"hello.txt": b"Hello from registry-widgets!\n"})
    record("tutorial/hello", "1.0", _image(pusher, "tutorial/hello", "1.0", [busybox, hello],
                                           cmd=("cat", "/hello.txt"), created="2024-02-01T12:00:00Z"))
    children = [
        _image(pusher, "tutorial/multiarch", None, [busybox], created="2024-02-15T10:00:00Z"),
        _image(pusher, "tutorial/multiarch", None, _filler((4096,), "arm64"),
               platform=("linux", "arm64", "v8"), created="2024-02-15T10:00:00Z"),
    ]
    index = _json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children})
    record("tutorial/multiarch", "1.0", pusher.manifest("tutorial/multiarch", "1.0", index, OCI_INDEX))
    for i, tag in enumerate(("1.0", "1.1", "2.0")):
        record("demo/app", tag, _image(
            pusher, "demo/app", tag, _filler((64 * 1024, 16 * 1024), f"demo-app-{tag}"),
            created=f"2024-0{i + 3}-01T08:00:00Z", labels={"org.opencontainers.image.version": tag}))
    for name, files in (("debian-app", debian_files()), ("alpine-app", alpine_files())):
        record(f"demo/{name}", "1.0", _image(
            pusher, f"demo/{name}", "1.0", [busybox, files_layer(files)],
            created="2024-06-01T08:00:00Z",
            labels={"org.opencontainers.image.title": name,
                    "org.opencontainers.image.description": "a scan sample: old packages"}))
    return pushed
