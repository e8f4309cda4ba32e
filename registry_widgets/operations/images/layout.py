"""OCI image layouts (``oci:DIR``) and their tar form (``oci-archive:FILE``), read and written.

A layout is a folder with ``oci-layout``, ``index.json`` (an OCI index whose entries carry
the tag as ``org.opencontainers.image.ref.name``) and ``blobs/sha256/<hex>`` (image-layout
spec; REGISTRY-NOTES "Archives and layouts"). Manifests are blobs there too, stored byte for
byte, so a multi-arch index keeps its digest through a layout.

:class:`Layout` reads one (a folder, or a tar in place, without unpacking it) and checks what
it is asked for: a manifest or blob that is missing, of another size or another digest is one
:class:`~.archive.BadArchive` naming the file. :class:`LayoutWriter` writes one, streaming each
blob to disk; a folder is updated in place (blobs first, ``index.json`` last, so a reader never
sees a tag without its content), an archive is written whole beside the target and renamed
over it at the end, as skopeo's ``oci-archive`` does.

Imports ``errors``, ``manifest`` and its sibling ``archive``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ...errors import ProtocolError
from ...manifest import OCI_INDEX, Descriptor, Manifest
from .archive import CHUNK, BadArchive, Member, TarWriter, members, read_member

__all__ = ["Layout", "LayoutWriter", "REF_NAME", "MAX_MANIFEST"]

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_FILE = b'{"imageLayoutVersion":"1.0.0"}'
MAX_MANIFEST = 4 << 20  # as distribution's limit: a bigger "manifest" is not one
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class Layout:
    """An OCI layout to read: a folder (``archive=False``) or an oci-archive tar."""

    def __init__(self, path: Path, *, archive: bool):
        self.path = Path(path)
        self.archive = archive
        self._members: dict[str, Member] = members(self.path) if archive else {}
        if not archive and not self.path.is_dir():
            raise BadArchive(f"{self.path}: no such folder; an oci: layout is a folder with "
                             "index.json and blobs/ (skopeo copy ... oci:DIR writes one). The "
                             "path is read on the machine that runs Jupyter. Nothing was copied")
        self.index = self._index()

    # -- what it holds ---------------------------------------------------------------------

    def _index(self) -> dict[str, Any]:
        if self._size("oci-layout") is None and self._size("index.json") is None:
            kind = "oci-archive" if self.archive else "oci: folder"
            raise BadArchive(f"{self.path} is not an OCI layout: it has no index.json or "
                             f"oci-layout, which every {kind} has (is it a docker-archive? "
                             "then name it docker-archive:). Nothing was copied")
        data = self._small("index.json", "the layout's index")
        try:
            index = json.loads(data)
            entries = index["manifests"]
            assert isinstance(entries, list)
        except (ValueError, KeyError, TypeError, AssertionError) as e:
            raise BadArchive(f"{self.path}: index.json is not an OCI index (no list of "
                             "manifests); nothing was copied") from e
        return index

    def entries(self) -> list[Descriptor]:
        """The index's entries (each a manifest or index, with its ref.name annotation)."""
        try:
            return [Descriptor.from_json(d) for d in self.index["manifests"]]
        except ProtocolError as e:
            raise BadArchive(f"{self.path}: index.json has a malformed entry ({e}); nothing "
                             "was copied") from e

    def refs(self) -> dict[str, Descriptor]:
        """Tag -> entry, for the entries that carry a ``ref.name``."""
        return {d.annotations[REF_NAME]: d for d in self.entries() if REF_NAME in d.annotations}

    def resolve(self, ref: str | None) -> Descriptor:
        """The entry ``ref`` names; without one, the layout's only entry."""
        entries = self.entries()
        if ref is None:
            if len(entries) == 1:
                return entries[0]
            names = ", ".join(sorted(self.refs())) or "entries without names"
            raise BadArchive(f"{self.path} holds {len(entries)} images ({names}): name one, "
                             f"as in oci:{self.path}:REF; nothing was copied")
        found = self.refs().get(ref)
        if found is None:
            names = ", ".join(sorted(self.refs())) or "none"
            raise BadArchive(f"{self.path} has no image named {ref!r}; it has: {names}. "
                             "Nothing was copied")
        return found

    def manifest(self, descriptor: Descriptor) -> Manifest:
        """A manifest blob, checked against its descriptor (size and digest)."""
        if descriptor.size > MAX_MANIFEST:
            raise BadArchive(f"{self.path}: the manifest {descriptor.digest} claims "
                             f"{descriptor.size} bytes, more than any manifest; nothing was "
                             "copied")
        data = self._small(self._blob_name(descriptor.digest), f"manifest {descriptor.digest}")
        self._check(descriptor, len(data), "sha256:" + hashlib.sha256(data).hexdigest())
        try:
            return Manifest.from_bytes(data, descriptor.media_type or None)
        except ProtocolError as e:
            raise BadArchive(f"{self.path}: {descriptor.digest} is not a manifest this package "
                             f"reads ({e}); nothing was copied") from e

    def has_blob(self, digest: str) -> bool:
        return self._size(self._blob_name(digest)) is not None

    # -- blobs -----------------------------------------------------------------------------

    def iter_blob(self, descriptor: Descriptor, *,
                  check: Callable[[], None] | None = None) -> Iterator[bytes]:
        """The blob in chunks; the last chunk is held back until size and digest check out,
        so a consumer (an upload) never completes a corrupt blob."""
        name = self._blob_name(descriptor.digest)
        size = self._size(name)
        if size is None:
            raise self._missing(descriptor.digest)
        hasher = hashlib.sha256()
        pending: bytes | None = None
        received = 0
        for data in self._read(name, check):
            hasher.update(data)
            received += len(data)
            if pending is not None:
                yield pending
            pending = data
        self._check(descriptor, received, "sha256:" + hasher.hexdigest())
        if pending is not None:
            yield pending

    def verify(self, descriptors: Iterable[Descriptor], *,
               check: Callable[[], None] | None = None,
               each: Callable[[Descriptor], None] | None = None) -> None:
        """Read every blob once and check it, before anything is written anywhere: a bad
        archive is refused whole rather than half copied."""
        for descriptor in descriptors:
            for _ in self.iter_blob(descriptor, check=check):
                pass
            if each is not None:
                each(descriptor)

    # -- internals -------------------------------------------------------------------------

    def _blob_name(self, digest: str) -> str:
        if not _DIGEST.fullmatch(digest):
            raise BadArchive(f"{self.path}: {digest!r} is not a sha256 digest, so no blob "
                             "can be named by it; nothing was copied")
        return "blobs/sha256/" + digest.partition(":")[2]

    def _size(self, name: str) -> int | None:
        if self.archive:
            member = self._members.get(name)
            return member.size if member is not None else None
        target = self.path / name
        return target.stat().st_size if target.is_file() else None

    def _read(self, name: str, check: Callable[[], None] | None) -> Iterator[bytes]:
        if self.archive:
            yield from read_member(self.path, self._members[name], check=check)
            return
        with open(self.path / name, "rb") as handle:
            while True:
                if check is not None:
                    check()
                data = handle.read(CHUNK)
                if not data:
                    return
                yield data

    def _small(self, name: str, what: str) -> bytes:
        size = self._size(name)
        if size is None:
            raise BadArchive(f"{self.path}: {what} ({name}) is missing; the layout is "
                             "incomplete. Nothing was copied")
        if size > MAX_MANIFEST:
            raise BadArchive(f"{self.path}: {name} is {size} bytes, too big for {what}; "
                             "nothing was copied")
        return b"".join(self._read(name, None))

    def _missing(self, digest: str) -> BadArchive:
        return BadArchive(f"{self.path}: the blob {digest} is missing; the layout or archive "
                          "is incomplete (copied only in part?). Nothing was copied")

    def _check(self, descriptor: Descriptor, size: int, digest: str) -> None:
        if size != descriptor.size:
            raise BadArchive(f"{self.path}: the blob {descriptor.digest} has {size} bytes, "
                             f"its manifest says {descriptor.size}; the archive is damaged. "
                             "Nothing was copied")
        if digest != descriptor.digest:
            raise BadArchive(f"{self.path}: the blob {descriptor.digest} has the digest "
                             f"{digest}: its content is not what the manifest names (damaged or "
                             "altered). Nothing was copied")


class LayoutWriter:
    """Writes an OCI layout: a folder updated in place, or an oci-archive written whole.

    ``write_blob`` may be called from several threads for a folder (each blob is its own
    file); an archive takes one blob at a time (a tar is written in order), which the lock
    here ensures. Call :meth:`commit` at the end, or :meth:`abort` on failure."""

    def __init__(self, path: Path, *, archive: bool):
        self.path = Path(path)
        self.archive = archive
        self._lock = threading.Lock()
        self._written: set[str] = set()
        if archive:
            # skopeo's oci-archive destination replaces the file; so does this.
            self.index: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                                          "manifests": []}
            self._tar: TarWriter | None = TarWriter(self.path)
            self._tar.add_bytes("oci-layout", LAYOUT_FILE)
        else:
            self._tar = None
            if self.path.exists() and not self.path.is_dir():
                raise BadArchive(f"{self.path} is a file, not a folder: an oci: layout is a "
                                 "folder (use oci-archive: for a single file); nothing was "
                                 "written")
            (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
            existing = self.path / "index.json"
            self.index = (json.loads(existing.read_bytes()) if existing.is_file() else
                          {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
            self.index.setdefault("manifests", [])

    def has_blob(self, digest: str) -> bool:
        if digest in self._written:
            return True
        return not self.archive and (self.path / "blobs" / "sha256" /
                                     digest.partition(":")[2]).is_file()

    def write_blob(self, descriptor: Descriptor, chunks: Iterable[bytes]) -> int:
        """Store a blob (the chunks are checked against ``descriptor``); bytes written."""
        if self.has_blob(descriptor.digest):
            return 0
        name = "blobs/sha256/" + descriptor.digest.partition(":")[2]
        if self._tar is not None:
            with self._lock:
                if descriptor.digest in self._written:
                    return 0
                digest = self._tar.add(name, chunks, descriptor.size)
                self._checked(descriptor, digest)
                self._written.add(descriptor.digest)
            return descriptor.size
        final = self.path / name
        partial = final.with_name(f".partial-{final.name}-{threading.get_ident()}")
        hasher, size = hashlib.sha256(), 0
        try:
            with open(partial, "wb") as handle:
                for data in chunks:
                    hasher.update(data)
                    size += len(data)
                    handle.write(data)
            if size != descriptor.size:
                raise ProtocolError(f"{descriptor.digest}: {size} bytes arrived, "
                                    f"{descriptor.size} expected; nothing was kept")
            self._checked(descriptor, "sha256:" + hasher.hexdigest())
            os.replace(partial, final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        with self._lock:
            self._written.add(descriptor.digest)
        return size

    def write_manifest(self, manifest: Manifest) -> None:
        self.write_blob(manifest.descriptor(), [manifest.data])

    def set_ref(self, ref: str | None, manifest: Manifest) -> str | None:
        """Point ``ref`` at ``manifest`` in index.json (written by :meth:`commit`); returns
        the digest it pointed at before (None: new). An entry of the same name is replaced,
        as skopeo does; without a ref the entry is added unnamed."""
        entry: dict[str, Any] = {"mediaType": manifest.media_type, "digest": manifest.digest,
                                 "size": manifest.size}
        before = None
        if ref:
            entry["annotations"] = {REF_NAME: ref}
            kept = []
            for old in self.index["manifests"]:
                if (old.get("annotations") or {}).get(REF_NAME) == ref:
                    before = old.get("digest")
                else:
                    kept.append(old)
            self.index["manifests"] = kept
        self.index["manifests"].append(entry)
        return before

    def commit(self) -> None:
        data = json.dumps(self.index, separators=(",", ":")).encode()
        if self._tar is not None:
            self._tar.add_bytes("index.json", data)
            self._tar.commit()
            return
        (self.path / "oci-layout").write_bytes(LAYOUT_FILE)
        partial = self.path / ".partial-index.json"
        partial.write_bytes(data)
        os.replace(partial, self.path / "index.json")

    def abort(self) -> None:
        """An archive in the making is removed; a folder keeps its old index.json (blobs
        already stored stay, harmless: a rerun skips them)."""
        if self._tar is not None:
            self._tar.abort()

    def _checked(self, descriptor: Descriptor, digest: str) -> None:
        if digest != descriptor.digest:
            raise ProtocolError(f"{descriptor.digest} arrived with the digest {digest}: "
                                "corrupt; nothing was kept")

