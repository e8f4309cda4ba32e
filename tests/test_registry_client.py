"""RegistryClient against real CNCF distribution registries: lists, manifests, blobs, mounts.

Every behaviour is checked on a running registry and, where it matters, against an independent
reader: the raw-HTTP oracle (``tests/support/oracle.py``) or ``skopeo``. The one stand-in
is a paginating front for tag lists, because distribution 2.8 ignores ``n`` on
``/tags/list`` (tag pagination arrived with distribution 3 and the OCI spec).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from registry_widgets.errors import DigestMismatch
from registry_widgets.manifest import (DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX,
                                       OCI_MANIFEST, Manifest, digest_of)
from registry_widgets.registry import RegistryClient
from tests.support import get_blob, get_manifest, list_repositories, list_tags, push_image

CONFIG_TYPE = {DOCKER_MANIFEST: "application/vnd.docker.container.image.v1+json",
               OCI_MANIFEST: "application/vnd.oci.image.config.v1+json"}
LAYER_TYPE = {DOCKER_MANIFEST: "application/vnd.docker.image.rootfs.diff.tar.gzip",
              OCI_MANIFEST: "application/vnd.oci.image.layer.v1.tar+gzip"}
# An index's children must exist in the same repository; they are of the matching family.
CHILD_TYPE = {DOCKER_MANIFEST_LIST: DOCKER_MANIFEST, OCI_INDEX: OCI_MANIFEST}


def client_for(registry) -> RegistryClient:
    return RegistryClient(registry.host)


def record_responses(client: RegistryClient) -> list[requests.Response]:
    """Every HTTP response the client receives, in order (a requests hook, not a fake)."""
    seen: list[requests.Response] = []
    client.transport.session.hooks["response"].append(lambda r, *args, **kwargs: seen.append(r))
    return seen


def blob_path(registry, digest: str) -> Path:
    """Where distribution's filesystem driver keeps a blob's bytes."""
    hex_part = digest.split(":", 1)[1]
    return registry.storage / "docker/registry/v2/blobs/sha256" / hex_part[:2] / hex_part / "data"


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def odd_json(obj: dict) -> bytes:
    """Valid JSON no serialiser would produce by default: proves bytes are kept, not re-encoded."""
    return (json.dumps(obj, indent=3) + "\n").encode()


def skopeo_raw(registry, repository: str, tag: str) -> bytes:
    done = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                           f"docker://{registry.host}/{repository}:{tag}"],
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


# -- lists -------------------------------------------------------------------------------------

def test_catalog_follows_link_pages_to_the_end(registry_factory):
    reg = registry_factory()
    repositories = [f"page/repo-{i}" for i in range(7)]
    for repository in repositories:
        push_image(reg, repository, "v1", layer_sizes=(16,), seed=1)
    client = client_for(reg)
    seen = record_responses(client)

    listed = list(client.catalog(n=2))

    assert listed == sorted(repositories) == list_repositories(reg)
    pages = [r for r in seen if urllib.parse.urlsplit(r.url).path == "/v2/_catalog"]
    assert len(pages) == 4  # 2 + 2 + 2 + 1
    assert all("next" in r.links for r in pages[:-1]) and "next" not in pages[-1].links


def test_catalog_without_n_is_one_page(registry_factory):
    reg = registry_factory()
    for i in range(3):
        push_image(reg, f"one/repo-{i}", "v1", layer_sizes=(16,), seed=1)
    assert list(client_for(reg).catalog()) == ["one/repo-0", "one/repo-1", "one/repo-2"]


def _push_tags(registry, repository: str, count: int) -> list[str]:
    tags = [f"t{i}" for i in range(count)]
    image = push_image(registry, repository, tags[0], layer_sizes=(16,), seed=1)
    client = client_for(registry)
    manifest = Manifest(image.manifest, image.media_type)
    for tag in tags[1:]:
        client.put_manifest(repository, tag, manifest)
    return tags


def test_tags_of_a_real_registry_come_back_complete(registry, unique_repo):
    tags = _push_tags(registry, unique_repo, 7)
    # distribution 2.8 ignores n here and answers everything in one page.
    assert sorted(client_for(registry).tags(unique_repo, n=2)) == sorted(tags) \
        == sorted(list_tags(registry, unique_repo))


@pytest.fixture
def paginating_front(registry) -> Iterator[str]:
    """``host:port`` of a front that serves ``/v2/<name>/tags/list`` the OCI way (``n``, ``last``,
    ``Link: <...>; rel="next"``, sorted pages) from the real registry's full list, and passes
    everything else through."""

    class Front(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            upstream = requests.get(f"{registry.url}{url.path}", timeout=10,
                                    headers={"Accept": self.headers.get("Accept", "*/*")})
            body, headers = upstream.content, {"Content-Type": upstream.headers["Content-Type"]}
            if url.path.endswith("/tags/list") and upstream.status_code == 200:
                query = urllib.parse.parse_qs(url.query)
                everything = sorted(upstream.json()["tags"])
                n = int(query.get("n", ["100"])[0])
                last = query.get("last", [""])[0]
                page = [t for t in everything if t > last][:n]
                if page and page[-1] != everything[-1]:
                    next_query = urllib.parse.urlencode({"n": n, "last": page[-1]})
                    headers["Link"] = f'<{url.path}?{next_query}>; rel="next"'
                body = json.dumps({"name": upstream.json()["name"], "tags": page}).encode()
            self.send_response(upstream.status_code)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Front)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_tags_follow_link_pages_to_the_end(registry, unique_repo, paginating_front):
    tags = _push_tags(registry, unique_repo, 7)
    client = RegistryClient(paginating_front)
    seen = record_responses(client)

    listed = list(client.tags(unique_repo, n=2))

    assert listed == sorted(tags)
    pages = [r for r in seen if r.url.split("?")[0].endswith("/tags/list")]
    assert len(pages) == 4  # t0 t1 | t2 t3 | t4 t5 | t6
    assert [urllib.parse.parse_qs(urllib.parse.urlsplit(r.url).query).get("last") for r in pages] \
        == [None, ["t1"], ["t3"], ["t5"]]


# -- manifests ---------------------------------------------------------------------------------

def _push_image_manifest(client: RegistryClient, repository: str, media_type: str,
                         reference: str) -> Manifest:
    """Config and layer uploaded by the client, then the manifest written as odd JSON."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = os.urandom(1024)
    for data in (config, layer):
        client.upload_blob(repository, digest_of(data), data, len(data))
    data = odd_json({
        "schemaVersion": 2, "mediaType": media_type,
        "config": {"mediaType": CONFIG_TYPE[media_type], "digest": digest_of(config),
                   "size": len(config)},
        "layers": [{"mediaType": LAYER_TYPE[media_type], "digest": digest_of(layer),
                    "size": len(layer)}],
    })
    manifest = Manifest(data, media_type)
    assert client.put_manifest(repository, reference, manifest) == digest_of(data)
    return manifest


@pytest.mark.parametrize("media_type", [DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST,
                                        OCI_INDEX])
def test_manifest_round_trip_keeps_bytes_digest_and_media_type(registry, unique_repo, media_type):
    client = client_for(registry)
    if media_type in CHILD_TYPE:
        child_type = CHILD_TYPE[media_type]
        child = _push_image_manifest(client, unique_repo, child_type, "child")
        data = odd_json({"schemaVersion": 2, "mediaType": media_type, "manifests": [
            {"mediaType": child_type, "digest": child.digest, "size": child.size,
             "platform": {"architecture": "amd64", "os": "linux"}}]})
        pushed = Manifest(data, media_type)
        assert client.put_manifest(unique_repo, "v1", pushed) == digest_of(data)
    else:
        pushed = _push_image_manifest(client, unique_repo, media_type, "v1")
    assert pushed.data.endswith(b"}\n") and b'\n   "schemaVersion": 2' in pushed.data

    for reference in ("v1", pushed.digest):
        got = client.get_manifest(unique_repo, reference)
        assert (got.data, got.digest, got.media_type) == (pushed.data, pushed.digest, media_type)
    head = client.head_manifest(unique_repo, "v1")
    assert head is not None
    assert (head.digest, head.media_type, head.size) == (pushed.digest, media_type, pushed.size)

    oracle = get_manifest(registry, unique_repo, "v1")
    assert (oracle.data, oracle.media_type, oracle.digest) == (pushed.data, media_type,
                                                              pushed.digest)
    assert skopeo_raw(registry, unique_repo, "v1") == pushed.data


def test_head_manifest_of_a_missing_tag_is_none(registry, unique_repo):
    client = client_for(registry)
    _push_image_manifest(client, unique_repo, OCI_MANIFEST, "v1")
    assert client.head_manifest(unique_repo, "no-such-tag") is None


def test_put_manifest_under_a_second_tag_is_a_co_tag(registry, unique_repo):
    client = client_for(registry)
    manifest = _push_image_manifest(client, unique_repo, DOCKER_MANIFEST, "v1")
    client.put_manifest(unique_repo, "latest", manifest)
    assert sorted(client.tags(unique_repo)) == ["latest", "v1"]
    assert client.head_manifest(unique_repo, "latest").digest == manifest.digest


# -- blobs -------------------------------------------------------------------------------------

def test_upload_bytes_then_read_back(registry, unique_repo):
    client = client_for(registry)
    data = os.urandom(200_000)
    digest = digest_of(data)
    before = client.transport.stats["bytes_up"]

    client.upload_blob(unique_repo, digest, data, len(data))

    assert client.transport.stats["bytes_up"] - before == len(data)
    assert client.head_blob(unique_repo, digest) == len(data)
    assert client.get_blob(unique_repo, digest) == data
    assert get_blob(registry, unique_repo, digest) == data


def test_upload_a_streamed_iterable_with_its_size(registry, unique_repo):
    client = client_for(registry)
    data = os.urandom(3 * 1024 * 1024 + 17)
    digest = digest_of(data)
    handed_out: list[int] = []

    def stream() -> Iterator[bytes]:
        for chunk in chunks(data, 256 * 1024):
            handed_out.append(len(chunk))
            yield chunk

    before = client.transport.stats["bytes_up"]
    client.upload_blob(unique_repo, digest, stream(), len(data))

    assert sum(handed_out) == len(data) and len(handed_out) > 1  # streamed, not joined first
    assert client.transport.stats["bytes_up"] - before == len(data)
    assert get_blob(registry, unique_repo, digest) == data


def test_head_blob_of_a_missing_blob_is_none(registry, unique_repo):
    client = client_for(registry)
    client.upload_blob(unique_repo, digest_of(b"present"), b"present", 7)
    assert client.head_blob(unique_repo, digest_of(b"absent")) is None


@pytest.fixture
def downloads(tmp_path) -> Path:
    path = tmp_path / "downloads"
    path.mkdir()
    return path


def test_download_blob_writes_the_verified_file(registry, unique_repo, downloads):
    client = client_for(registry)
    data = os.urandom(2 * 1024 * 1024 + 5)
    digest = digest_of(data)
    client.upload_blob(unique_repo, digest, data, len(data))
    before = client.transport.stats["bytes_down"]

    path = client.download_blob(unique_repo, digest, downloads / "layer.tar.gz")

    assert path == downloads / "layer.tar.gz" and path.read_bytes() == data
    assert sorted(p.name for p in downloads.iterdir()) == ["layer.tar.gz"]
    assert client.transport.stats["bytes_down"] - before == len(data)


def _flip_middle_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]


CORRUPTIONS = {
    "one byte flipped": _flip_middle_byte,
    "truncated": lambda data: data[:-100],
}


@pytest.fixture(params=sorted(CORRUPTIONS))
def corrupt_blob(request, registry, unique_repo) -> tuple[str, bytes]:
    """A blob whose file in the registry's storage was damaged after upload: the registry
    really serves wrong bytes under the right digest. Returns (digest, original bytes)."""
    data = os.urandom(256 * 1024)
    digest = digest_of(data)
    client_for(registry).upload_blob(unique_repo, digest, data, len(data))
    path = blob_path(registry, digest)
    assert path.read_bytes() == data
    path.write_bytes(CORRUPTIONS[request.param](data))
    return digest, data


def test_corrupt_download_raises_and_leaves_no_file(registry, unique_repo, corrupt_blob,
                                                   downloads):
    digest, _ = corrupt_blob
    target = downloads / "layer.tar.gz"

    with pytest.raises(DigestMismatch) as caught:
        client_for(registry).download_blob(unique_repo, digest, target)

    assert registry.host in str(caught.value) and unique_repo in str(caught.value)
    assert "corrupt" in str(caught.value)
    assert list(downloads.iterdir()) == []  # neither the target nor a partial file


def test_iter_blob_never_yields_all_of_a_corrupt_blob(registry, unique_repo, corrupt_blob):
    digest, data = corrupt_blob
    received = bytearray()

    with pytest.raises(DigestMismatch):
        for chunk in client_for(registry).iter_blob(unique_repo, digest, chunk_size=16 * 1024):
            received += chunk

    assert 0 < len(received) < len(data) - 16 * 1024 + 1  # streamed, but the last chunk held back


def test_iter_blob_streams_a_sound_blob_in_chunks(registry, unique_repo):
    client = client_for(registry)
    data = os.urandom(100_000)
    digest = digest_of(data)
    client.upload_blob(unique_repo, digest, data, len(data))

    pieces = list(client.iter_blob(unique_repo, digest, chunk_size=16 * 1024))

    assert b"".join(pieces) == data and len(pieces) > 1


# -- cross-repository mount --------------------------------------------------------------------

def test_mount_from_another_repository_sends_no_bytes(registry, unique_repo):
    client = client_for(registry)
    source, target = unique_repo, f"{unique_repo}-mirror"
    data = os.urandom(500_000)
    digest = digest_of(data)
    client.upload_blob(source, digest, data, len(data))
    before = client.transport.stats["bytes_up"]

    assert client.start_upload(target, mount=digest, from_repository=source) is None

    assert client.transport.stats["bytes_up"] == before
    assert client.head_blob(target, digest) == len(data)
    assert get_blob(registry, target, digest) == data


@pytest.mark.parametrize("body", ["bytes", "stream"])
def test_mount_of_a_missing_blob_gives_a_location_to_upload_to(registry, unique_repo, body):
    client = client_for(registry)
    source, target = unique_repo, f"{unique_repo}-mirror"
    client.upload_blob(source, digest_of(b"other"), b"other", 5)
    data = os.urandom(100_000)
    digest = digest_of(data)

    location = client.start_upload(target, mount=digest, from_repository=source)

    assert isinstance(location, str) and "/blobs/uploads/" in location
    payload = data if body == "bytes" else chunks(data, 30_000)
    client.upload_blob(target, digest, payload, len(data), location=location)
    assert get_blob(registry, target, digest) == data
    assert client.head_blob(source, digest) is None
