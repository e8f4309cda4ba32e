"""The client's fallbacks for registries that answer differently from distribution.

A ``FaultProxy`` in front of a real registry answers the one request a fallback is for (a 413
to a large single PUT, a HEAD without ``Docker-Content-Digest``); everything else is the real
registry. What was stored is read back with the raw-HTTP oracle; the proxy's log shows the
requests and the bytes each carried.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from registry_widgets.errors import ProtocolError
from registry_widgets.operations.core import clients
from registry_widgets.operations.images.copy import copy
from registry_widgets.registry import RegistryClient
from tests.support import RawClient, get_blob, get_manifest, push_image
from tests.support.faultproxy import FaultProxy, Respond
from tests.support.oracle import OCI_MANIFEST

pytest_plugins = ["faults_fixtures"]  # fault_proxy, fresh package clients

MiB = 1 << 20


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def proxied(registry):
    with FaultProxy.in_front_of(registry) as proxy:
        yield proxy


def test_a_413_to_one_big_put_falls_back_to_chunked_patches(proxied, registry, unique_repo):
    data = os.urandom(9 * MiB + 123)
    digest = digest_of(data)
    proxied.add_rule("PUT", r"/blobs/uploads/.*digest=", Respond(413, b"request too large"))
    client = RegistryClient(proxied.host, retries=0)

    client.upload_blob(unique_repo, digest, data, len(data))

    assert get_blob(registry, unique_repo, digest) == data  # digest checked by the oracle
    patches = proxied.exchanges("PATCH", r"/blobs/uploads/")
    assert [e.bytes_in for e in patches] == [4 * MiB, 4 * MiB, MiB + 123]
    assert [e.headers["content-range"] for e in patches] == [
        f"0-{4 * MiB - 1}", f"{4 * MiB}-{8 * MiB - 1}", f"{8 * MiB}-{len(data) - 1}"]
    assert all(e.status == 202 for e in patches)
    final = proxied.exchanges("PUT", r"/blobs/uploads/.*digest=")
    assert [(e.status, e.bytes_in) for e in final] == [(413, len(data)), (201, 0)]


def test_a_413_to_a_streamed_upload_is_one_clear_error(proxied, registry, unique_repo):
    data = os.urandom(2 * MiB)
    digest = digest_of(data)
    proxied.add_rule("PUT", r"/blobs/uploads/.*digest=", Respond(413, b"request too large"))
    client = RegistryClient(proxied.host, retries=0)
    pieces = (data[i:i + MiB] for i in range(0, len(data), MiB))

    with pytest.raises(ProtocolError) as caught:
        client.upload_blob(unique_repo, digest, pieces, len(data))

    assert "413" in str(caught.value) and proxied.host in str(caught.value)
    head = RawClient(registry).request("HEAD", f"/v2/{unique_repo}/blobs/{digest}")
    assert head.status_code == 404  # nothing half-stored upstream


def test_a_head_without_docker_content_digest_falls_back_to_a_get(proxied, registry,
                                                                   unique_repo):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(512,), seed=unique_repo)
    proxied.add_rule("HEAD", r"/manifests/", Respond(200, b"", OCI_MANIFEST), times=None)
    client = RegistryClient(proxied.host, retries=0)

    found = client.head_manifest(unique_repo, "1.0")

    assert found is not None and found.digest == image.digest == \
        get_manifest(registry, unique_repo, "1.0").digest
    assert found.size == len(image.manifest)
    assert [e.method for e in proxied.log if "/manifests/" in e.path] == ["HEAD", "GET"]


def test_a_rerun_copy_is_still_a_no_op_when_head_omits_the_digest(registry, registry_b,
                                                                   unique_repo, fault_proxy):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(512,), seed=unique_repo)
    target = fault_proxy(registry_b)
    copy(image.reference, f"{target.host}/{unique_repo}:1.0")
    target.clear()
    target.add_rule("HEAD", r"/manifests/", Respond(200, b"", OCI_MANIFEST), times=None)
    clients.reset()

    again = copy(image.reference, f"{target.host}/{unique_repo}:1.0")

    assert again.changed is False and again.digest == image.digest
    assert [e.method for e in target.log if e.method not in ("GET", "HEAD")] == []
