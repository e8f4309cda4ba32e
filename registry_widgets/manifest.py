"""Manifests and descriptors: media types, digests and what a manifest points at.

Pure (no network), layer 1 beside ``reference``: imports only ``errors``. Platforms are
normalised here, in one place, as containerd does (:func:`normalize_platform`). A manifest is kept
as the exact bytes the registry served, because re-serialising JSON changes the digest
(REGISTRY-NOTES: "Re-serialising JSON changes the digest").
"""

from __future__ import annotations

import hashlib
import json
import re
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


# -- platforms, normalised as containerd does ------------------------------------------------
# containerd's platforms package (database.go: normalizeOS, normalizeArch; platforms.go:
# Parse), so a platform Docker and containerd take as the same is the same here:
# ``linux/arm64`` is ``linux/arm64/v8``, ``amd64`` is ``linux/amd64``, ``linux/arm`` is
# ``linux/arm/v7``, ``x86_64`` is ``amd64``, any case. One difference, on purpose: containerd
# drops arm64's default variant ("v8") internally; indexes and ``docker buildx`` write it,
# so it is shown here.
_PLATFORM_PART = re.compile(r"[a-z0-9][a-z0-9._-]*")
_KNOWN_ARCHES = frozenset({
    "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le",
    "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
    "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm"})
PLATFORM_FORM = ('os/arch[/variant] such as "linux/amd64" or "linux/arm64/v8", or an '
                 'architecture alone such as "arm64"')


def _normal_arch(arch: str, variant: str) -> tuple[str, str]:
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        return "arm64", {"": "v8", "8": "v8", "v8.0": "v8", "9": "v9", "9.0": "v9",
                         "v9.0": "v9"}.get(variant, variant)
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        return "arm", {"": "v7", "7": "v7", "5": "v5", "6": "v6", "8": "v8"}.get(variant,
                                                                                  variant)
    return arch, variant


def normalize_platform(text: str) -> str:
    """``os/arch[/variant]`` as containerd normalises it: ``arm64`` -> ``linux/arm64/v8``,
    ``linux/arm64`` -> ``linux/arm64/v8``, ``amd64`` -> ``linux/amd64``, ``linux/arm`` ->
    ``linux/arm/v7``, ``Linux/X86_64`` -> ``linux/amd64``, ``macos`` -> ``darwin``. An
    architecture alone means Linux (containerd's default OS for a known architecture).
    ValueError (one sentence, what to write) for anything that is no platform."""
    if not isinstance(text, str):
        raise TypeError(f"a platform is text, {PLATFORM_FORM}; not {text!r}")
    # No strip(): containerd refuses "linux/amd64 " too, and a name from code is checked as
    # given (the widgets strip what was typed in a box before it gets here).
    parts = text.lower().split("/")
    if len(parts) == 1 and parts[0] in _KNOWN_ARCHES | {"i386", "x86_64", "x86-64",
                                                        "aarch64", "armhf", "armel"}:
        parts = ["linux", parts[0]]
    if not 2 <= len(parts) <= 3 or not all(_PLATFORM_PART.fullmatch(p) for p in parts):
        raise ValueError(f"{text!r} is not a platform; write {PLATFORM_FORM}")
    os_name = "darwin" if parts[0] == "macos" else parts[0]
    arch, variant = _normal_arch(parts[1], parts[2] if len(parts) == 3 else "")
    return "/".join([os_name, arch] + ([variant] if variant else []))


def same_platform(wanted: str, actual: str) -> bool:
    """Whether ``actual`` (an index entry's ``platform_name``) is the platform ``wanted``,
    both normalised (:func:`normalize_platform`); an entry that is no platform is not."""
    try:
        return normalize_platform(wanted) == normalize_platform(actual)
    except ValueError:
        return False


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
