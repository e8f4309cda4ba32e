"""Reads, listing and copy through a faulty network: what is retried, resumed, or reported.

Every test puts a ``FaultProxy`` (tests/support/faultproxy.py) in front of a real
registry and programs the fault a real registry cannot produce on demand: a rate limit, a
5xx burst, a connection dropped mid-body, corrupted or short bytes, a token expiring early,
a slow answer, HTML or garbage where JSON belongs. The proxy's log of every exchange is the
evidence. Clients of the proxy retry ``retries`` times (2) with a 0.05 s backoff.

Policy shown here: 429/502/503/504 are retried for idempotent requests, honouring
``Retry-After``; 500 is retried for reads only (a write answered 500 may have happened); a
dropped download resumes with ``Range``; a digest mismatch is never retried silently by the
client but ``copy`` restarts that blob; a refused token is refreshed once.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time

import pytest

import registry_widgets as rw
from registry_widgets.errors import (DigestMismatch, ProtocolError, RateLimited, RegistryError,
                                     Unreachable)
from registry_widgets.manifest import OCI_MANIFEST
from registry_widgets.operations.core.clients import client_for
from registry_widgets.registry import READ_SIZE
from tests.support import RawClient, push_image
from tests.support.faultproxy import Corrupt, Delay, Drop, ExpireToken, Respond, Throttle, Truncate

pytest_plugins = ["faults_fixtures"]

BLOB = 3_000_000  # big enough to break in the middle: several read pieces


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def image(faulty_registry):
    """``ns/app:1.0`` behind the proxy: one 3 MB layer and one small one."""
    return push_image(faulty_registry.registry, "ns/app", "1.0", layer_sizes=(BLOB, 4096),
                      seed="faults")


@pytest.fixture
def client(faulty_registry):
    return client_for(faulty_registry.host)


@pytest.fixture
def retries(client) -> int:
    """The retry budget the proxy's clients have."""
    return client.transport.retries


# -- transient answers ---------------------------------------------------------------------------

def test_429_with_retry_after_is_honoured_and_then_succeeds(faulty_registry, client, image):
    proxy = faulty_registry
    proxy.add_rule("GET", r"/tags/list", Respond(429, headers={"Retry-After": "1"}))

    assert list(client.tags("ns/app")) == ["1.0"]

    limited, retried = proxy.exchanges("GET", r"/tags/list")
    assert (limited.status, retried.status) == (429, 200)
    assert retried.started - limited.started >= 1.0


def test_after_a_429_the_next_request_to_that_registry_waits_too(faulty_registry, image):
    # A rate limit is per client: the other requests (other workers, a copy restarting a
    # blob) wait out the Retry-After instead of burning requests against the limit.
    proxy = faulty_registry
    rw.configure(proxy.url, retries=0)
    client = client_for(proxy.host)
    proxy.add_rule("HEAD", r"/manifests/", Respond(429, headers={"Retry-After": "1"}))

    with pytest.raises(RateLimited, match="rate limiting"):
        client.head_manifest("ns/app", "1.0")
    client.get_manifest("ns/app", "1.0")

    limited, = proxy.exchanges("HEAD", r"/manifests/")
    answered, = proxy.exchanges("GET", r"/manifests/")
    assert answered.started - limited.started >= 1.0


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_transient_answer_to_a_read_is_retried_until_it_succeeds(faulty_registry, client, image,
                                                                   status, retries):
    faulty_registry.add_rule("GET", r"/manifests/", Respond(status), times=retries)

    manifest = client.get_manifest("ns/app", "1.0")

    assert manifest.digest == image.digest
    assert [e.status for e in faulty_registry.exchanges("GET", r"/manifests/")] == \
        [status] * retries + [200]


def test_a_500_answered_to_a_write_is_reported_not_replayed(faulty_registry, client, image):
    # The write may have taken effect before the 500 (the answer alone cannot tell).
    manifest = client.get_manifest("ns/app", "1.0")
    faulty_registry.add_rule("PUT", r"/manifests/", Respond(500))

    with pytest.raises(RegistryError) as failure:
        client.put_manifest("ns/app", "2.0", manifest)

    assert failure.value.status == 500
    assert len(faulty_registry.exchanges("PUT", r"/manifests/")) == 1


def test_a_persistent_503_ends_with_a_clear_error_after_the_retry_budget(faulty_registry, client,
                                                                         image, retries):
    faulty_registry.add_rule("GET", r"/manifests/", Respond(503), times=None)

    with pytest.raises(RegistryError) as failure:
        client.get_manifest("ns/app", "1.0")

    assert failure.value.status == 503
    message = str(failure.value)
    assert "503" in message and faulty_registry.host in message and "try again later" in message
    assert len(faulty_registry.exchanges("GET", r"/manifests/")) == retries + 1


def test_a_connection_dropped_mid_answer_is_retried_for_lists_and_manifests(faulty_registry,
                                                                            client, image):
    faulty_registry.add_rule("GET", r"/tags/list", Drop(after=10))
    faulty_registry.add_rule("GET", r"/manifests/", Drop(after=10))

    assert list(client.tags("ns/app")) == ["1.0"]
    assert client.get_manifest("ns/app", "1.0").digest == image.digest
    assert len(faulty_registry.exchanges("GET")) == 4


def test_a_connection_that_keeps_dropping_is_unreachable_not_a_raw_exception(faulty_registry,
                                                                             client, image):
    faulty_registry.add_rule("GET", r"/tags/list", Drop(after=10), times=None)

    with pytest.raises(Unreachable, match="lost the connection"):
        list(client.tags("ns/app"))


# -- blob downloads ------------------------------------------------------------------------------

def test_a_download_dropped_mid_blob_resumes_with_range(faulty_registry, client, image, tmp_path):
    layer = image.layers[0]
    faulty_registry.add_rule("GET", layer.digest, Drop(after=1_500_000))

    saved = client.download_blob("ns/app", layer.digest, tmp_path / "layer")

    assert sha256(saved.read_bytes()) == layer.digest
    first, resumed = faulty_registry.exchanges("GET", layer.digest)
    assert first.bytes_out == 1_500_000 and first.range is None
    offset = int(resumed.range.removeprefix("bytes=").removesuffix("-"))
    assert 1_500_000 - READ_SIZE <= offset <= 1_500_000
    assert resumed.status == 206
    # What was lost with the connection is re-fetched, and nothing else.
    assert layer.size <= first.bytes_out + resumed.bytes_out <= layer.size + READ_SIZE


def test_breaks_that_make_progress_do_not_use_up_the_retry_budget(faulty_registry, client, image,
                                                                   retries):
    # More breaks than retries, each after 600 kB more: a long download on a flaky network.
    layer = image.layers[0]
    faulty_registry.add_rule("GET", layer.digest, Drop(after=600_000), times=retries + 2)

    assert sha256(client.get_blob("ns/app", layer.digest)) == layer.digest
    assert len(faulty_registry.exchanges("GET", layer.digest)) == retries + 3


def test_a_download_that_breaks_without_progress_gives_up_and_keeps_nothing(faulty_registry,
                                                                            client, image,
                                                                            tmp_path):
    (tmp_path / "out").mkdir()
    layer = image.layers[0]
    faulty_registry.add_rule("GET", layer.digest, Drop(after=0), times=None)

    with pytest.raises(Unreachable, match="kept breaking"):
        client.download_blob("ns/app", layer.digest, tmp_path / "out" / "layer")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("fault", [Corrupt(offset=1_234_567), Truncate(after=2_000_000)],
                         ids=["a flipped byte", "a short body"])
def test_a_corrupt_download_raises_digest_mismatch_and_keeps_nothing(faulty_registry, client,
                                                                     image, tmp_path, fault):
    (tmp_path / "out").mkdir()
    layer = image.layers[0]
    faulty_registry.add_rule("GET", layer.digest, fault)

    with pytest.raises(DigestMismatch, match="corrupt"):
        client.download_blob("ns/app", layer.digest, tmp_path / "out" / "layer")
    assert list((tmp_path / "out").iterdir()) == []
    assert sha256(client.get_blob("ns/app", layer.digest)) == layer.digest  # the rule is spent


def test_copy_fetches_a_corrupted_blob_again_and_succeeds(faulty_registry, registry_b, image,
                                                          unique_repo):
    layer = image.layers[0]
    faulty_registry.add_rule("GET", layer.digest, Corrupt(offset=100))

    result = rw.copy(f"{faulty_registry.host}/ns/app:1.0", f"{registry_b.host}/{unique_repo}:1.0")

    assert result.digest == image.digest
    assert [e.fault for e in faulty_registry.exchanges("GET", layer.digest)] == ["Corrupt", None]
    assert RawClient(registry_b).request("HEAD", f"/v2/{unique_repo}/blobs/{layer.digest}") \
        .headers["Content-Length"] == str(layer.size)


def test_copy_of_a_blob_that_stays_corrupt_fails_and_leaves_the_target_untouched(
        faulty_registry, registry_b, image, unique_repo):
    layer = image.layers[0]
    faulty_registry.add_rule("GET", layer.digest, Corrupt(offset=100), times=None)

    with pytest.raises(DigestMismatch):
        rw.copy(f"{faulty_registry.host}/ns/app:1.0", f"{registry_b.host}/{unique_repo}:1.0")

    target = RawClient(registry_b)
    assert target.request("HEAD", f"/v2/{unique_repo}/manifests/1.0").status_code == 404
    assert target.request("HEAD", f"/v2/{unique_repo}/blobs/{layer.digest}").status_code == 404


# -- tokens --------------------------------------------------------------------------------------

def test_a_token_expiring_mid_listing_is_refreshed_once(token_registry, fault_proxy, unique_repo):
    for tag in ("1.0", "2.0", "3.0"):
        push_image(token_registry, unique_repo, tag, layer_sizes=(1024,), seed=tag)
    proxy = fault_proxy(token_registry,
                        credentials=(token_registry.username, token_registry.password))
    # A cold listing reads each manifest with one GET by tag: expire the token on the second.
    proxy.add_rule("GET", r"/manifests/", ExpireToken(), skip=1)
    token_registry.token_server.reset_log()

    table = rw.images(proxy.host, repositories=[unique_repo], workers=1)

    assert sorted(table["tag"]) == ["1.0", "2.0", "3.0"]
    assert [e.status for e in proxy.exchanges("GET", r"/manifests/")] == [200, 401, 200, 200]
    pull = f"repository:{unique_repo}:pull"
    assert [r.scopes for r in token_registry.token_server.requests].count((pull,)) == 2


# -- slow answers --------------------------------------------------------------------------------

def test_a_slow_registry_within_the_timeout_just_works(faulty_registry, image, retries):
    proxy = faulty_registry
    rw.configure(proxy.url, retries=retries, backoff=0.05, timeout=(3, 3))
    client = client_for(proxy.host)
    proxy.add_rule("GET", r"/manifests/", Delay(1.0))
    proxy.add_rule("GET", image.layers[0].digest, Throttle(bytes_per_second=2_000_000))

    started = time.monotonic()
    assert client.get_manifest("ns/app", "1.0").digest == image.digest
    assert sha256(client.get_blob("ns/app", image.layers[0].digest)) == image.layers[0].digest

    assert time.monotonic() - started >= 2.0
    assert len(proxy.log) == 2  # nothing was retried


def test_an_answer_slower_than_the_read_timeout_is_retried(faulty_registry, image, retries):
    proxy = faulty_registry
    rw.configure(proxy.url, retries=retries, backoff=0.05, timeout=(3, 0.5))
    proxy.add_rule("GET", r"/manifests/", Delay(1.5))

    assert client_for(proxy.host).get_manifest("ns/app", "1.0").digest == image.digest
    assert [e.fault for e in proxy.exchanges("GET", r"/manifests/")] == ["Delay", None]


# -- listing -------------------------------------------------------------------------------------

def test_listing_survives_a_503_burst_on_tag_lists_and_manifest_heads(faulty_registry, retries):
    registry = faulty_registry.registry
    for repo in ("team/a", "team/b", "team/c"):
        for tag in ("1.0", "2.0"):
            push_image(registry, repo, tag, layer_sizes=(1024,), seed=f"{repo}{tag}")
    faulty_registry.add_rule("GET", r"/_catalog", Respond(502))
    faulty_registry.add_rule("GET", r"/tags/list", Respond(503), times=retries)
    faulty_registry.add_rule("GET", r"/manifests/", Respond(503), times=retries)  # cold: GETs

    table = rw.images(faulty_registry.host)

    assert len(table) == 6 and table.attrs["skipped"] == []
    assert sorted(e.status for e in faulty_registry.log if e.fault) == [502, 503, 503, 503, 503]


GARBAGE = {
    "an HTML page": Respond.html(),
    "an HTML error page from a proxy": Respond.html(502),
    "JSON cut short": Respond.json('{"name": "ns/app", "tags": ["1.0", '),
    "JSON that is a list": Respond.json('["1.0"]'),
    "tags that are not a list": Respond.json('{"name": "ns/app", "tags": "1.0"}'),
    "tags that are not strings": Respond.json('{"name": "ns/app", "tags": [1, {"v": 2}]}'),
    "JSON with another content type": Respond.json("<<<>>>", content_type="text/plain"),
}


@pytest.mark.parametrize("answer", GARBAGE.values(), ids=GARBAGE.keys())
def test_a_tag_list_that_is_not_the_registry_api_is_a_protocol_error(faulty_registry, image,
                                                                     answer):
    faulty_registry.add_rule("GET", r"/tags/list", answer, times=None)

    with pytest.raises(ProtocolError) as failure:
        rw.images(faulty_registry.host)
    assert faulty_registry.host in str(failure.value)


MANIFEST_GARBAGE = {
    "an HTML page": Respond.html(),
    "garbage JSON": Respond.json(b'{"schemaVersion": 2, "layers": [{'),
    "a JSON list": Respond.json(b"[]"),
    "an unknown media type": Respond.json(
        json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.example.thing.v1+json"}),
        content_type="application/vnd.example.thing.v1+json"),
    "bytes that do not match the digest": Respond.json(b"{}", content_type=OCI_MANIFEST),
}


@pytest.mark.parametrize("answer", MANIFEST_GARBAGE.values(), ids=MANIFEST_GARBAGE.keys())
def test_a_manifest_that_is_not_one_is_a_protocol_error_and_copies_nothing(
        faulty_registry, registry_b, image, unique_repo, answer):
    faulty_registry.add_rule("GET", r"/manifests/", answer, times=None)

    with pytest.raises(ProtocolError):
        client_for(faulty_registry.host).get_manifest("ns/app", image.digest)
    with pytest.raises(ProtocolError):
        rw.copy(f"{faulty_registry.host}/ns/app:1.0", f"{registry_b.host}/{unique_repo}:1.0")
    assert RawClient(registry_b).request(
        "HEAD", f"/v2/{unique_repo}/manifests/1.0").status_code == 404


def test_unknown_media_type_is_named_in_the_error(faulty_registry, client, image):
    faulty_registry.add_rule("GET", r"/manifests/", MANIFEST_GARBAGE["an unknown media type"])

    with pytest.raises(ProtocolError, match="unsupported manifest media type "
                                            "'application/vnd.example.thing.v1"):
        client.get_manifest("ns/app", "1.0")


def test_a_huge_tag_list_in_one_answer_is_read_in_one_request(faulty_registry, client, image):
    tags = [f"build-{i:06d}" for i in range(100_000)]
    faulty_registry.add_rule("GET", r"/tags/list",
                             Respond.json(json.dumps({"name": "ns/app", "tags": tags})))

    assert list(client.tags("ns/app")) == tags
    assert len(faulty_registry.exchanges("GET", r"/tags/list")) == 1


def test_pagination_that_loops_back_is_a_protocol_error_not_an_endless_listing(faulty_registry,
                                                                               client, image):
    page = json.dumps({"name": "ns/app", "tags": [f"t{i}" for i in range(100)]})
    faulty_registry.add_rule("GET", r"/tags/list", times=None, fault=Respond.json(
        page, Link='</v2/ns/app/tags/list?n=100&last=t99>; rel="next"'))

    with pytest.raises(ProtocolError, match="lead back"):
        list(itertools.islice(client.tags("ns/app"), 10_000))
    assert len(faulty_registry.exchanges("GET", r"/tags/list")) == 2


# -- the log as evidence -------------------------------------------------------------------------

def test_a_dry_run_removal_only_reads(faulty_registry, image):
    rw.remove(f"{faulty_registry.host}/ns/app:1.0", dry_run=True)

    assert faulty_registry.log
    assert {e.method for e in faulty_registry.log} <= {"GET", "HEAD"}
