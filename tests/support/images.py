"""Build and push test images over raw HTTP, without a Docker engine.

Images are written by hand (config, layers, manifest; index for multi-arch) and uploaded with
the monolithic ``POST`` + ``PUT ?digest=`` flow through ``oracle.RawClient``, independently of the
package's own client. Random bytes are fine as layer blobs (the registry never unpacks them);
``busybox_layer()`` gives a real layer so demo images run. The ``make lab`` sample images
(``seed_sample``) come from ``devstack.images``, so the tests seed exactly what the
lab shows.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Sequence

from devstack.images import busybox_layer, files_layer, seed_sample

from .oracle import (DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, RawClient,
                     sha256_digest)

if TYPE_CHECKING:
    from devstack import LocalRegistry

__all__ = ["Blob", "PushedImage", "busybox_layer", "files_layer", "push_image", "push_index",
           "put_manifest", "random_layers", "seed_sample", "upload_blob"]

MediaKind = Literal["oci", "docker"]
_TYPES = {
    "oci": {"manifest": OCI_MANIFEST, "index": OCI_INDEX,
            "config": "application/vnd.oci.image.config.v1+json",
            "layer": "application/vnd.oci.image.layer.v1.tar+gzip"},
    "docker": {"manifest": DOCKER_MANIFEST, "index": DOCKER_LIST,
               "config": "application/vnd.docker.container.image.v1+json",
               "layer": "application/vnd.docker.image.rootfs.diff.tar.gzip"},
}
_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int
    media_type: str


@dataclass(frozen=True)
class PushedImage:
    """What ``push_image`` wrote: enough for tests to assert on without asking the registry."""
    host: str
    repository: str
    tag: str | None
    digest: str
    media_type: str
    manifest: bytes
    config: Blob
    layers: tuple[Blob, ...]
    platform: tuple[str, ...]

    @property
    def size(self) -> int:
        """Manifest size in bytes (what an index descriptor records)."""
        return len(self.manifest)

    @property
    def total_size(self) -> int:
        """Manifest + config + layers: what a full copy transfers."""
        return self.size + self.config.size + sum(layer.size for layer in self.layers)

    @property
    def reference(self) -> str:
        return f"{self.host}/{self.repository}" + (f":{self.tag}" if self.tag else f"@{self.digest}")

    @property
    def by_digest(self) -> str:
        return f"{self.host}/{self.repository}@{self.digest}"


def random_layers(sizes: Sequence[int], seed: int | str | None = None) -> list[bytes]:
    """Blobs of random bytes; *seed* makes them reproducible, ``None`` makes them unique."""
    if seed is None:
        return [os.urandom(n) for n in sizes]
    rng = random.Random(seed)
    return [rng.randbytes(n) for n in sizes]


def _diff_id(blob: bytes) -> str:
    # A real gzip layer's diff_id is the digest of the tar inside; random blobs have none, and
    # the registry never checks, so their own digest stands in.
    try:
        return sha256_digest(gzip.decompress(blob))
    except (OSError, EOFError, zlib.error):
        return sha256_digest(blob)


def _json(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _iso(created: dt.datetime | str | None) -> str:
    if isinstance(created, str):
        return created
    when = created or dt.datetime.now(dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def upload_blob(client: RawClient, repository: str, data: bytes) -> str:
    """Monolithic upload (POST, then PUT with the whole body); skipped if the blob exists."""
    digest, scope = sha256_digest(data), f"repository:{repository}:pull,push"
    if client.request("HEAD", f"/v2/{repository}/blobs/{digest}", scope=scope).status_code == 200:
        return digest
    r = client.request("POST", f"/v2/{repository}/blobs/uploads/", scope=scope, expect=(202,))
    location = r.headers["Location"]
    location += ("&" if "?" in location else "?") + f"digest={digest}"
    client.request("PUT", location, scope=scope, data=data, expect=(201,),
                   headers={"Content-Type": "application/octet-stream"})
    return digest


def put_manifest(client: RawClient, repository: str, reference: str, data: bytes,
                 media_type: str) -> str:
    digest = sha256_digest(data)
    r = client.request("PUT", f"/v2/{repository}/manifests/{reference}", data=data, expect=(201,),
                       scope=f"repository:{repository}:pull,push",
                       headers={"Content-Type": media_type})
    if r.headers.get("Docker-Content-Digest", digest) != digest:
        raise RuntimeError(f"registry stored {repository} manifest as "
                           f"{r.headers['Docker-Content-Digest']}, expected {digest}")
    return digest


def push_image(registry: "LocalRegistry", repository: str, tag: str | None = "latest", *,
               layers: Sequence[bytes] | None = None, layer_sizes: Sequence[int] = (2048, 4096),
               seed: int | str | None = None, media_type: MediaKind = "oci",
               platform: tuple[str, ...] = ("linux", "amd64"),
               labels: dict[str, str] | None = None, created: dt.datetime | str | None = None,
               cmd: Sequence[str] = ("/bin/sh",), client: RawClient | None = None) -> PushedImage:
    """Push a single-platform image; ``tag=None`` pushes by digest only (for index children).

    ``layers`` are blobs as stored (gzip tars from ``busybox_layer``/``files_layer``, or any
    bytes); without them, ``layer_sizes`` random blobs from ``seed``.
    """
    types = _TYPES[media_type]
    client = client or RawClient(registry)
    blobs = list(layers) if layers is not None else random_layers(layer_sizes, seed)
    created_at = _iso(created)
    os_name, arch, *variant = platform
    config_obj: dict = {
        "created": created_at, "architecture": arch, "os": os_name,
        "config": {"Env": [_PATH_ENV], "Cmd": list(cmd), "Labels": dict(labels or {})},
        "rootfs": {"type": "layers", "diff_ids": [_diff_id(b) for b in blobs]},
        "history": [{"created": created_at, "created_by": "tests.support.push_image"}
                    for _ in blobs],
    }
    if variant:
        config_obj["variant"] = variant[0]
    config = _json(config_obj)

    layer_descs = []
    for blob in blobs:
        layer_descs.append(Blob(upload_blob(client, repository, blob), len(blob), types["layer"]))
    config_desc = Blob(upload_blob(client, repository, config), len(config), types["config"])
    manifest = _json({
        "schemaVersion": 2, "mediaType": types["manifest"],
        "config": {"mediaType": config_desc.media_type, "digest": config_desc.digest,
                   "size": config_desc.size},
        "layers": [{"mediaType": b.media_type, "digest": b.digest, "size": b.size}
                   for b in layer_descs],
    })
    digest = put_manifest(client, repository, tag or sha256_digest(manifest), manifest,
                          types["manifest"])
    return PushedImage(registry.host, repository, tag, digest, types["manifest"], manifest,
                       config_desc, tuple(layer_descs), tuple(platform))


def push_index(registry: "LocalRegistry", repository: str, tag: str | None,
               children: Sequence[PushedImage], *, media_type: MediaKind = "oci",
               client: RawClient | None = None) -> str:
    """Write a multi-arch index (OCI) or manifest list (Docker) over *children*; its digest.

    distribution checks that each child manifest exists in the same repository, so children
    must have been pushed there first (``push_image(..., tag=None)`` is enough).
    """
    for child in children:
        if (child.host, child.repository) != (registry.host, repository):
            raise ValueError(f"index child {child.reference} is not in {registry.host}/{repository}")
    manifests = []
    for child in children:
        os_name, arch, *variant = child.platform
        plat = {"architecture": arch, "os": os_name} | ({"variant": variant[0]} if variant else {})
        manifests.append({"mediaType": child.media_type, "digest": child.digest,
                          "size": child.size, "platform": plat})
    index_type = _TYPES[media_type]["index"]
    data = _json({"schemaVersion": 2, "mediaType": index_type, "manifests": manifests})
    return put_manifest(client or RawClient(registry), repository, tag or sha256_digest(data),
                        data, index_type)

