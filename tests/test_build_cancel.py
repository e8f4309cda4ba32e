"""Build's Cancel stops a running build or push (issue 25): the cancel used to be raised
inside a progress callback, which ``progress.emit`` swallows by design, so nothing stopped.
Now the engine's stream is shut from a watcher thread when Cancel is pressed.

The real Docker engine builds a Dockerfile whose RUN step waits five minutes, and pushes a
4 MB layer through a throttling proxy in front of a real registry; each is cancelled once it
has visibly started. The panel must come back (a bounded wait, far shorter than the work)
with a neutral "cancelled", and nothing may have been made: no image for the build, no tag
on the registry for the push (read with the raw-HTTP oracle).
"""

from __future__ import annotations

import threading

import docker.errors
import pytest

from registry_widgets.engine import Engine
from registry_widgets.errors import Cancelled
from registry_widgets.operations.core import clients
from registry_widgets.widgets import BuildPanel
from tests.support.faultproxy import FaultProxy, Throttle
from tests.support.oracle import RawClient

# Far longer than a cancel takes, far shorter than the work cancelled: waiting longer
# than this means Cancel did not stop it.
BOUND = 60


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def started(seen: threading.Event, what):
    """A progress callback that sets ``seen`` once ``what(event)`` holds."""
    def callback(event) -> None:
        if what(event):
            seen.set()
    return callback


def test_cancel_stops_a_build_whose_step_is_quiet(base_image, docker_client, local_names,
                                                  tmp_path):
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_image}\nRUN echo step-started && sleep 300\n")
    panel = BuildPanel("127.0.0.1:5999", "team")
    panel.context_dir.value = str(tmp_path)
    panel.image_name.value = "never-built:1"
    panel.test_run.value = False
    ref = panel.reference()
    local_names.append(ref)
    seen = threading.Event()
    panel.progress.update = _also(panel.progress.update, started(
        seen, lambda e: "step-started" in (e.message or "")))

    panel.build_button.click()
    assert seen.wait(BOUND), "the build never started its RUN step"
    panel.cancel_action_button.click()
    with pytest.raises(Cancelled):
        panel.wait(timeout=BOUND)  # a TimeoutError here: Cancel did not stop the build

    assert panel.message.kind == "cancelled" and "cancel" in panel.message.text
    assert panel.progress.label.value == "cancelled"
    assert not panel.busy and not panel.build_button.disabled
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(ref)


def test_cancel_stops_a_push_midway_and_moves_no_tag(registry, base_image, docker_client,
                                                     local_names, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        f"FROM {base_image}\nRUN head -c 4000000 /dev/urandom > /blob\n")
    with FaultProxy.in_front_of(registry) as slow:
        # 50 kB/s: the 4 MB layer would take over a minute
        slow.add_rule("PATCH", r"/blobs/uploads/", Throttle(50_000, upload=True), times=None)
        slow.add_rule("PUT", r"/blobs/uploads/", Throttle(50_000, upload=True), times=None)
        panel = BuildPanel(slow.host, "cancel-push")
        panel.context_dir.value = str(tmp_path)
        panel.image_name.value = "big:1"
        panel.test_run.value = False
        ref = panel.reference()
        local_names.append(ref)
        panel.build_button.click()
        panel.wait(timeout=BOUND * 2)
        seen = threading.Event()
        panel.progress.update = _also(panel.progress.update, started(
            seen, lambda e: e.status == "Pushing" and e.current > 0))

        panel.push_button.click()
        assert seen.wait(BOUND), "the push never started uploading"
        panel.cancel_action_button.click()
        with pytest.raises(Cancelled):
            panel.wait(timeout=BOUND)  # a TimeoutError here: Cancel did not stop the push

    assert panel.message.kind == "cancelled"
    assert not panel.busy and not panel.push_button.disabled
    listed = RawClient(registry).request("GET", "/v2/cancel-push/big/tags/list",
                                         scope="repository:cancel-push/big:pull")
    assert listed.status_code == 404 or not listed.json().get("tags"), listed.text


def test_the_engine_verbs_take_cancel_and_refuse_a_cancelled_start(engine: Engine, base_image,
                                                                   tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\n")
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled, match="before it started"):
        engine.build(tmp_path, "127.0.0.1:5999/team/never:1", cancel=stop)


def _also(first, second):
    def both(event) -> None:
        first(event)
        second(event)
    return both
