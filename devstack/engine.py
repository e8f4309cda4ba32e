"""A Docker engine for tests and demos, started on demand, plus a base image made offline.

``ensure_engine`` reuses any engine that answers; otherwise (as root, with ``dockerd``
installed) it starts one that needs no network setup: no iptables, no bridge, vfs storage (works
on any filesystem, including overlay-on-overlay). Containers on it need ``network_mode="none"``.
The engine is machine-wide and slow to start, so it outlives the caller; ``stop_engine`` stops
it only if this module's pid file says we started it.

``ensure_base_image`` imports a busybox rootfs (``rootfs.py``) because nothing may be pulled.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path

import docker
import docker.errors

from . import _process
from .rootfs import rootfs_tar

SOCKET = "/var/run/docker.sock"
BASE_IMAGE = "registry-widgets/busybox:latest"
_START_TIMEOUT = 60.0
# One lock for the whole machine: concurrent test sessions must not race two dockerds onto
# the same socket.
_LOCK_FILE = "/run/lock/registry-widgets-engine.lock"


class EngineUnavailable(RuntimeError):
    """No engine answers and none can be started here."""


def _ping(client: docker.DockerClient) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def _client(base_url: str | None = None) -> docker.DockerClient | None:
    try:
        client = docker.DockerClient(base_url=base_url) if base_url else docker.from_env()
    except docker.errors.DockerException:
        return None
    if _ping(client):
        return client
    client.close()
    return None


def _dockerd_argv(state: Path) -> list[str]:
    return ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none",
            "--storage-driver=vfs", f"--data-root={state / 'docker'}",
            f"--exec-root={state / 'docker-exec'}", f"--pidfile={state / 'dockerd.pid'}",
            "-H", f"unix://{SOCKET}"]


def ensure_engine(state_dir: Path | str) -> docker.DockerClient:
    """A client for a Docker engine that answers, starting ``dockerd`` if needed.

    Similar to ``systemctl start docker`` for a machine without systemd. Raises
    ``EngineUnavailable`` with what to do when no engine can run.
    """
    client = _client() or _client(f"unix://{SOCKET}")
    if client:
        return client
    if os.geteuid() != 0:
        raise EngineUnavailable("No Docker engine answers and starting dockerd needs root. Start "
                                "one (sudo dockerd, or systemctl start docker) or set DOCKER_HOST.")
    if not shutil.which("dockerd"):
        raise EngineUnavailable("No Docker engine answers and dockerd is not installed "
                                "(apt-get install docker.io).")
    state = Path(state_dir).resolve() / "engine"
    state.mkdir(parents=True, exist_ok=True)
    Path(_LOCK_FILE).parent.mkdir(parents=True, exist_ok=True)
    with open(_LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Someone may have started one while we waited for the lock.
        client = _client(f"unix://{SOCKET}")
        if client:
            return client
        log_file = state / "dockerd.log"
        proc = _process.spawn(_dockerd_argv(state), log_file=log_file, detach=True)
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            client = _client(f"unix://{SOCKET}")
            if client:
                return client
            if proc.poll() is not None:
                break
            time.sleep(0.25)
        if proc.poll() is None:
            _process.terminate(proc.pid, timeout=10, popen=proc)
        raise EngineUnavailable(f"dockerd did not answer within {_START_TIMEOUT:.0f} s."
                                f"{_process.log_tail(log_file)}")


def engine_pid(state_dir: Path | str) -> int | None:
    """The pid of the dockerd we started with this state dir, if it still runs."""
    state = Path(state_dir).resolve() / "engine"
    return _process.read_pid(state / "dockerd.pid", must_contain=f"--data-root={state / 'docker'}")


def stop_engine(state_dir: Path | str, *, timeout: float = 30.0) -> bool:
    """Stop the engine started by ``ensure_engine(state_dir)``; True if one was stopped.

    An engine someone else started (systemd, another state dir) is never touched.
    """
    pid = engine_pid(state_dir)
    if pid is None:
        return False
    _process.terminate(pid, timeout=timeout)
    return True


def ensure_base_image(client: docker.DockerClient, ref: str = BASE_IMAGE) -> str:
    """Make sure *ref* exists in the engine: a busybox image imported from a local rootfs tar.

    Similar to ``docker import rootfs.tar REF``. Idempotent; returns *ref*.
    """
    try:
        client.images.get(ref)
        return ref
    except docker.errors.ImageNotFound:
        pass
    repository, _, tag = ref.rpartition(":")
    if "/" in tag or not repository:  # "host:port/repo" without a tag
        repository, tag = ref, "latest"
    with tempfile.NamedTemporaryFile(suffix=".tar") as f:
        f.write(rootfs_tar())
        f.flush()
        # docker-py: import_image(src=path|file|bytes, repository, tag, image, changes); a str
        # src that is a file is streamed as the tar (docker/api/image.py).
        client.api.import_image(src=f.name, repository=repository, tag=tag,
                                changes=['CMD ["/bin/sh"]'])
    client.images.get(ref)  # raises if the import silently did nothing
    return ref
