"""``inspect`` and ``check``: read-only looks at one image or one registry.

Similar to ``skopeo inspect`` (``--raw`` for the manifest) and ``docker login``'s ping.
"""

from __future__ import annotations

import json
from typing import Any

from ...errors import NotFound
from ...reference import Reference, parse_reference
from ...manifest import same_platform
from ..core.arguments import check_platform
from ..core.clients import client_for


def check(registry: str) -> dict[str, Any]:
    """Reach the registry with the configured credentials: ``{registry, url, api_version,
    auth}``. Raises ``Unreachable``/``Unauthorized`` with what to do next."""
    return client_for(registry).ping()


def inspect(ref: str | Reference, *, platform: str | None = None) -> dict[str, Any]:
    """Config, history, layers and the raw manifest of an image.

    For a multi-arch index, ``platform`` (``linux/amd64``) picks a child; by default the
    first one. A platform is normalised as containerd does: ``linux/arm64`` and ``arm64``
    find the index's ``linux/arm64/v8``. The raw manifest of the index itself is in
    ``raw_manifest``.
    """
    if platform is not None:
        platform = check_platform("platform", platform)
    ref = parse_reference(ref)
    client = client_for(ref.registry)
    top = client.get_manifest(ref.repository, ref.reference)
    image = top
    platforms = [c.platform_name for c in top.children]
    if top.is_index:
        children = top.children
        chosen = [c for c in children
                  if platform is None or same_platform(platform, c.platform_name)]
        if not chosen:
            raise NotFound(f"{ref} has no platform {platform!r}; it has {', '.join(platforms)}",
                           registry=ref.registry, reference=str(ref))
        image = client.get_manifest(ref.repository, chosen[0].digest)
    config: dict[str, Any] = {}
    if image.config is not None:
        config = json.loads(client.get_blob(ref.repository, image.config.digest))
    if not platforms:
        platforms = ["/".join(x for x in (config.get("os"), config.get("architecture"),
                                          config.get("variant")) if x) or "unknown"]
    layers = [{"digest": d.digest, "size": d.size, "media_type": d.media_type}
              for d in image.layers]
    return {
        "reference": str(ref),
        "digest": top.digest,
        "media_type": top.media_type,
        "platforms": platforms,
        "size": sum(d.size for d in image.blobs),
        "created": config.get("created"),
        "labels": (config.get("config") or {}).get("Labels") or {},
        "config": config,
        "history": config.get("history") or [],
        "layers": layers,
        "raw_manifest": top.data.decode("utf-8", errors="replace"),
    }
