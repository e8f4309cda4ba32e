"""Accessories: the signatures, attestations and SBOMs that belong to an image's digest.

Two ways exist to attach them (REGISTRY-NOTES: "Signatures and attestations by tag"):
cosign's tag schema, ``sha256-<hex>.sig`` / ``.att`` / ``.sbom`` beside the image, plus the
OCI 1.1 fallback tag ``sha256-<hex>`` (an index of referrers); and the OCI 1.1 referrers
API, manifests whose ``subject`` names the digest, found with ``GET .../referrers/<digest>``.
A copy that leaves them behind loses the image's provenance, so ``sync`` and
``copy(..., accessories=True)`` bring them along: tags by tag, referrers by digest where
both registries have the API (distribution 2.x has none; it answers 404).

This module only finds them; the callers copy them. Layer 3: imports ``reference``,
``manifest``, ``registry`` and the bottom modules.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Iterable

from ...manifest import Manifest
from ...progress import ProgressCallback
from ...reference import Reference, accessory_of
from ...registry import RegistryClient
from ..core.clients import client_for
from ..core.result import Result

# Whether a registry has the referrers API, learnt once per process (a Dask worker learns
# it for itself): asking costs one request per image on registries that have none.
_referrers_api: dict[str, bool] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Accessory:
    """One accessory of ``subject``: by ``tag`` (tag schema) or by ``digest`` (a referrer)."""

    subject: str
    kind: str  # "signature", "attestation", "sbom", "referrers" (fallback tag) or "referrer"
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What names it in its repository: the tag, else the digest."""
        return self.tag or self.digest  # type: ignore[return-value]  # one of them is set


def subjects(manifest: Manifest) -> list[str]:
    """The digests an accessory may be attached to: the image, and for an index each of its
    platform manifests (cosign signs either)."""
    return [manifest.digest] + [child.digest for child in manifest.children]


def by_tag(tags: Iterable[str], digests: Iterable[str]) -> list[Accessory]:
    """The tag-schema accessories of ``digests`` among a repository's ``tags``, in tag order."""
    wanted = set(digests)
    found = []
    for tag in sorted(set(tags)):
        owner = accessory_of(tag)
        if owner is not None and owner[0] in wanted:
            found.append(Accessory(subject=owner[0], kind=owner[1], tag=tag))
    return found


def is_accessory_tag(tag: str) -> bool:
    """Whether ``tag`` names an accessory (it is copied with its image, not as one)."""
    return accessory_of(tag) is not None


def has_referrers_api(client: RegistryClient, repository: str, digest: str) -> bool:
    """Whether the registry answers the referrers API (asked once per registry)."""
    with _lock:
        known = _referrers_api.get(client.registry)
    if known is None:
        known = client.referrers(repository, digest) is not None
        with _lock:
            _referrers_api[client.registry] = known
    return known


def by_referrers(source: RegistryClient, repository: str, digests: Iterable[str],
                 target: RegistryClient, target_repository: str) -> list[Accessory]:
    """The referrers of ``digests`` at the source, when both registries have the API.

    Without the API at the target, a referrer pushed there would not be found through it
    (and the fallback tag is the source's business), so nothing is proposed.
    """
    digests = list(digests)
    if not digests or not has_referrers_api(source, repository, digests[0]) \
            or not has_referrers_api(target, target_repository, digests[0]):
        return []
    found = []
    for digest in digests:
        for descriptor in source.referrers(repository, digest) or []:
            found.append(Accessory(subject=digest, kind="referrer", digest=descriptor.digest))
    return found


def find(source: RegistryClient, repository: str, manifest: Manifest, *,
         tags: Iterable[str] | None = None, target: RegistryClient | None = None,
         target_repository: str | None = None) -> list[Accessory]:
    """Every accessory of ``manifest`` in ``repository``: its accessory tags (from ``tags``,
    or the repository's tag list) and, given a target with the API, its referrers."""
    digests = subjects(manifest)
    if tags is None:
        tags = list(source.tags(repository))
    found = by_tag(tags, digests)
    if target is not None:
        found += by_referrers(source, repository, digests, target, target_repository or repository)
    return found


def copy_accessories(copy: Callable[..., Result], source: Reference, target: Reference,
                     digest: str, *, progress: ProgressCallback | None = None) -> list[dict]:
    """Copy the accessories of ``source``'s ``digest`` beside ``target`` with ``copy`` (the
    ``copy`` verb, passed in: it calls this). Tags keep their names, referrers their digests.
    Returns one ``{"kind", "reference", "digest", "changed", "bytes_moved"}`` per accessory."""
    src_client, dst_client = client_for(source.registry), client_for(target.registry)
    manifest = src_client.get_manifest(source.repository, digest)
    copied = []
    for accessory in find(src_client, source.repository, manifest, target=dst_client,
                          target_repository=target.repository):
        if accessory.tag:
            src, dst = source.with_tag(accessory.tag), target.with_tag(accessory.tag)
        else:
            src = Reference(source.registry, source.repository, None, accessory.digest)
            dst = Reference(target.registry, target.repository, None, accessory.digest)
        done = copy(src, dst, progress=progress, accessories=False)
        copied.append({"kind": accessory.kind, "reference": accessory.reference,
                       "digest": done.digest, "changed": done.changed,
                       "bytes_moved": done.bytes_moved})
    return copied
