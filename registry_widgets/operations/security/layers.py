"""Reading a layer as it streams from the registry: gzip inflated on the fly, then the tar
walked one member at a time, so memory stays flat whatever the layer size.

``prefetch`` runs the download (and its digest check) in a thread ahead of the reader;
``LayerReader`` inflates gzip members raw (the blob's sha256 is already verified, so gzip's
CRC-32 would only cost time); ``iter_tar`` yields each member with a function that reads its
content, skipping unread contents without copying them.

Layer 3 helper: imports ``errors`` only.
"""

from __future__ import annotations

import tarfile
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ...errors import ProtocolError

OUT_MAX = 4 << 20  # most bytes one inflate step may produce


def gzip_header_length(data: bytes) -> int | None:
    """Length of the gzip member header at the start of ``data`` (RFC 1952); None if more
    bytes are needed. Raises ValueError when it is not gzip."""
    if len(data) < 10:
        return None
    if data[:3] != b"\x1f\x8b\x08":
        raise ValueError("not a gzip stream")
    flags, pos = data[3], 10
    if flags & 4:  # FEXTRA
        if len(data) < pos + 2:
            return None
        pos += 2 + int.from_bytes(data[pos:pos + 2], "little")
    for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & bit:
            end = data.find(b"\0", pos)
            if end < 0:
                return None
            pos = end + 1
    if flags & 2:  # FHCRC
        pos += 2
    return pos if len(data) >= pos else None


class LayerReader:
    """A forward-only reader over an iterator of byte chunks, inflating gzip on the fly.

    Only the current chunk is held, so a layer of any size passes through in constant memory.
    gzip members are inflated raw (``wbits=-15``), skipping gzip's CRC-32: the blob's sha256
    is already verified by the download, and the CRC cost more than the inflating itself.
    An uncompressed tar (or a "gzip" media type over a plain tar) passes through unchanged.
    """

    def __init__(self, chunks: Iterable[bytes], media_type: str, where: str):
        self._chunks = iter(chunks)
        self._buffer = b""
        self._pos = 0
        self._pending = b""  # compressed input not yet inflated
        self._eof = False
        self._where = where
        if "zstd" in media_type:
            raise ProtocolError(f"{where} is a zstd layer ({media_type}); registry_widgets reads "
                                "gzip and uncompressed layers. Push the image with gzip layers "
                                "(docker's default) to scan it")
        self._inflate: Any = None
        self._plain = media_type.endswith(".tar")
        self._header = not self._plain  # a gzip member header is expected next

    def _fail(self, problem: object) -> ProtocolError:
        return ProtocolError(f"{self._where} is not a valid gzip stream ({problem}); the layer "
                             "is corrupt or not a tar layer")

    def _more_input(self) -> bool:
        chunk = next(self._chunks, None)
        if chunk is None:
            return False
        self._pending = self._pending + chunk if self._pending else chunk
        return True

    def _next(self) -> bytes:
        """The next piece of the tar stream; b"" at its end."""
        while True:
            if self._plain:
                if self._pending:
                    out, self._pending = self._pending, b""
                    return out
                chunk = next(self._chunks, None)
                return chunk if chunk is not None else b""
            if self._header:
                try:
                    length = gzip_header_length(self._pending)
                except ValueError:
                    if self._inflate is None:  # the first member: a plain tar after all
                        self._plain = True
                        continue
                    if not self._pending.strip(b"\0"):  # padding after the last member
                        self._pending = b""
                        if not self._more_input():
                            return b""
                        continue
                    raise self._fail("garbage after a gzip member") from None
                if length is None:
                    if not self._more_input():
                        if self._pending and self._inflate is None:
                            raise self._fail("cut short in its header")
                        return b""
                    continue
                self._pending = self._pending[length:]
                self._inflate = zlib.decompressobj(-15)
                self._header = False
            if not self._pending and not self._more_input():
                if not self._inflate.eof:
                    raise self._fail("cut short")
                return b""
            try:
                # max_length bounds memory for highly compressible layers (a GiB of zeros)
                out = self._inflate.decompress(self._pending, OUT_MAX)
            except zlib.error as e:
                raise self._fail(e) from e
            self._pending = self._inflate.unconsumed_tail
            if self._inflate.eof:
                # the 8-byte trailer (CRC, size), then perhaps another member (pigz)
                rest = self._inflate.unused_data
                while len(rest) < 8 and self._more_input():
                    rest += self._pending
                    self._pending = b""
                self._pending, self._header = rest[8:], True
            if out:
                return out

    def read(self, size: int) -> bytes:
        """Exactly ``size`` bytes, fewer only at the end of the stream."""
        while len(self._buffer) - self._pos < size and not self._eof:
            chunk = self._next()
            if not chunk:
                self._eof = True
                break
            rest = self._buffer[self._pos:]
            self._buffer, self._pos = (rest + chunk if rest else chunk), 0
        out = self._buffer[self._pos:self._pos + size]
        self._pos += len(out)
        return out

    def skip(self, size: int) -> None:
        """Drop ``size`` bytes without copying them (file contents we do not read)."""
        held = len(self._buffer) - self._pos
        if size <= held:
            self._pos += size
            return
        size -= held
        self._buffer, self._pos = b"", 0
        while size > 0:
            chunk = self._next()
            if not chunk:
                self._eof = True
                return
            if len(chunk) > size:
                self._buffer, self._pos = chunk, size
                return
            size -= len(chunk)


def prefetch(chunks: Iterable[bytes], depth: int = 4) -> Iterator[bytes]:
    """Iterate ``chunks`` in a background thread, at most ``depth`` chunks ahead.

    The download and its digest check (hashlib and sockets release the GIL) then overlap
    with inflating and reading the tar (zlib releases it too), so reading a layer costs
    little more than streaming it. Memory stays bounded by ``depth`` chunks. Errors of the
    download are raised here, in the consumer; a consumer that stops early stops the thread.
    """
    import queue
    import threading

    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def pump() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        box.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            item: Any = done
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            item = e
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    thread = threading.Thread(target=pump, name="rw-sbom-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = box.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        close = getattr(chunks, "close", None)
        thread.join(timeout=5)
        if close is not None and not thread.is_alive():
            close()


@dataclass
class TarEntry:
    name: str
    type: bytes
    mode: int
    size: int
    linkname: str

    def isdir(self) -> bool:
        return self.type == tarfile.DIRTYPE

    def isfile(self) -> bool:
        return self.type in tarfile.REGULAR_TYPES

    def issym(self) -> bool:
        return self.type == tarfile.SYMTYPE


def _pax_fields(data: bytes) -> dict[str, str]:
    out, pos = {}, 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        length = int(data[pos:space])
        key, _, value = data[space + 1:pos + length - 1].partition(b"=")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def iter_tar(reader: LayerReader) -> Iterator[tuple[TarEntry, Callable[[], bytes]]]:
    """The members of a tar stream, each with a function that reads its content (call it
    before the next member, or the content is skipped without being copied).

    Handles ustar, GNU long names (``L``/``K``) and PAX headers (``x``; global ``g`` ignored),
    which is what image builders write. tarfile's own stream mode copies every byte it skips
    through small buffers; this walks a multi-GiB layer at the speed of inflating it."""
    long_name = long_link = None
    pax: dict[str, str] = {}
    while True:
        block = reader.read(tarfile.BLOCKSIZE)
        if len(block) < tarfile.BLOCKSIZE or block == tarfile.NUL * tarfile.BLOCKSIZE:
            return  # end of archive (two zero blocks), or a stream cut at a block boundary
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as e:
            raise tarfile.ReadError(f"bad tar header: {e}") from e
        padded = -(-info.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
        if info.type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE,
                         tarfile.XGLTYPE):
            data = reader.read(padded)[:info.size]
            if info.type == tarfile.GNUTYPE_LONGNAME:
                long_name = data.rstrip(b"\0").decode("utf-8", "surrogateescape")
            elif info.type == tarfile.GNUTYPE_LONGLINK:
                long_link = data.rstrip(b"\0").decode("utf-8", "surrogateescape")
            elif info.type == tarfile.XHDTYPE:
                pax = _pax_fields(data)
            continue
        size = int(pax["size"]) if "size" in pax else info.size
        padded = -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
        entry = TarEntry(name=pax.get("path") or long_name or info.name, type=info.type,
                         mode=info.mode, size=size,
                         linkname=pax.get("linkpath") or long_link or info.linkname)
        long_name = long_link = None
        pax = {}
        consumed = False

        def content(size: int = size, padded: int = padded) -> bytes:
            nonlocal consumed
            consumed = True
            return reader.read(padded)[:size]

        has_data = entry.type not in (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE,
                                      tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE)
        yield entry, content
        if has_data and not consumed:
            reader.skip(padded)
