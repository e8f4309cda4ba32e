"""Where a local registry keeps its things: its config, pid file, log and storage folder.

``make lab``'s registry is found through ``scripts/services``' state (``services.json`` under
``$REGISTRY_WIDGETS_SERVICES``); any other local registry through its distribution config
file. Garbage collection (``gc``) and ``prune`` read the storage folder: the blob files (what
GC can free) and the manifest revisions of a repository (what the API cannot list).

Imports ``errors``, ``paths`` and ``reference``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ... import paths
from ...errors import InvalidArgument, NotFound
from ...reference import validate_registry

_REVISION = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class EmbeddedRegistry:
    host: str
    config_file: Path
    pid_file: Path
    log_file: Path
    storage: Path


def _from_config(config_file: Path, host: str | None = None) -> EmbeddedRegistry:
    config_file = Path(config_file).resolve()
    try:
        config = yaml.safe_load(config_file.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise NotFound(f"cannot read the registry config {config_file}: {e}; nothing was done",
                       reference=str(config_file)) from None
    storage = ((config or {}).get("storage") or {}).get("filesystem", {}).get("rootdirectory")
    if not storage:
        raise InvalidArgument(f"{config_file} has no filesystem storage; collect_garbage() only "
                              "runs on a local filesystem registry. Nothing was done",
                              reference=str(config_file))
    addr = ((config.get("http") or {}).get("addr")) or ""
    return EmbeddedRegistry(host or addr, config_file, config_file.parent / "registry.pid",
                            config_file.parent / "registry.log", Path(storage))


def embedded_registry(registry: str) -> EmbeddedRegistry | None:
    """The registry ``scripts/services up`` runs at ``registry`` (host:port), if any."""
    host = validate_registry(registry).rpartition("://")[2]
    try:
        state = json.loads((paths.services_dir() / "services.json").read_text())
    except (OSError, ValueError):
        return None
    for entry in (state.get("registries") or {}).values():
        if entry.get("host") == host and entry.get("config_file"):
            return _from_config(Path(entry["config_file"]), host)
    return None


def blob_bytes(storage: Path) -> int:
    """Bytes of every blob file under the registry's storage (what GC can free)."""
    root = storage / "docker" / "registry" / "v2" / "blobs"
    return sum(p.stat().st_size for p in root.rglob("data") if p.is_file()) if root.exists() else 0


def _blob_size(storage: Path, digest: str) -> int:
    algorithm, _, hex_ = digest.partition(":")
    path = storage / "docker" / "registry" / "v2" / "blobs" / algorithm / hex_[:2] / hex_ / "data"
    return path.stat().st_size if path.exists() else 0


def stored_revisions(storage: Path, repository: str) -> list[str]:
    """The manifest digests distribution keeps for ``repository`` (its revision links; a
    deleted manifest loses its link at once, its folder only at the next GC)."""
    folder = (storage / "docker" / "registry" / "v2" / "repositories" / repository /
              "_manifests" / "revisions" / "sha256")
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(f"sha256:{n}" for n in names
                  if _REVISION.match(n) and (folder / n / "link").is_file())
