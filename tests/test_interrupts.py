"""Stopping a copy or a listing: Ctrl-C (a kernel interrupt) and the ``cancel`` event.

What is promised: every worker stops within about a second, the target tag of an interrupted
copy is never moved (checked with the raw oracle, not the package), the error says a rerun
completes it, and the rerun does. A ``FaultProxy`` throttles the upload so that the copy is
still sending when it is stopped, and its log shows the upload was cut short.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import registry_widgets as rw
from registry_widgets.errors import Cancelled
from tests.support import RawClient, get_manifest, push_image
from tests.support.faultproxy import Hold, Throttle

pytest_plugins = ["faults_fixtures"]

BIG = 3_000_000
RATE = 100_000  # bytes per second: the big upload would take 30 s


def wait_until(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def seconds_until(condition) -> float:
    """Wait, with no upper bound, until ``condition()`` holds; how long it took is a figure
    to record, not to assert (a hang is ended by the suite's timeout)."""
    start = time.monotonic()
    while not condition():
        time.sleep(0.02)
    return time.monotonic() - start


def _tag_digest(registry, repository: str, tag: str) -> str:
    return get_manifest(registry, repository, tag).digest


@pytest.fixture
def throttled_copy(registry, faulty_registry, unique_repo):
    """(source image, old image already at the target tag, target reference, proxy), with
    the upload of the source's big layer throttled to ``RATE``."""
    old = push_image(faulty_registry.registry, unique_repo, "1.0", layer_sizes=(1000,), seed="old")
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(BIG, 2000), seed="interrupt")
    faulty_registry.add_rule("PUT", image.layers[0].digest,
                             Throttle(bytes_per_second=RATE, upload=True), times=None)
    target = f"{faulty_registry.host}/{unique_repo}:1.0"
    return image, old, target, faulty_registry


def _big_upload_started(proxy, image) -> bool:
    puts = proxy.exchanges("PUT", image.layers[0].digest)
    return bool(puts) and puts[0].bytes_in > 0


def test_ctrl_c_stops_a_copy_at_once_and_leaves_the_target_tag(throttled_copy, unique_repo,
                                                               record_property):
    image, old, target, proxy = throttled_copy
    script = f"import registry_widgets as rw; rw.copy({image.reference!r}, {target!r})"
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        wait_until(lambda: _big_upload_started(proxy, image), timeout=30,
                   what="the throttled upload to start")
        interrupted = time.monotonic()
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
        returned = time.monotonic() - interrupted
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode != 0
    assert "KeyboardInterrupt" in err
    assert "was not moved" in err and "Run the same copy again" in err, err
    # How fast it returned is a figure, not an assertion (the suite has no upper-bound timing
    # checks); what is asserted is that the upload was cut short: it needed 30 s at RATE.
    record_property("seconds_to_return_after_sigint", round(returned, 3))
    assert proxy.exchanges("PUT", image.layers[0].digest)[0].bytes_in < BIG
    assert _tag_digest(proxy.registry, unique_repo, "1.0") == old.digest

    proxy.clear()
    assert rw.copy(image.reference, target).digest == image.digest
    assert _tag_digest(proxy.registry, unique_repo, "1.0") == image.digest


def test_a_cancel_event_set_from_another_thread_stops_the_copy(throttled_copy, unique_repo,
                                                              record_property):
    image, old, target, proxy = throttled_copy
    cancel = threading.Event()
    set_at: list[float] = []

    def press_cancel() -> None:
        wait_until(lambda: _big_upload_started(proxy, image), timeout=30,
                   what="the throttled upload to start")
        set_at.append(time.monotonic())
        cancel.set()

    button = threading.Thread(target=press_cancel)
    button.start()
    before = set(threading.enumerate())
    with pytest.raises(Cancelled) as caught:
        rw.copy(image.reference, target, cancel=cancel)
    stopped_after = time.monotonic() - set_at[0]
    button.join()

    message = str(caught.value)
    assert "was cancelled" in message and "was not moved" in message
    assert "Run the same copy again" in message
    assert caught.value.reference == str(rw.parse_reference(target))
    record_property("seconds_to_return_after_cancel", round(stopped_after, 3))
    # No worker goes on uploading after the call returned (what the proxy still reads
    # after this is the kernel's socket buffer draining, not a sender).
    def workers_gone() -> bool:
        return not [t for t in set(threading.enumerate()) - before if t.name.startswith("copy")]
    record_property("seconds_until_workers_end", round(seconds_until(workers_gone), 3))
    # The behaviour: once they have ended, the big upload stayed cut short (it needed 30 s at
    # RATE); a worker that carried on would have sent all of it.
    assert proxy.exchanges("PUT", image.layers[0].digest)[0].bytes_in < BIG
    assert _tag_digest(proxy.registry, unique_repo, "1.0") == old.digest
    assert RawClient(proxy.registry).request(
        "HEAD", f"/v2/{unique_repo}/blobs/{image.layers[0].digest}").status_code == 404


def test_a_cancel_event_stops_a_listing(registry, faulty_registry, unique_repo,
                                        record_property):
    for tag in ("1", "2", "3"):
        push_image(faulty_registry.registry, unique_repo, tag, layer_sizes=(100,), seed=tag)
    held = threading.Event()
    faulty_registry.add_rule("GET", r"/manifests/", Hold(held, timeout=20), times=None)
    cancel = threading.Event()

    def press_cancel() -> None:
        wait_until(lambda: faulty_registry.exchanges("GET", r"/manifests/"), timeout=20,
                   what="the listing to ask for a manifest")
        cancel.set()

    button = threading.Thread(target=press_cancel)
    before = set(threading.enumerate())
    button.start()
    try:
        with pytest.raises(Cancelled, match="listing .* was cancelled; it changed nothing"):
            rw.images(faulty_registry.host, cancel=cancel)
        # The manifest GETs (sent on the small-request path) were cut, not waited for: the
        # workers end while the registry still holds every answer.
        def workers_gone() -> bool:
            return not [t for t in set(threading.enumerate()) - before
                        if t.name.startswith("images")]
        record_property("seconds_until_workers_end", round(seconds_until(workers_gone), 3))
        assert not held.is_set()
        # Every manifest GET is still held (unanswered) by the time the workers are gone.
        asked = faulty_registry.exchanges("GET", r"/manifests/")
        assert asked and all(e.status is None for e in asked), [e.status for e in asked]
    finally:
        held.set()
        button.join()


def test_a_cancel_that_is_not_an_event_is_refused_before_any_request(faulty_registry):
    with pytest.raises(TypeError, match="cancel must be a threading.Event"):
        rw.copy(f"{faulty_registry.host}/a/b:1", f"{faulty_registry.host}/a/c:1", cancel=True)
    assert faulty_registry.log == []
