"""The images the benchmarks copy and list, pushed over raw HTTP (``tests.support``).

Copy images: a busybox base layer plus random-content layers. Each big layer is a real
gzip tar holding one random file, deflated at level 0 ("stored"): random data would not
shrink anyway, level 0 is written at memory speed, and the Docker engine (the engine path of
scenario 1) must be able to unpack what it pulls.

Inventory: ``repositories`` repositories under 40 namespaces, ``tags`` tags each, every tag
its own small image (its own config: date, labels), all sharing tiny layers. The layers go
to the first repository once and are mounted into the others (one request each, no bytes);
configs and manifests go up from a thread pool. Seeding is not measured.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tarfile
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from devstack import LocalRegistry
from tests.support import PushedImage, busybox_layer, push_image, push_index

from .harness import KiB, Stopwatch

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
_BLOCK = 4 << 20


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def stored_gzip_tar(name: str, size: int) -> bytes:
    """A gzip-compressed tar (deflate level 0) of one file of ``size`` random bytes."""
    header = tarfile.TarInfo(name)
    header.size, header.mode, header.mtime = size, 0o644, 0
    out: list[bytes] = []
    deflate = zlib.compressobj(0, zlib.DEFLATED, 31)  # wbits 31: a gzip stream
    out.append(deflate.compress(header.tobuf(format=tarfile.GNU_FORMAT)))
    for start in range(0, size, _BLOCK):
        out.append(deflate.compress(os.urandom(min(_BLOCK, size - start))))
    padding = (-size) % tarfile.BLOCKSIZE
    out.append(deflate.compress(b"\0" * (padding + 2 * tarfile.BLOCKSIZE)))  # end of archive
    out.append(deflate.flush())
    return b"".join(out)


def push_copy_image(registry: LocalRegistry, repository: str, tag: str, layer_size: int,
                    layers: int = 2) -> PushedImage:
    """The scenario 1 image: busybox plus ``layers`` random layers of ``layer_size``."""
    blobs = [busybox_layer()] + [stored_gzip_tar(f"data/{i}.bin", layer_size)
                                 for i in range(layers)]
    return push_image(registry, repository, tag, layers=blobs, media_type="docker",
                      created="2024-05-01T12:00:00Z")


def push_multiarch_image(registry: LocalRegistry, repository: str, tag: str,
                         layer_size: int) -> tuple[str, list[PushedImage]]:
    """A two-platform OCI index (linux/amd64, linux/arm64/v8); its digest and children."""
    base = busybox_layer()
    children = [push_image(registry, repository, None, platform=platform,
                           layers=[base, stored_gzip_tar(f"data/{'-'.join(platform)}.bin",
                                                         layer_size)],
                           created="2024-05-01T12:00:00Z")
                for platform in (("linux", "amd64"), ("linux", "arm64", "v8"))]
    return push_index(registry, repository, tag, children), children


# -- the inventory registry --------------------------------------------------------------

@dataclass(frozen=True)
class InventorySeed:
    repositories: list[str]
    images: list[tuple[str, str, str]]  # (repository, tag, config digest)
    seconds: float

    @property
    def tags(self) -> int:
        return len(self.images)


def repository_names(count: int) -> list[str]:
    """``team-00/app-00`` ...: 25 repositories per namespace (40 namespaces for 1,000)."""
    return [f"team-{i // 25:02d}/app-{i % 25:02d}" for i in range(count)]


def tag_names(count: int) -> list[str]:
    return [f"1.{i}.0" for i in range(count)]


class _Uploader:
    """One ``requests.Session`` per thread against one registry (its URL, CA and user)."""

    def __init__(self, registry: LocalRegistry):
        self.base = registry.url
        self.auth = registry.auth
        self.verify = str(registry.ca_file) if registry.ca_file else True
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False
            session.auth, session.verify = self.auth, self.verify
        return session

    def _check(self, response: requests.Response, *expected: int) -> requests.Response:
        if response.status_code not in expected:
            raise RuntimeError(f"{response.request.method} {response.url} answered "
                               f"{response.status_code}: {response.text[:300]}")
        return response

    def blob(self, repository: str, data: bytes) -> str:
        digest = digest_of(data)
        started = self._check(self.session.post(f"{self.base}/v2/{repository}/blobs/uploads/"), 202)
        location = started.headers["Location"]
        location = location if location.startswith("http") else self.base + location
        self._check(self.session.put(f"{location}&digest={digest}", data=data, headers={
            "Content-Type": "application/octet-stream"}), 201)
        return digest

    def mount(self, repository: str, digest: str, source: str) -> None:
        self._check(self.session.post(f"{self.base}/v2/{repository}/blobs/uploads/",
                                      params={"mount": digest, "from": source}), 201)

    def manifest(self, repository: str, tag: str, data: bytes, media_type: str) -> None:
        self._check(self.session.put(f"{self.base}/v2/{repository}/manifests/{tag}", data=data,
                                     headers={"Content-Type": media_type}), 201)


def seed_inventory(registry: LocalRegistry, *, repositories: int, tags: int,
                   workers: int = 16) -> InventorySeed:
    """Fill ``registry`` with ``repositories`` x ``tags`` small images (see the module doc)."""
    names = repository_names(repositories)
    uploader = _Uploader(registry)
    pool = [os.urandom(size) for size in (2 * KiB, 3 * KiB, 4 * KiB, 5 * KiB, 6 * KiB, 8 * KiB)]
    first = names[0]
    with Stopwatch() as watch:
        layer_digests = [uploader.blob(first, layer) for layer in pool]
        sizes = {d: len(layer) for d, layer in zip(layer_digests, pool)}

        def seed_repository(index: int) -> list[tuple[str, str, str]]:
            name = names[index]
            pushed = []
            # Every image: a base shared by all, one of the rest shared by a sixth of them.
            layers = [layer_digests[0], layer_digests[1 + index % (len(pool) - 1)]]
            if name != first:
                for digest in layers:
                    uploader.mount(name, digest, first)
            oci = index % 4 == 0
            arch = "arm64" if index % 10 == 0 else "amd64"
            for number, tag in enumerate(tag_names(tags)):
                created = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(
                    days=number * 7, minutes=index)
                config = json.dumps({
                    "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"), "architecture": arch,
                    "os": "linux", "config": {"Labels": {"org.opencontainers.image.version": tag,
                                                         "team": name.split("/")[0]}},
                    "rootfs": {"type": "layers", "diff_ids": layers},
                }, separators=(",", ":")).encode()
                config_digest = uploader.blob(name, config)
                manifest = json.dumps({
                    "schemaVersion": 2, "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
                               "digest": config_digest, "size": len(config)},
                    "layers": [{"mediaType": OCI_LAYER if oci else DOCKER_LAYER, "digest": d,
                                "size": sizes[d]} for d in layers],
                }, separators=(",", ":")).encode()
                uploader.manifest(name, tag, manifest, OCI_MANIFEST if oci else DOCKER_MANIFEST)
                pushed.append((name, tag, config_digest))
            return pushed

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seed") as executor:
            images = [image for pushed in executor.map(seed_repository, range(repositories))
                      for image in pushed]
    return InventorySeed(repositories=names, images=images, seconds=watch.seconds)
