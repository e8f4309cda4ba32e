"""An image's layers merged into one filesystem, as overlayfs (and the OCI layer spec) do.

Each layer is streamed by ``security.layers`` (gzip inflated on the fly, tar read in stream
mode, hostile tars refused); only the tar headers are kept, one ``Entry`` per path, plus
each regular file's sha256 when asked (the file is read once as it passes, never stored).

A layer's whiteouts (``.wh.<name>``), opaque markers (``.wh..wh..opq``) and the files that
replace a directory hide what *lower* layers put there, never what the same layer adds,
wherever they sit in its tar (the OCI image spec, "Representing Changes").

Imports ``errors``, ``manifest``, ``progress``, ``reference``, the core's ``clients`` and
``security.layers``.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable

from ...errors import InvalidArgument, NotFound, ProtocolError
from ...manifest import Descriptor, Manifest
from ...progress import ProgressCallback, ProgressEvent, emit
from ...reference import Reference
from ...registry import RegistryClient
from ..security.layers import LayerReader, LayerSource, prefetch, walk_tar

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
# A file larger than this is not hashed for ``diff`` (read whole, it would cost as much
# memory): its row compares by size and mode only, and says so.
MAX_HASH_BYTES = 64 << 20
LAYER_WORKERS = 4  # layers read at a time (copy moves 4 blobs at a time too)

TYPES = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file",
         tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink",
         tarfile.CHRTYPE: "char device", tarfile.BLKTYPE: "block device",
         tarfile.FIFOTYPE: "fifo"}


@dataclass(frozen=True)
class Entry:
    """One path of the merged filesystem and the layer that last wrote it."""

    path: str  # "/etc/passwd"
    type: str  # file, dir, symlink, hardlink, ...
    size: int
    mode: int
    link: str  # a link's target, as written in the tar
    layer: int  # 0 for the first layer
    layer_digest: str
    digest: str = ""  # sha256 of a regular file's content, when hashed


@dataclass
class Overlay:
    """The merged view so far. ``hidden``: lower paths the layers read here delete (their
    whiteouts, and files replacing directories); ``opaque``: directories they empty. Both
    matter only when these layers sit on lower ones not read (``diff``'s shared layers)."""

    entries: dict[str, Entry] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)
    opaque: set[str] = field(default_factory=set)

    def _drop_below(self, path: str, *, keep_self: bool) -> None:
        prefix = "/" if path == "/" else path + "/"
        for name in [n for n in self.entries if n.startswith(prefix)
                     or (n == path and not keep_self)]:
            del self.entries[name]

    def apply(self, members: Iterable[Entry], whiteouts: Iterable[str],
              opaque: Iterable[str]) -> None:
        """Put one layer on top: its whiteouts and opaque directories first (they only
        hide lower content), then its entries."""
        members = list(members)
        for directory in opaque:
            self._drop_below(directory, keep_self=True)
            self.opaque.add(directory)
        for path in whiteouts:
            self._drop_below(path, keep_self=False)
            self.hidden.add(path)
        for entry in members:
            lower = self.entries.get(entry.path)
            if entry.type != "dir" and lower is not None and lower.type == "dir":
                self._drop_below(entry.path, keep_self=True)  # a file replaces a directory
                self.hidden.add(entry.path)
            self.entries[entry.path] = entry
            self.hidden.discard(entry.path)


def normal_path(name: str) -> str:
    """A tar member's name as an absolute, normalised path inside the image: "/a/b"."""
    return posixpath.normpath("/" + name.lstrip("/"))


def pick_image(client: RegistryClient, ref: Reference,
               platform: str | None) -> tuple[Manifest, Manifest]:
    """(what the reference names, the image manifest): for an index, its ``platform``
    child (by default linux/amd64, else the first linux one)."""
    top = client.get_manifest(ref.repository, ref.reference)
    if not top.is_index:
        return top, top
    children = top.children
    wanted = platform or "linux/amd64"
    chosen = [c for c in children if c.platform_name == wanted]
    if not chosen and platform is None:
        chosen = [c for c in children if c.platform_name.startswith("linux/")] or children
    if not chosen:
        raise NotFound(f"{ref} has no platform {platform!r}; it has "
                       f"{', '.join(c.platform_name for c in children)}. Pass one of them as "
                       "platform", registry=ref.registry, reference=str(ref))
    return top, client.get_manifest(ref.repository, chosen[0].digest)


def read_config(client: RegistryClient, ref: Reference, image: Manifest) -> dict[str, Any]:
    """The image's config JSON; {} for an artifact whose config is not JSON (or empty)."""
    if image.config is None or image.config.size == 0:
        return {}
    data = client.get_blob(ref.repository, image.config.digest)
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        if "image.config" in image.config.media_type or "container.image" in \
                image.config.media_type:
            raise ProtocolError(f"the config of {ref} is not JSON; the image is corrupt",
                                registry=ref.registry, reference=str(ref)) from e
        return {}
    return value if isinstance(value, dict) else {}


def layer_stream(client: RegistryClient, ref: Reference, index: int,
                 layer: Descriptor) -> LayerReader:
    """A forward-only reader of one layer's tar, streamed from the registry."""
    source = LayerSource(image=str(ref), registry=ref.registry, index=index,
                         digest=layer.digest, size=layer.size)
    return LayerReader(prefetch(client.iter_blob(ref.repository, layer.digest)),
                       layer.media_type, source)


def check_layers(ref: Reference, image: Manifest) -> None:
    """Refuse an artifact (its "layers" are files, not tars) before anything is streamed."""
    for layer in image.layers:
        kind = layer.media_type
        if "tar" not in kind and "rootfs" not in kind:
            raise InvalidArgument(
                f"{ref} is an artifact, not a container image: its layer {layer.digest[:19]} is "
                f"{kind or 'of no media type'}, not a filesystem layer. Use pull_artifact to "
                "get its files", reference=str(ref))


@dataclass
class LayerChanges:
    """What one layer's tar says: its entries, the paths it whites out, the folders it
    makes opaque (applied to the layers below by ``Overlay.apply``)."""

    members: dict[str, Entry] = field(default_factory=dict)
    whiteouts: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)


def scan_layer(reader: LayerReader, index: int, digest: str, *,
               hash_files: bool = False) -> LayerChanges:
    """One layer's tar as ``LayerChanges`` (headers only; contents hashed if asked)."""
    found = LayerChanges()
    for member, content in walk_tar(reader):
        path = normal_path(member.name)
        parent, base = posixpath.split(path)
        if base == OPAQUE:
            found.opaque.append(parent)
            continue
        if base.startswith(WHITEOUT):
            found.whiteouts.append(posixpath.join(parent, base[len(WHITEOUT):]))
            continue
        if path == "/":
            continue  # the root itself ("./"): not a file of the image
        kind = TYPES.get(member.type, "other")
        file_digest = ""
        if hash_files and kind == "file" and member.size <= MAX_HASH_BYTES:
            file_digest = "sha256:" + hashlib.sha256(content()).hexdigest()
        link = member.linkname if member.issym() else (
            normal_path(member.linkname) if member.islnk() else "")
        # a later member for the same path wins, as on extraction
        found.members[path] = Entry(path, kind, member.size, member.mode & 0o7777, link, index,
                                    digest, file_digest)
    return found


def read_layer(overlay: Overlay, reader: LayerReader, index: int, digest: str, *,
               hash_files: bool = False) -> None:
    """Apply one layer's tar to ``overlay``."""
    found = scan_layer(reader, index, digest, hash_files=hash_files)
    overlay.apply(found.members.values(), found.whiteouts, found.opaque)


def merge(client: RegistryClient, ref: Reference, layers: list[Descriptor], *, start: int = 0,
          hash_files: bool = False, progress: ProgressCallback | None = None,
          action: str = "files", workers: int = LAYER_WORKERS) -> Overlay:
    """The overlay of ``layers[start:]`` (``start`` skips layers another image shares).

    The layers are read side by side (``workers`` at a time: each is a download, an inflate
    and a tar walk, and zlib, hashlib and sockets release the GIL), then stacked in order;
    only their headers are held meanwhile."""
    def one(index: int) -> LayerChanges:
        layer = layers[index]
        emit(progress, ProgressEvent(action, id=layer.digest, status="Reading", total=layer.size,
                                     message=f"{ref}: layer {index + 1} of {len(layers)}"))
        found = scan_layer(layer_stream(client, ref, index, layer), index, layer.digest,
                           hash_files=hash_files)
        emit(progress, ProgressEvent(action, id=layer.digest, status="Read", current=layer.size,
                                     total=layer.size))
        return found

    indexes = list(range(start, len(layers)))
    overlay = Overlay()
    if len(indexes) <= 1 or workers <= 1:
        results = [one(i) for i in indexes]
    else:
        with ThreadPoolExecutor(min(workers, len(indexes)), "rw-contents") as pool:
            results = list(pool.map(one, indexes))
    for found in results:
        overlay.apply(found.members.values(), found.whiteouts, found.opaque)
    return overlay
