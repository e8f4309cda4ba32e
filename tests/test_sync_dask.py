"""sync() on a real Dask cluster: a ``dask scheduler`` and two ``dask worker`` processes on
loopback, started here, killed at the end.

The source needs credentials; the workers get them from their own Docker config
(``DOCKER_CONFIG``), as they would on a cluster, never from the task's arguments. The target
is checked with skopeo, and every worker must have copied something.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry_widgets.operations.core import clients
from registry_widgets.operations.mirror.sync import sync
from tests.support.images import push_image

try:  # the dask extra; `make test` installs it
    import distributed
except ImportError:
    distributed = None

DASK = Path(sys.executable).with_name("dask")
START_TIMEOUT = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docker_config_for(registry, folder: Path) -> Path:
    """What `docker login` leaves: ``auths[host].auth``; plus the registry's CA in a
    ``certs.d`` tree, Docker's convention for private CAs."""
    folder.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
    certs = folder / "certs.d" / registry.host
    certs.mkdir(parents=True, exist_ok=True)
    shutil.copy(registry.ca_file, certs / "ca.crt")
    return folder


@pytest.fixture(scope="module", autouse=True)
def _needs_the_dask_extra() -> None:
    # A skip at test time, not at collection: under CI=true it then fails like a missing
    # engine does (tests/support/ci.py), instead of keeping the suite green.
    if distributed is None:
        pytest.skip("needs the dask extra: distributed is not installed "
                    "(pip install -e '.[dask]')")


@pytest.fixture(scope="module")
def cluster(basic_registry, tmp_path_factory) -> Iterator[dict]:
    """A scheduler and two single-threaded worker processes; their Docker config can read
    ``basic_registry``. Yields ``{"address", "docker_config"}``."""
    root = tmp_path_factory.mktemp("dask")
    config = docker_config_for(basic_registry, root / "docker-config")
    env = {**os.environ, "DOCKER_CONFIG": str(config),
           "REGISTRY_WIDGETS_CERTS_D": str(config / "certs.d"),
           "REGISTRY_WIDGETS_STATE": str(root / "worker-state"),
           "XDG_CACHE_HOME": str(root / "cache")}
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []
    logs = []

    def start(*args: str, log: str) -> None:
        handle = open(root / log, "wb")
        logs.append(handle)
        procs.append(subprocess.Popen([str(DASK), *args], env=env, stdout=handle,
                                      stderr=subprocess.STDOUT, cwd=root))

    try:
        start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
              log="scheduler.log")
        for name in ("w1", "w2"):
            start("worker", address, "--name", name, "--nthreads", "1", "--nworkers", "1",
                  "--no-dashboard", "--no-nanny", "--host", "127.0.0.1", log=f"{name}.log")
        with distributed.Client(address, timeout=START_TIMEOUT) as client:
            client.wait_for_workers(2, timeout=START_TIMEOUT)
        yield {"address": address, "docker_config": config}
    finally:
        for proc in procs:
            proc.terminate()
        deadline = time.monotonic() + 15
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for handle in logs:
            handle.close()


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    clients.reset()
    yield
    clients.reset()


def skopeo_digest(host: str, repository: str, tag: str) -> str:
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                          f"docker://{host}/{repository}:{tag}"],
                         check=True, capture_output=True, timeout=60).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def test_sync_on_a_dask_cluster_uses_both_workers_and_their_docker_config(
        cluster, basic_registry, registry_b, monkeypatch):
    # This process (which plans nothing itself, but lists the catalog) reads the same login.
    monkeypatch.setenv("DOCKER_CONFIG", str(cluster["docker_config"]))
    monkeypatch.setenv("REGISTRY_WIDGETS_CERTS_D", str(cluster["docker_config"] / "certs.d"))
    ns, mirror = f"dask-{secrets.token_hex(3)}", f"dask-{secrets.token_hex(3)}"
    pushed = {f"{ns}/app{i}": push_image(basic_registry, f"{ns}/app{i}", "1.0",
                                         layers=[b"shared" * 100, f"app {i}".encode() * 50])
              for i in range(6)}

    with distributed.Client(cluster["address"], timeout=30) as client:
        result = sync(f"{basic_registry.host}/{ns}", f"{registry_b.host}/{mirror}",
                      executor=client.get_executor())

    assert result.details["counts"] == {"copied": 6}
    for repository, image in pushed.items():
        target = mirror + repository[len(ns):]
        assert skopeo_digest(registry_b.host, target, "1.0") == image.digest
    workers = result.details["workers"]
    assert len(workers) == 2, workers  # both worker processes copied repositories
    assert str(os.getpid()) not in {w.rsplit(":", 1)[1] for w in workers}
    journal = Path(os.environ["REGISTRY_WIDGETS_STATE"]) / "journal.jsonl"
    assert basic_registry.password not in journal.read_text()
