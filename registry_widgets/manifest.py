"""Manifests and descriptors: media types, digests and what a manifest points at.

Pure (no network), layer 1 beside ``reference``: imports only ``errors``. A manifest is kept
as the exact bytes the registry served, because re-serialising JSON changes the digest
(REGISTRY-NOTES: "Re-serialising JSON changes the digest").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .errors import ProtocolError

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

IMAGE_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_MANIFEST_LIST, OCI_INDEX)
MANIFEST_TYPES = IMAGE_TYPES + INDEX_TYPES

# The Accept header for manifest requests: without it distribution may down-convert to
# schema 1 and the digest changes.
ACCEPT_MANIFESTS = ", ".join(MANIFEST_TYPES)


# What to do when a registry's answer is not the distribution API (garbage, cut short).
NOT_THE_API = ("Something other than the registry API answered: check that the address is the "
               "registry itself, not a proxy or web server in front of it, then try again or "
               "tell the registry's operator")


def digest_of(data: bytes) -> str:
    """The sha256 digest string of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Descriptor:
    """A pointer to content: what a manifest lists for its config, layers or children."""

    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> "Descriptor":
        try:
            return cls(media_type=value.get("mediaType", ""), digest=value["digest"],
                       size=int(value["size"]), platform=value.get("platform"),
                       annotations=value.get("annotations") or {})
        except (KeyError, TypeError, ValueError) as e:
            raise ProtocolError(f"malformed descriptor in manifest: {value!r:.200}") from e

    @property
    def platform_name(self) -> str:
        return platform_name(self.platform)


def platform_name(platform: dict[str, Any] | None) -> str:
    """``linux/amd64``, ``linux/arm/v7``; ``unknown`` when absent."""
    if not platform:
        return "unknown"
    parts = [platform.get("os", "unknown"), platform.get("architecture", "unknown")]
    if platform.get("variant"):
        parts.append(platform["variant"])
    return "/".join(parts)


@dataclass(frozen=True)
class Manifest:
    """A manifest exactly as served: its bytes, media type and digest."""

    data: bytes
    media_type: str
    digest: str = ""

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", digest_of(self.data))
        if self.media_type not in MANIFEST_TYPES:
            raise ProtocolError(
                f"unsupported manifest media type {self.media_type!r}; registry_widgets "
                f"handles {', '.join(MANIFEST_TYPES)}. Re-push the image with a current docker, "
                "skopeo or crane (they write these), or use a tool that reads this type")

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None) -> "Manifest":
        """Build from raw bytes; the media type falls back to the JSON's ``mediaType``."""
        if not media_type or media_type not in MANIFEST_TYPES:
            media_type = _json(data).get("mediaType") or media_type or ""
        return cls(data=data, media_type=media_type)

    @cached_property
    def json(self) -> dict[str, Any]:
        return _json(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def config(self) -> Descriptor | None:
        cfg = self.json.get("config")
        return Descriptor.from_json(cfg) if cfg and not self.is_index else None

    @property
    def layers(self) -> list[Descriptor]:
        return [] if self.is_index else [Descriptor.from_json(d) for d in self.json.get("layers", [])]

    @property
    def children(self) -> list[Descriptor]:
        """The platform manifests of an index; empty for an image manifest."""
        return [Descriptor.from_json(d) for d in self.json.get("manifests", [])] if self.is_index else []

    @property
    def blobs(self) -> list[Descriptor]:
        """Config then layers: every blob an image manifest needs at the registry."""
        config = self.config
        return ([config] if config else []) + self.layers

    def descriptor(self) -> Descriptor:
        return Descriptor(media_type=self.media_type, digest=self.digest, size=self.size)


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError(f"manifest is not JSON: {data[:80]!r}. {NOT_THE_API}") from e
    if not isinstance(value, dict):
        raise ProtocolError(f"manifest is not a JSON object: {data[:80]!r}. {NOT_THE_API}")
    return value
