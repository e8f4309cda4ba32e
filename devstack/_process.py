"""Process and port plumbing shared by the stack's services (stdlib and ``requests`` only)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence


def free_port() -> int:
    """A port the kernel considers free on 127.0.0.1 right now.

    There is a window before the service binds it; callers that picked the port themselves retry
    on "address already in use" (other test sessions run on this machine concurrently).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(argv: Sequence[str], *, log_file: Path, detach: bool, env: dict | None = None
          ) -> subprocess.Popen:
    """Start *argv* with output appended to *log_file*.

    ``detach`` puts the child in its own session so it outlives the command that started it (and
    a Ctrl-C in that terminal); test fixtures keep children in their group so an interrupted
    pytest takes them down.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=detach, env=env)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited child not yet reaped) still answers kill(0).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def read_pid(pid_file: Path, *, must_contain: str) -> int | None:
    """The pid in *pid_file* if that process lives and its command line has *must_contain*.

    The check guards against pid reuse: a stale file must never make us signal a stranger.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if pid_alive(pid) and must_contain in cmdline(pid):
        return pid
    return None


def terminate(pid: int, *, timeout: float = 10.0, popen: subprocess.Popen | None = None) -> None:
    """SIGTERM, wait up to *timeout*, then SIGKILL."""
    if popen is not None and popen.poll() is not None:
        return  # already reaped: the pid may belong to someone else by now
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen is not None and popen.poll() is not None:
            return
        if popen is None and not pid_alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if popen is not None:
        popen.wait(timeout=5)


def wait_until(ready: Callable[[], bool], *, timeout: float, alive: Callable[[], bool],
               what: str, log_file: Path | None = None) -> None:
    """Poll *ready* until true; fail early when *alive* turns false, with the log's tail."""
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return
        if not alive():
            raise RuntimeError(f"{what} exited during startup.{log_tail(log_file)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not become ready within {timeout:.0f} s.{log_tail(log_file)}")
        time.sleep(0.05)


def log_tail(log_file: Path | None, lines: int = 15) -> str:
    if log_file is None or not log_file.exists():
        return ""
    tail = log_file.read_text(errors="replace").splitlines()[-lines:]
    return f"\nLast lines of {log_file}:\n" + "\n".join(tail)
