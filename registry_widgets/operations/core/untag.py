"""Taking ONE tag off a registry, keeping its co-tags: the engine's write step for a change
whose reference is a tag and whose ``after`` is None.

Facts it relies on (REGISTRY-NOTES.md, "Delete"):

- Distribution 3 and OCI 1.1 allow ``DELETE .../manifests/<tag>``; distribution 2.x does not,
  and answers it (measured on 2.8.2) with ``400 DIGEST_INVALID`` when deletes are enabled
  (``405 UNSUPPORTED`` when they are not). So the tag DELETE is tried and, on that answer,
  the safe 2.x method follows: point the tag at a tiny unique placeholder manifest, then
  delete the placeholder by digest (its only tag is this one, so no other tag goes).
- Some registries have deleted the whole manifest on a tag DELETE: after one, the image and
  its co-tags are checked and put back, and that registry is never asked again.
- Deletes answer 405 when the registry runs with ``delete: enabled: false`` (distribution's
  default). :func:`ensure_deletes_enabled` probes with a DELETE of a digest that cannot exist
  (405: disabled, 404: enabled) before anything moves, so a tag is never left on a
  placeholder.

Only :mod:`.changes` calls :func:`untag`, and every manifest PUT and DELETE goes through the
``writes`` it hands over (the engine's own): this module decides how a tag comes off, the
engine sends. Reads and the placeholder's config blob use the client. Imports ``errors``,
``manifest`` and ``registry``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from typing import Any, Protocol, Sequence

from ...errors import DeleteDisabled, NotFound, RegistryError
from ...manifest import OCI_MANIFEST, Manifest, digest_of
from ...registry import RegistryClient

log = logging.getLogger("registry_widgets.untag")


class Writes(Protocol):
    """The change engine's manifest writes (``changes.ManifestWrites``)."""

    def put(self, repository: str, reference: str, manifest: Manifest) -> str: ...

    def delete(self, repository: str, reference: str) -> None: ...

PLACEHOLDER_LABEL = "io.github.registry-widgets.placeholder"
# Answers to DELETE .../manifests/<tag> that mean "no tag delete here" once the probe has shown
# deletes are enabled: distribution 2.x says 400 DIGEST_INVALID; others 404, 405 or 501.
NO_TAG_DELETE = frozenset({400, 404, 405, 501})

# What each registry answered to a tag DELETE, so a 2.x registry is not asked again and a
# registry that deleted more than the tag is never asked again. Only a hint: the placeholder
# method is safe on every registry.
_tag_delete_supported: dict[str, bool] = {}
_memo_lock = threading.Lock()


def tag_delete_known_unsupported(registry: str) -> bool:
    with _memo_lock:
        return _tag_delete_supported.get(registry) is False


def remember_tag_delete(registry: str, supported: bool) -> None:
    with _memo_lock:
        if _tag_delete_supported.get(registry) is not False:  # "unsafe" is never forgotten
            _tag_delete_supported[registry] = supported


def ensure_deletes_enabled(client: RegistryClient, writes: Writes, repository: str,
                           target: str) -> None:
    """DELETE a well-formed digest that cannot exist: 404 means deletes are enabled, 405 that
    they are not (DeleteDisabled, nothing changed). Nothing can be deleted by it."""
    probe = digest_of(b"registry-widgets delete probe " + os.urandom(16))
    try:
        writes.delete(repository, probe)
    except NotFound:
        return
    except DeleteDisabled as e:
        raise DeleteDisabled(
            f"{client.registry} does not allow deletes (it answered HTTP 405), so {target} was "
            "not removed: nothing was changed. Its operator must enable them (CNCF "
            "distribution: storage: delete: enabled: true)", registry=client.registry,
            reference=target, status=e.status, code=e.code) from e


def untag(client: RegistryClient, writes: Writes, repository: str, tag: str,
          original: Manifest, co_tags: Sequence[str], *, backup_id: str,
          notes: dict[str, Any]) -> str:
    """Take ``tag`` (now on ``original``) off ``repository``; ``co_tags`` (the other tags on
    that digest) stay. Returns the method used ("tag-delete" or "placeholder"); ``notes``
    gets ``tag_delete_answer`` and ``repaired`` when they happen."""
    registry = client.registry
    if not tag_delete_known_unsupported(registry):
        try:
            writes.delete(repository, tag)
        except RegistryError as e:
            if e.status not in NO_TAG_DELETE:
                raise
            # distribution 2.x: 400 DIGEST_INVALID ("provided digest did not match").
            notes["tag_delete_answer"] = f"{e.status} {e.code or ''}".strip()
            remember_tag_delete(registry, False)
        else:
            if client.head_manifest(repository, tag) is None:
                if repair(client, writes, repository, original, co_tags):
                    notes["repaired"] = ("the registry's tag DELETE removed more than the "
                                         "tag; the image and its co-tags were put back")
                    remember_tag_delete(registry, False)
                else:
                    remember_tag_delete(registry, True)
                return "tag-delete"
    _with_placeholder(client, writes, repository, tag, original, backup_id)
    return "placeholder"


def repair(client: RegistryClient, writes: Writes, repository: str, original: Manifest,
           co_tags: Sequence[str]) -> bool:
    """After a tag DELETE: put back the image and any co-tag that went with it."""
    repaired = False
    if client.head_manifest(repository, original.digest) is None:
        log.warning("%s: the tag DELETE removed the image %s too; putting it back",
                    client.registry, original.digest)
        writes.put(repository, original.digest, original)
        repaired = True
    for tag in co_tags:
        head = client.head_manifest(repository, tag)
        if head is None or head.digest != original.digest:
            writes.put(repository, tag, original)
            repaired = True
    return repaired


def _placeholder(client: RegistryClient, repository: str, tag: str) -> Manifest:
    """A tiny manifest no one else can have: a unique config blob and no layers."""
    config = json.dumps({
        "architecture": "none", "os": "none", "rootfs": {"type": "layers", "diff_ids": []},
        "config": {"Labels": {PLACEHOLDER_LABEL: f"removing tag {tag}",
                              f"{PLACEHOLDER_LABEL}.nonce": uuid.uuid4().hex}},
    }, separators=(",", ":"), sort_keys=True).encode()
    config_digest = digest_of(config)
    client.upload_blob(repository, config_digest, config, len(config))
    body = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [],
    }, separators=(",", ":")).encode()
    return Manifest(data=body, media_type=OCI_MANIFEST)


def _with_placeholder(client: RegistryClient, writes: Writes, repository: str, tag: str,
                      original: Manifest, backup_id: str) -> None:
    """Move the tag to a placeholder, then delete the placeholder by digest: its only tag is
    this one, so that delete takes no other tag. Any failure puts the tag back."""
    target = f"{client.registry}/{repository}:{tag}"
    placeholder = _placeholder(client, repository, tag)
    try:
        writes.put(repository, tag, placeholder)
        writes.delete(repository, placeholder.digest)
    except BaseException as e:
        try:
            writes.put(repository, tag, original)
        except Exception as again:
            raise RegistryError(
                f"removing {target} failed ({e}), and putting the tag back on "
                f"{original.digest} failed too ({again}): the tag may point at the placeholder "
                f"{placeholder.digest}. Run restore({backup_id!r}, force=True) to put it back",
                registry=client.registry, reference=target) from e
        if isinstance(e, RegistryError):
            raise type(e)(f"removing {target} failed: {e}. The tag was put back on "
                          f"{original.digest}, so no tag changed (an untagged placeholder "
                          f"manifest {placeholder.digest} may stay until garbage collection)",
                          registry=client.registry, reference=target, status=e.status,
                          code=e.code) from e
        raise
