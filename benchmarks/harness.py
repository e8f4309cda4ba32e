"""What every scenario needs: the settings, a stopwatch, fresh registries and commands.

Every registry runs on a free port with its own storage under the run's work directory and
is removed afterwards; the package's journal, detail cache and Docker config point into the
work directory too, so a benchmark never touches the user's.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

from registry_widgets.operations.core import clients
from devstack import LocalRegistry, start_registry

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
SCENARIOS = ("copy", "multiarch", "memory", "inventory", "widgets", "retention", "scan",
             "sync", "latency", "vendor", "contents", "airgap")


@dataclass(frozen=True)
class Settings:
    """Sizes and counts of one benchmark run (``full`` or ``quick``)."""

    work_dir: Path
    runs: int = 3
    quick: bool = False
    engine: bool = True  # the docker pull/tag/push path of scenario 1
    browser: bool = True  # scenario 5's rendering in headless Chromium
    copy_layer: int = 256 * MiB  # two of these plus a busybox base: the 512 MiB image
    multiarch_layer: int = 64 * MiB  # per platform, plus the base
    memory_layer: int = 1 * GiB
    repositories: int = 1000
    tags_per_repository: int = 10
    naive_sample: int = 100  # unused since the listing is compared with curl only
    small_repositories: int = 100  # scenario 4 at 1,000 tags as well
    large_tags_per_repository: int = 0  # scenario 4 at repositories x this too (0: not)
    seed_workers: int = 16
    sync_repositories: int = 100  # scenario 8: a namespace of small images
    sync_tags: int = 5
    latency_repositories: int = 100  # scenario 9: a listing over TLS across a slow link
    latency_tags: int = 10
    latency_delay: float = 0.05  # seconds added each way by the proxy
    vendor_repositories: int = 10  # scenario 11: a listing through Harbor's API beside OCI's
    vendor_tags: int = 100
    scenarios: tuple[str, ...] = SCENARIOS

    @classmethod
    def quick_settings(cls, work_dir: Path) -> "Settings":
        """Tiny sizes, one run: checks that the scripts work, measures nothing."""
        return cls(work_dir=work_dir, runs=1, quick=True, copy_layer=1 * MiB,
                   multiarch_layer=256 * KiB, memory_layer=4 * MiB, repositories=20,
                   tags_per_repository=5, naive_sample=0, seed_workers=8,
                   small_repositories=4, sync_repositories=4, sync_tags=2,
                   latency_repositories=4, latency_tags=3, vendor_repositories=2,
                   vendor_tags=10)

    def but(self, **changes: object) -> "Settings":
        return replace(self, **changes)  # type: ignore[arg-type]


def now() -> float:
    return time.perf_counter()


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    def __enter__(self) -> "Stopwatch":
        self._start = now()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = now() - self._start


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """``with CpuMeter(registry_pid) as cpu: ...`` then ``cpu.registry`` and ``cpu.client``
    (this process and its finished children), in CPU seconds."""

    def __init__(self, registry_pid: int | None):
        self.pid = registry_pid

    def _now(self) -> tuple[float, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
        return (process_cpu(self.pid) if self.pid else 0.0), client

    def __enter__(self) -> "CpuMeter":
        self._start = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._now()
        self.registry, self.client = end[0] - self._start[0], end[1] - self._start[1]


def isolate(work_dir: Path) -> None:
    """Point the package's journal, detail cache and Docker config into ``work_dir``."""
    for name, sub in (("REGISTRY_WIDGETS_STATE", "state"), ("XDG_CACHE_HOME", "cache"),
                      ("DOCKER_CONFIG", "docker-config")):
        path = work_dir / sub
        path.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(path)


def fresh_clients() -> None:
    """Forget every pooled registry client: each timed call starts as a new session would."""
    clients.reset()


@contextmanager
def fresh_registry(settings: Settings, name: str,
                   flavour: str = "plain") -> Iterator[LocalRegistry]:
    """A new, empty registry on a free port; stopped and its storage deleted afterwards.
    ``flavour``: devstack's ``plain`` (HTTP, anonymous) or ``basic`` (HTTPS + htpasswd)."""
    state = settings.work_dir / "registries" / f"{name}-{uuid.uuid4().hex[:8]}"
    registry = start_registry(flavour, state_dir=state, name=name)  # type: ignore[arg-type]
    try:
        yield registry
    finally:
        registry.close()
        shutil.rmtree(state, ignore_errors=True)


def run(argv: Sequence[str], *, timeout: float = 600, shell: bool = False,
        env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run a command; its wall time and stdout. Raises with stderr's tail when it fails."""
    start = now()
    done = subprocess.run(argv if not shell else argv[0], shell=shell, capture_output=True,
                          text=True, timeout=timeout, env=env)
    seconds = now() - start
    if done.returncode != 0:
        command = argv[0] if shell else " ".join(argv)
        raise RuntimeError(f"{command[:300]} failed with exit code {done.returncode}: "
                           f"{done.stderr.strip()[-800:]}")
    return seconds, done.stdout


def log(message: str) -> None:
    """Progress of the benchmark itself, on stderr so the table on stdout stays clean."""
    import sys

    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
