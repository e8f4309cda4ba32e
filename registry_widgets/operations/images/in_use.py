"""Which local containers use a registry image: the guide's "remove the containers first".

Where a local Docker engine answers, every remove and retention plan lists the containers
whose image came from that registry digest (the engine records it in the image's
``RepoDigests``, ``registry/repository@sha256:...``), and a digest that a RUNNING container
uses is refused unless ``force=True``. A stopped container is listed but does not block: the
engine keeps its image locally whatever the registry does. Without an engine nothing is
checked and the plan says so (``in_use_checked: False``).

Layer 3: imports ``engine`` and ``reference``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from ...errors import RegistryWidgetsError
from ...reference import parse_reference, registry_identity

if TYPE_CHECKING:  # annotations only: the Docker SDK loads when a plan asks the engine
    from ...engine import Engine

log = logging.getLogger("registry_widgets.in_use")
ENGINE_TIMEOUT = 10  # seconds: a listing, not a pull


@dataclass(frozen=True)
class ContainerUse:
    container: str  # short id
    name: str
    state: str  # "running", "exited", ...
    image: str  # registry/repository@digest

    @property
    def running(self) -> bool:
        return self.state == "running"

    def __str__(self) -> str:
        return f"container {self.name} ({self.container}, {self.state})"


class LocalUse:
    """A snapshot of the engine's containers by the registry digest of their image.
    ``checked`` is False when no engine answered."""

    def __init__(self, by_image: dict[str, list[ContainerUse]] | None = None,
                 checked: bool = True, note: str = ""):
        self.by_image = by_image or {}
        self.checked = checked
        self.note = note

    def of(self, registry: str, repository: str, digests: Iterable[str]) -> list[ContainerUse]:
        found: list[ContainerUse] = []
        # Keyed by identity: a container of localhost:5000/app blocks 127.0.0.1:5000/app.
        identity = registry_identity(registry)
        for digest in digests:
            found += self.by_image.get(f"{identity}/{repository}@{digest}", [])
        return found


def local_use(engine: Engine | None = None) -> LocalUse:
    """The containers of the local engine, keyed ``identity/repository@digest`` (the
    registry's identity: ``reference.registry_identity``)."""
    # Here, not at the top: a copy or a listing imports this module (through the guards)
    # and never asks the engine; the Docker SDK is a few MiB and a fifth of the import time.
    from ...engine import Engine
    try:
        engine = engine or Engine.connect(timeout=ENGINE_TIMEOUT)
        containers = engine.api.containers(all=True)
        by_image: dict[str, list[ContainerUse]] = {}
        repo_digests: dict[str, list[str]] = {}
        for container in containers:
            image_id = container.get("ImageID") or ""
            if image_id not in repo_digests:
                try:
                    repo_digests[image_id] = list(
                        engine.api.inspect_image(image_id).get("RepoDigests") or [])
                except Exception:  # the image went away; the container keeps running
                    repo_digests[image_id] = []
            names = container.get("Names") or [""]
            for entry in repo_digests[image_id]:
                name, _, digest = entry.partition("@")
                try:
                    ref = parse_reference(name)
                except ValueError:
                    continue
                key = f"{registry_identity(ref.registry)}/{ref.repository}@{digest}"
                by_image.setdefault(key, []).append(ContainerUse(
                    str(container.get("Id", ""))[:12], names[0].lstrip("/"),
                    str(container.get("State", "")), f"{ref.name}@{digest}"))
        return LocalUse(by_image)
    except (RegistryWidgetsError, OSError, Exception) as e:  # no engine is not an error here
        log.info("in-use check skipped: %s", e)
        return LocalUse(checked=False, note=f"no local engine answered, so containers were not "
                                            f"checked ({str(e).splitlines()[0][:120]})")
