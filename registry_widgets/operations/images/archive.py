"""Tar files as image stores: reading members safely, and streaming them in and out.

An ``oci-archive`` is an OCI layout folder as a tar; a ``docker-archive`` is what ``docker
save`` writes. Either is read in place, never unpacked: :func:`members` indexes the tar's
regular files (name -> offset and size) and each blob is then read from its own file handle,
so several blobs stream at once and none is held in memory. A bad archive is refused with one
:class:`BadArchive` naming the file and what is wrong: not a tar, cut short, a member whose
name leaves the archive (``../``, an absolute path) or is a link.

Writing goes to ``FILE.partial`` next to the target and is renamed over it only when complete,
so a failed or cancelled export never leaves a half archive under the real name.

Imports ``errors`` only.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

from ...errors import InvalidArgument

__all__ = ["BadArchive", "Member", "members", "read_member", "TarWriter", "CHUNK", "safe_name"]

CHUNK = 1 << 20  # bytes read or written at a time: memory stays bounded whatever the image


class BadArchive(InvalidArgument):
    """An archive or layout that cannot be read as an image store (nothing was copied)."""


@dataclass(frozen=True)
class Member:
    """A regular file inside a tar: where its bytes start and how many there are."""

    name: str
    offset: int
    size: int


def members(path: Path) -> dict[str, Member]:
    """The regular files of the tar at ``path``, by normalised name (``./a`` is ``a``)."""
    if not path.is_file():
        raise BadArchive(f"{path}: no such file (or it is a folder); check the path: it is "
                         "read on the machine that runs Jupyter. Nothing was copied")
    total = path.stat().st_size
    found: dict[str, Member] = {}
    links: dict[str, str] = {}
    try:
        with tarfile.open(path, mode="r:") as tar:
            for info in tar:
                name = safe_name(path, info.name)
                if info.isdir():
                    continue
                if info.issym() or info.islnk():
                    # skopeo's docker-archive links <id>/layer.tar to <hex>.tar: a link is
                    # followed inside the archive, never out of it.
                    base = posixpath.dirname(name) if info.issym() else ""
                    links[name] = safe_name(path, posixpath.join(base, info.linkname))
                    continue
                if not info.isreg():
                    raise BadArchive(f"{path}: the member {info.name!r} is a device or fifo, "
                                     "which an image archive never holds; the archive is not "
                                     "one skopeo or docker wrote. Nothing was copied")
                if info.offset_data + info.size > total:
                    raise _truncated(path, info.name)
                found[name] = Member(name, info.offset_data, info.size)
    except tarfile.ReadError as e:
        if "unexpected end" in str(e) or "truncated" in str(e):
            raise _truncated(path, "") from e
        raise BadArchive(f"{path} is not a tar archive ({e}); an oci-archive or "
                         "docker-archive is a tar file (skopeo copy, docker save). Nothing was "
                         "copied") from e
    for name, target in links.items():
        for _ in range(8):  # a chain of links, but never a loop
            target = links.get(target, target)
        if target in found:
            found[name] = found[target]
    if not found:
        raise BadArchive(f"{path} is empty or not a tar archive: an oci-archive or "
                         "docker-archive is a tar file (skopeo copy, docker save). Nothing was "
                         "copied")
    return found


def _truncated(path: Path, name: str) -> BadArchive:
    where = f" inside {name!r}" if name else ""
    return BadArchive(f"{path} is cut short{where}: the file ends before its content does "
                      "(an interrupted download or copy?). Copy the archive again. Nothing was "
                      "copied")


def safe_name(path: Path, name: str) -> str:
    """A member's name as a relative path inside the archive; a way out is refused."""
    normal = posixpath.normpath(name.replace("\\", "/"))
    if name.startswith("/") or normal == ".." or normal.startswith("../"):
        raise BadArchive(f"{path}: the member {name!r} points outside the archive (an absolute "
                         "path or ../), as a crafted tar does: refused. Nothing was copied")
    return "" if normal == "." else normal


def read_member(path: Path, member: Member, *, check: Callable[[], None] | None = None,
                chunk: int = CHUNK) -> Iterator[bytes]:
    """The member's bytes, ``chunk`` at a time, from a file handle of its own."""
    with open(path, "rb") as handle:
        handle.seek(member.offset)
        left = member.size
        while left:
            if check is not None:
                check()
            data = handle.read(min(chunk, left))
            if not data:
                raise _truncated(path, member.name)
            left -= len(data)
            yield data


class _ChunkReader:
    """A file-like ``read(n)`` over chunks, for ``tarfile.addfile`` (which wants exactly
    ``n`` bytes until the end). A chunk is sliced where it lies, never re-joined whole, so
    a 1 MiB chunk read in pieces is not copied over and over."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._chunk = memoryview(b"")
        self._at = 0

    def read(self, n: int = -1) -> bytes:
        pieces: list[bytes] = []
        wanted = n
        while n < 0 or wanted > 0:
            if self._at >= len(self._chunk):
                try:
                    self._chunk, self._at = memoryview(next(self._chunks)), 0
                except StopIteration:
                    break
                continue
            end = len(self._chunk) if n < 0 else min(len(self._chunk), self._at + wanted)
            pieces.append(bytes(self._chunk[self._at:end]))
            wanted -= end - self._at
            self._at = end
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


class TarWriter:
    """A tar written member by member to ``FILE.partial``; :meth:`commit` renames it over
    ``FILE``, :meth:`abort` removes it. Members are streamed: a layer never sits in memory."""

    def __init__(self, path: Path):
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        path.parent.mkdir(parents=True, exist_ok=True)
        # copybufsize: tarfile moves a member's bytes in pieces this big (16 KiB otherwise)
        self._tar = tarfile.open(self.partial, mode="w:", format=tarfile.PAX_FORMAT,
                                 copybufsize=CHUNK)

    def add(self, name: str, chunks: Iterable[bytes], size: int) -> str:
        """Add a member of exactly ``size`` bytes; returns the sha256 digest of what went in."""
        hasher = hashlib.sha256()

        def hashed() -> Iterator[bytes]:
            for data in chunks:
                hasher.update(data)
                yield data

        info = tarfile.TarInfo(name)
        info.size, info.mode = size, 0o644
        self._tar.addfile(info, _ChunkReader(hashed()))  # type: ignore[arg-type]
        return "sha256:" + hasher.hexdigest()

    def add_bytes(self, name: str, data: bytes) -> str:
        return self.add(name, [data], len(data))

    def add_file(self, name: str, handle: BinaryIO, size: int) -> str:
        return self.add(name, iter(lambda: handle.read(CHUNK), b""), size)

    def commit(self) -> None:
        self._tar.close()
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        try:
            self._tar.close()
        except (OSError, tarfile.TarError):
            pass  # the partial file goes anyway
        self.partial.unlink(missing_ok=True)
