"""copy() when the network breaks, the registry pushes back, or the copying process dies.

A ``FaultProxy`` sits in front of the source (for download faults) or the target (for upload
faults); its log shows what went over the wire. What a copy promises:

* a download broken mid-blob resumes with ``Range``: the bytes fetched are about the blob's
  size, not twice it;
* an upload broken, rate limited, refused for an expired token or answered 503 restarts that
  blob only (a streamed body cannot be replayed; no copy tool resumes an upload);
* the target tag moves last, so a copy killed with ``kill -9`` leaves the tag untouched, and a
  rerun uploads only the blobs the target registry does not have: the registry, asked with one
  HEAD per blob, is the journal;
* two copies racing to the same target both end with the tag on the source digest and every
  blob present.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict

import pytest

import registry_widgets as rw
from registry_widgets.errors import RegistryError
from registry_widgets.registry import READ_SIZE
from tests.support import RawClient, get_manifest, push_image
from tests.support.faultproxy import Drop, DropUpload, ExpireToken, Hold, Respond, Throttle

pytest_plugins = ["faults_fixtures"]

_PUT_DIGEST = re.compile(r"[?&]digest=(sha256(?::|%3A)[0-9a-f]{64})")


def blobs_of(image) -> list:
    return [image.config, *image.layers]


def blob_puts(proxy) -> dict[str, list[int]]:
    """digest -> request-body bytes the proxy passed on, one entry per blob PUT."""
    puts: dict[str, list[int]] = defaultdict(list)
    for exchange in proxy.exchanges("PUT", r"/blobs/uploads/"):
        match = _PUT_DIGEST.search(exchange.path)
        if match:
            puts[match.group(1).replace("%3A", ":")].append(exchange.bytes_in)
    return dict(puts)


def finished_blob_puts(proxy) -> list[str]:
    return [_PUT_DIGEST.search(e.path).group(1) for e in proxy.exchanges("PUT", r"digest=")
            if e.status == 201]


def assert_complete_copy(registry, repository: str, tag: str, image) -> None:
    """The target tag resolves to the source digest and every blob is there, full size."""
    raw = RawClient(registry)
    assert get_manifest(registry, repository, tag).digest == image.digest
    for blob in blobs_of(image):
        head = raw.request("HEAD", f"/v2/{repository}/blobs/{blob.digest}")
        assert (head.status_code, int(head.headers["Content-Length"])) == (200, blob.size)


def wait_until(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


# -- broken transfers ----------------------------------------------------------------------------

def test_a_download_broken_mid_blob_resumes_with_range(faulty_registry, registry_b, unique_repo):
    image = push_image(faulty_registry.registry, "src/app", "1.0",
                       layer_sizes=(4_000_000, 500_000), seed="resume")
    big = image.layers[0]
    faulty_registry.add_rule("GET", big.digest, Drop(after=2_500_000))

    result = rw.copy(f"{faulty_registry.host}/src/app:1.0", f"{registry_b.host}/{unique_repo}:1.0")

    assert result.digest == image.digest
    first, resumed = faulty_registry.exchanges("GET", big.digest)
    assert first.range is None and resumed.range.startswith("bytes=") and resumed.status == 206
    fetched = first.bytes_out + resumed.bytes_out
    assert big.size <= fetched <= big.size + READ_SIZE  # not twice the blob
    assert_complete_copy(registry_b, unique_repo, "1.0", image)


def test_an_upload_broken_mid_blob_restarts_that_blob_only(registry, faulty_registry, unique_repo):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(3_000_000, 1_000_000, 500_000),
                       seed="upload-break")
    big = image.layers[0]
    faulty_registry.add_rule("PUT", big.digest, DropUpload(after=1_000_000))

    result = rw.copy(image.reference, f"{faulty_registry.host}/{unique_repo}:1.0")

    assert result.digest == image.digest
    puts = blob_puts(faulty_registry)
    assert puts.pop(big.digest) == [1_000_000, big.size]
    assert puts == {blob.digest: [blob.size] for blob in blobs_of(image) if blob is not big}
    assert_complete_copy(faulty_registry.registry, unique_repo, "1.0", image)


def test_a_rate_limited_upload_restarts_that_blob_after_retry_after(registry, faulty_registry,
                                                                    unique_repo):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(2_000_000, 10_000), seed="429")
    big = image.layers[0]
    faulty_registry.add_rule("PUT", big.digest, Respond(429, headers={"Retry-After": "1"}))

    result = rw.copy(image.reference, f"{faulty_registry.host}/{unique_repo}:1.0")

    assert result.digest == image.digest
    limited, accepted = faulty_registry.exchanges("PUT", big.digest)
    assert (limited.status, accepted.status) == (429, 201)
    assert accepted.started - limited.finished >= 0.95
    assert_complete_copy(faulty_registry.registry, unique_repo, "1.0", image)


def test_an_upload_answered_503_every_time_fails_clearly_and_leaves_the_tag_alone(
        registry, faulty_registry, unique_repo):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(200_000,), seed="503")
    big = image.layers[0]
    faulty_registry.add_rule("PUT", big.digest, Respond(503), times=None)

    with pytest.raises(RegistryError) as failure:
        rw.copy(image.reference, f"{faulty_registry.host}/{unique_repo}:1.0")

    assert failure.value.status == 503 and "try again later" in str(failure.value)
    assert len(faulty_registry.exchanges("PUT", big.digest)) == 3  # copy's BLOB_ATTEMPTS
    assert faulty_registry.exchanges("PUT", r"/manifests/") == []


def test_a_token_expiring_during_an_upload_restarts_that_blob_with_a_fresh_token(
        registry, token_registry, fault_proxy, unique_repo):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(1_500_000, 10_000),
                       seed="expiry")
    big = image.layers[0]
    proxy = fault_proxy(token_registry,
                        credentials=(token_registry.username, token_registry.password))
    proxy.add_rule("PUT", big.digest, ExpireToken())

    result = rw.copy(image.reference, f"{proxy.host}/{unique_repo}:1.0")

    assert result.digest == image.digest
    refused, accepted = proxy.exchanges("PUT", big.digest)
    assert (refused.status, accepted.status) == (401, 201)
    # The refused token was dropped: the restart fetched and sent another one.
    assert refused.headers["authorization"] != accepted.headers["authorization"]
    assert_complete_copy(token_registry, unique_repo, "1.0", image)


# -- interrupted and concurrent copies -----------------------------------------------------------

def _copy_in_subprocess(source: str, target: str) -> subprocess.Popen:
    script = ("import json, registry_widgets as rw; "
              f"print(json.dumps({{'digest': rw.copy({source!r}, {target!r}).digest}}))")
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())


def test_a_rerun_after_kill_9_uploads_only_the_missing_blobs(registry, faulty_registry,
                                                             unique_repo):
    image = push_image(registry, unique_repo, "1.0",
                       layer_sizes=(4_000_000, 300_000, 200_000, 100_000), seed="kill")
    big = image.layers[0]
    small = [blob.digest for blob in blobs_of(image) if blob is not big]
    target = f"{faulty_registry.host}/{unique_repo}:1.0"
    # The big blob crawls, so the process dies with it half sent and the others done.
    faulty_registry.add_rule("PUT", big.digest, Throttle(bytes_per_second=400_000, upload=True))

    child = _copy_in_subprocess(image.reference, target)
    try:
        def small_done_big_half_sent() -> bool:
            big_put = faulty_registry.exchanges("PUT", big.digest)
            return sorted(finished_blob_puts(faulty_registry)) == sorted(small) and \
                bool(big_put) and big_put[0].bytes_in > 0
        wait_until(small_done_big_half_sent, timeout=15, what="the small blobs to be uploaded")
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL

    raw = RawClient(faulty_registry.registry)
    assert raw.request("HEAD", f"/v2/{unique_repo}/manifests/1.0").status_code == 404
    assert raw.request("HEAD", f"/v2/{unique_repo}/blobs/{big.digest}").status_code == 404

    faulty_registry.clear()
    result = rw.copy(image.reference, target)

    total = sum(blob.size for blob in blobs_of(image))
    assert result.details["blobs"] == {"copied": 1, "skipped": 4, "mounted": 0}
    assert blob_puts(faulty_registry) == {big.digest: [big.size]}
    assert result.bytes_moved == big.size < total
    assert len(faulty_registry.exchanges("HEAD", r"/blobs/")) == 5  # the registry is the journal
    assert_complete_copy(faulty_registry.registry, unique_repo, "1.0", image)


def test_two_concurrent_copies_to_one_target_end_consistent(registry, faulty_registry,
                                                            unique_repo):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(1_000_000, 500_000, 200_000),
                       seed="race")
    big = image.layers[0]
    # Every blob upload waits until both copies are uploading the big blob: a true race.
    both_uploading = threading.Event()
    faulty_registry.add_rule("PUT", r"/blobs/uploads/", Hold(both_uploading), times=None)
    target = f"{faulty_registry.host}/{unique_repo}:1.0"

    children = [_copy_in_subprocess(image.reference, target) for _ in range(2)]
    try:
        wait_until(lambda: len(faulty_registry.exchanges("PUT", big.digest)) == 2, timeout=15,
                   what="both copies to upload the big blob")
    finally:
        both_uploading.set()
    outcomes = [child.communicate(timeout=30) for child in children]

    succeeded = [json.loads(out)["digest"] for (out, _), child in zip(outcomes, children)
                 if child.returncode == 0]
    failed = [err for (_, err), child in zip(outcomes, children) if child.returncode != 0]
    assert succeeded and all(digest == image.digest for digest in succeeded)
    assert all("registry_widgets.errors" in err for err in failed), failed  # cleanly, if at all
    assert blob_puts(faulty_registry)[big.digest] == [big.size, big.size]
    assert_complete_copy(faulty_registry.registry, unique_repo, "1.0", image)
