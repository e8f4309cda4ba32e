"""``docker-archive:``: the tar ``docker save`` writes and ``docker load`` reads.

Its ``manifest.json`` lists images as ``{"Config": "<hex>.json", "RepoTags": ["repo:tag"],
"Layers": ["<hex>.tar", ...]}``; the layers are plain (uncompressed) tars whose sha256 are the
config's ``rootfs.diff_ids`` (REGISTRY-NOTES "Archives and layouts"). One platform per image,
and no registry manifest inside: reading one builds an OCI image manifest around the config
(whose digest is kept) and the layers as they are; writing one from a registry image
decompresses each gzip layer through a temporary file (its size must be known before a tar
member starts), so the manifest digest changes and the config's does not, as with skopeo.

Reading checks everything before anything is sent: the config's digest against its name,
each layer against its diff_id (a gzip layer as docker reads it, decompressed).

Imports ``errors``, ``manifest``, ``progress`` and its siblings ``archive`` and ``layout``.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zlib
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ...manifest import OCI_MANIFEST, Descriptor, Manifest
from .archive import BadArchive, Member, TarWriter, members, read_member, safe_name

__all__ = ["DockerArchive", "write_docker_archive", "LAYER_TAR", "LAYER_GZIP"]

CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_GZIP_TYPES = ("application/vnd.oci.image.layer.v1.tar+gzip",
               "application/vnd.docker.image.rootfs.diff.tar.gzip")
_PLAIN_TYPES = ("application/vnd.oci.image.layer.v1.tar",
                "application/vnd.docker.image.rootfs.diff.tar")


class DockerArchive:
    """One image of a docker-archive, read in place and checked (see the module docstring).

    ``manifest`` is the OCI image manifest built for it; ``iter_blob`` streams its config
    and layers."""

    def __init__(self, path: Path, ref: str | None, *, check: Callable[[], None] | None = None,
                 each: Callable[[str, int], None] | None = None):
        self.path = Path(path)
        self._members = members(self.path)
        entry = self._entry(ref)
        self.repo_tags: list[str] = list(entry.get("RepoTags") or [])
        config_member = self._member(entry.get("Config"), "its config")
        config = b"".join(read_member(self.path, config_member))
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        named = Path(config_member.name).name.split(".")[0]
        if len(named) == 64 and config_digest != "sha256:" + named:
            raise BadArchive(f"{self.path}: the config {config_member.name} has the digest "
                             f"{config_digest}, not the one its name says; the archive is "
                             "damaged or altered. Nothing was copied")
        self.config = config
        try:
            diff_ids = json.loads(config)["rootfs"]["diff_ids"]
        except (ValueError, KeyError, TypeError) as e:
            raise BadArchive(f"{self.path}: {config_member.name} is not an image config (no "
                             "rootfs.diff_ids); nothing was copied") from e
        names = entry.get("Layers") or []
        if len(names) != len(diff_ids):
            raise BadArchive(f"{self.path}: manifest.json lists {len(names)} layers and the "
                             f"config {len(diff_ids)}; the archive is damaged. Nothing was "
                             "copied")
        self._blobs: dict[str, Member] = {config_digest: config_member}
        layers = []
        for name, diff_id in zip(names, diff_ids):
            member = self._member(name, "a layer")
            media_type, digest = self._checked_layer(member, diff_id, check)
            self._blobs[digest] = member
            layers.append({"mediaType": media_type, "digest": digest, "size": member.size})
            if each is not None:
                each(digest, member.size)
        body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": CONFIG_TYPE, "digest": config_digest,
                           "size": len(config)},
                "layers": layers}
        self.manifest = Manifest(json.dumps(body, separators=(",", ":")).encode(), OCI_MANIFEST)

    def iter_blob(self, descriptor: Descriptor, *,
                  check: Callable[[], None] | None = None) -> Iterator[bytes]:
        """A blob, checked again as it streams (the file could change since it was read)."""
        member = self._blobs[descriptor.digest]
        hasher = hashlib.sha256()
        pending = None
        for data in read_member(self.path, member, check=check):
            hasher.update(data)
            if pending is not None:
                yield pending
            pending = data
        if "sha256:" + hasher.hexdigest() != descriptor.digest:
            raise BadArchive(f"{self.path}: {member.name} changed while it was copied; nothing "
                             "more was sent")
        if pending is not None:
            yield pending

    def _entry(self, ref: str | None) -> dict:
        if "manifest.json" not in self._members:
            hint = (" (it is an OCI layout: name it oci-archive:)"
                    if "index.json" in self._members else "")
            raise BadArchive(f"{self.path} is not a docker-archive: it has no manifest.json, "
                             f"which docker save writes{hint}. Nothing was copied")
        try:
            entries = json.loads(b"".join(read_member(self.path, self._members["manifest.json"])))
            assert isinstance(entries, list) and all(isinstance(e, dict) for e in entries)
        except (ValueError, AssertionError) as e:
            raise BadArchive(f"{self.path}: manifest.json is not a list of images; the "
                             "archive is damaged. Nothing was copied") from e
        if ref is None:
            if len(entries) != 1:
                tags = sorted(t for e in entries for t in e.get("RepoTags") or [])
                raise BadArchive(f"{self.path} holds {len(entries)} images ({', '.join(tags)}):"
                                 f" name one, as in docker-archive:{self.path}:REPO:TAG; "
                                 "nothing was copied")
            return entries[0]
        for entry in entries:
            if any(_same_tag(tag, ref) for tag in entry.get("RepoTags") or []):
                return entry
        tags = sorted(t for e in entries for t in e.get("RepoTags") or [])
        raise BadArchive(f"{self.path} has no image tagged {ref!r}; it has: "
                         f"{', '.join(tags) or 'untagged images only'}. Nothing was copied")

    def _member(self, name: object, what: str) -> Member:
        if not isinstance(name, str) or not name:
            raise BadArchive(f"{self.path}: manifest.json names no file for {what}; the archive "
                             "is damaged. Nothing was copied")
        # the same rule as the tar's own members: no way out of the archive
        member = self._members.get(safe_name(self.path, name))
        if member is None:
            raise BadArchive(f"{self.path}: {what} ({name}) is missing from the archive; it is "
                             "incomplete. Nothing was copied")
        return member

    def _checked_layer(self, member: Member, diff_id: str,
                       check: Callable[[], None] | None) -> tuple[str, str]:
        """(media type, digest) of a layer, after checking it against its diff_id."""
        raw, plain = hashlib.sha256(), hashlib.sha256()
        inflate = None
        first = True
        for data in read_member(self.path, member, check=check):
            if first:
                first = False
                if data.startswith(_ZSTD_MAGIC):
                    raise BadArchive(f"{self.path}: {member.name} is zstd-compressed, which "
                                     "this package does not unpack; nothing was copied")
                if data.startswith(_GZIP_MAGIC):
                    inflate = zlib.decompressobj(wbits=31)
            raw.update(data)
            plain.update(inflate.decompress(data) if inflate is not None else data)
        digest = "sha256:" + raw.hexdigest()
        got = "sha256:" + plain.hexdigest()
        if got != diff_id:
            raise BadArchive(f"{self.path}: the layer {member.name} has the content digest "
                             f"{got}, but the config says {diff_id}: damaged or altered. "
                             "Nothing was copied")
        return (LAYER_GZIP if inflate is not None else LAYER_TAR), digest


def _same_tag(have: str, want: str) -> bool:
    """``docker.io/library/app:1`` is ``app:1`` as docker writes RepoTags."""
    def short(name: str) -> str:
        for prefix in ("docker.io/library/", "docker.io/"):
            if name.startswith(prefix):
                return name[len(prefix):]
        return name
    return short(have) == short(want)


def write_docker_archive(path: Path, *, ref: str | None, manifest: Manifest, config: bytes,
                         blob: Callable[[Descriptor], Iterable[bytes]],
                         done: Callable[[Descriptor, int], None] | None = None) -> int:
    """Write one image as ``docker save`` does; returns the bytes written. ``blob(d)``
    streams a blob of the source (checked by the source); ``done`` reports each layer."""
    diff_ids = json.loads(config)["rootfs"]["diff_ids"]
    tar = TarWriter(Path(path))
    written = 0
    try:
        assert manifest.config is not None  # an image manifest, picked by the caller
        config_name = manifest.config.digest.partition(":")[2] + ".json"
        tar.add_bytes(config_name, config)
        names = []
        for layer, diff_id in zip(manifest.layers, diff_ids):
            name = diff_id.partition(":")[2] + ".tar"
            if name not in names:
                written += _add_layer(tar, name, layer, diff_id, blob(layer), path)
            names.append(name)
            if done is not None:
                done(layer, layer.size)
        entry = {"Config": config_name, "RepoTags": [ref] if ref else [], "Layers": names}
        tar.add_bytes("manifest.json", json.dumps([entry], separators=(",", ":")).encode())
        tar.commit()
    except BaseException:
        tar.abort()
        raise
    return written + len(config)


def _add_layer(tar: TarWriter, name: str, layer: Descriptor, diff_id: str,
               chunks: Iterable[bytes], path: Path) -> int:
    if layer.media_type in _PLAIN_TYPES:
        digest = tar.add(name, chunks, layer.size)
        if digest != diff_id:
            raise BadArchive(f"{path}: the layer {layer.digest} does not match the config's "
                             f"diff_id {diff_id}; the image is inconsistent. Nothing was kept")
        return layer.size
    if layer.media_type not in _GZIP_TYPES:
        raise BadArchive(f"{path}: the layer {layer.digest} is {layer.media_type}, which a "
                         "docker-archive cannot hold (docker load reads tar and gzip "
                         "layers); nothing was written")
    # The uncompressed size is only known at the end: through a temporary file beside the
    # archive (same disk), so memory stays bounded.
    inflate = zlib.decompressobj(wbits=31)
    hasher = hashlib.sha256()
    size = 0
    with tempfile.TemporaryFile(dir=Path(path).parent) as scratch:
        for data in chunks:
            plain = inflate.decompress(data)
            hasher.update(plain)
            size += len(plain)
            scratch.write(plain)
        rest = inflate.flush()
        hasher.update(rest)
        size += len(rest)
        scratch.write(rest)
        if "sha256:" + hasher.hexdigest() != diff_id:
            raise BadArchive(f"{path}: the layer {layer.digest} unpacks to another content than "
                             f"the config's diff_id {diff_id}; nothing was written")
        scratch.seek(0)
        tar.add_file(name, scratch, size)  # type: ignore[arg-type]
    return size

