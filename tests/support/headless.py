"""Helpers for the headless tests: run the real CLI, and read a registry's tags and digests
with the oracle (raw HTTP) to show a run changed nothing it was not told to change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .oracle import get_manifest, list_repositories, list_tags

if TYPE_CHECKING:
    from devstack import LocalRegistry


def state(registry: "LocalRegistry", *repositories: str) -> dict[str, dict[str, str]]:
    """{repository: {tag: digest}} as the registry serves it."""
    present = set(list_repositories(registry))
    out: dict[str, dict[str, str]] = {}
    for repo in repositories:
        tags = list_tags(registry, repo) if repo in present else []
        out[repo] = {t: get_manifest(registry, repo, t).digest for t in sorted(tags)}
    return out


def cli(cwd: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """``python -m registry_widgets ARGS`` in ``cwd``, with this process's environment."""
    return subprocess.run([sys.executable, "-m", "registry_widgets", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, env=dict(os.environ))
