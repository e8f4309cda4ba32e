"""``inspect``, ``describe``, ``current_digest`` and ``check``: read-only looks at one image
or one registry.

Similar to ``skopeo inspect`` (``--raw`` for the manifest) and ``docker login``'s ping.
``describe`` is what the dashboard's detail view shows: every platform of an index, and the
image's accessories (``accessories``).
"""

from __future__ import annotations

import json
from typing import Any

from ...errors import NotFound
from ...reference import Reference, parse_reference
from ...manifest import same_platform
from ..core.arguments import check_platform
from ..core.clients import client_for
from .accessories import find, has_referrers_api, subjects


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


def current_digest(ref: str | Reference) -> str | None:
    """The digest ``ref``'s tag points at in its registry now, or None when the tag does
    not exist (one HEAD): what a push over it would replace."""
    ref = parse_reference(ref)
    head = client_for(ref.registry).head_manifest(ref.repository, ref.reference)
    return head.digest if head is not None else None


def _platform_config(client: Any, ref: Reference, manifest: Any) -> dict[str, Any]:
    """One image manifest's platform, config, history and layers (``describe``'s parts)."""
    config: dict[str, Any] = {}
    if manifest.config is not None and manifest.config.media_type.endswith("json"):
        try:
            config = json.loads(client.get_blob(ref.repository, manifest.config.digest))
        except ValueError:  # an artifact's config need not be JSON: shown without one
            config = {}
    platform = "/".join(x for x in (config.get("os"), config.get("architecture"),
                                    config.get("variant")) if x) or "unknown"
    return {"platform": platform, "digest": manifest.digest,
            "media_type": manifest.media_type, "created": config.get("created"),
            "config": config, "run": config.get("config") or {},
            "history": config.get("history") or [],
            "layers": [{"digest": d.digest, "size": d.size, "media_type": d.media_type}
                       for d in manifest.layers],
            "size": sum(d.size for d in manifest.blobs)}


def describe(ref: str | Reference) -> dict[str, Any]:
    """Everything the registry says about one image, for a detail view: ``platforms`` (each
    child of a multi-arch index with its config, history and layers; one entry for a plain
    image), ``accessories`` (signatures, attestations and SBOMs by tag, and referrers where
    the registry has the referrers API) and the ``manifest`` pretty-printed.

    Similar to ``skopeo inspect --raw`` followed by ``skopeo inspect`` of every platform.
    """
    ref = parse_reference(ref)
    client = client_for(ref.registry)
    top = client.get_manifest(ref.repository, ref.reference)
    platforms = []
    if top.is_index:
        for child in top.children:
            entry = _platform_config(client, ref,
                                     client.get_manifest(ref.repository, child.digest))
            # The index's own platform is what clients choose by (buildx attestations are
            # "unknown/unknown" there): it wins over the config's.
            if child.platform:
                entry["platform"] = child.platform_name
            platforms.append(entry)
    else:
        platforms.append(_platform_config(client, ref, top))
    found = [{"kind": a.kind, "reference": a.reference, "subject": a.subject}
             for a in find(client, ref.repository, top)]
    referrers_api = has_referrers_api(client, ref.repository, top.digest)
    if referrers_api:
        for subject in subjects(top):
            for descriptor in client.referrers(ref.repository, subject) or []:
                found.append({"kind": "referrer", "reference": descriptor.digest,
                              "subject": subject,
                              "artifact_type": descriptor.annotations.get(
                                  "org.opencontainers.image.title", descriptor.media_type)})
    try:
        manifest = json.dumps(json.loads(top.data), indent=2, sort_keys=False)
    except ValueError:
        manifest = top.data.decode("utf-8", errors="replace")
    labels: dict[str, str] = {}
    for entry in platforms:
        labels.update(entry["run"].get("Labels") or {})
    return {"reference": str(ref), "digest": top.digest, "media_type": top.media_type,
            "is_index": top.is_index, "platforms": platforms, "labels": labels,
            "accessories": found, "referrers_api": referrers_api, "manifest": manifest}
