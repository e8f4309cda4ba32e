"""Run Python snippets in several processes that start their work at the same moment.

Each snippet prints ``ready`` once set up and then reads a line from stdin before it works:
all are released together, so their writes really overlap (what a lost-update test needs).
Imports only the standard library.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Sequence

TIMEOUT = 300.0  # s: a guard against a hung process, not a performance bound


def run_together(code: str, argvs: Sequence[Sequence[str]]) -> None:
    """Run ``python -c code *argv`` for each argv at once; each must exit 0."""
    procs = [subprocess.Popen([sys.executable, "-c", code, *argv], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              env=os.environ.copy()) for argv in argvs]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            assert proc.wait(timeout=TIMEOUT) == 0, f"{proc.args[3:]} exited {proc.returncode}"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
