"""Reading a layer as it streams from the registry: gzip inflated on the fly, then the tar
walked one member at a time by Python's ``tarfile`` in stream mode, so memory stays flat
whatever the layer size, and a malformed or hostile tar ends in one ``UnreadableLayer``.

``prefetch`` runs the download (and its digest check) in a thread ahead of the reader;
``LayerReader`` inflates gzip members raw (the blob's sha256 is already verified, so gzip's
CRC-32 would only cost time); ``walk_tar`` yields each member with a function that reads its
content, within the bounds below (each named with its reason).

Layer 3 helper: imports ``errors`` only.
"""

from __future__ import annotations

import posixpath
import tarfile
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ...errors import RegistryWidgetsError, UnreadableLayer

OUT_MAX = 4 << 20  # most bytes one inflate step may produce
# The largest real layers (a TeX Live or a node_modules tree) hold a few hundred thousand
# files; tarfile spends some microseconds on each header, so this also ends a layer of a
# million empty headers (a few KiB of gzip) within seconds.
MAX_MEMBERS = 1_000_000
# deflate never turns one byte into more than 1032 (zlib's technical notes), so a gzip layer's
# tar cannot be longer than this many times the blob; a header promising more is corrupt or
# hostile, and is refused before tarfile would skip (or buffer) that much.
MAX_INFLATE_RATIO = 1032
# A PAX or GNU long-name record holds a path and perhaps extended attributes: kilobytes.
# tarfile reads such a record whole, so a larger one is refused before it is read.
MAX_EXTENDED_HEADER_BYTES = 1 << 20
# tarfile asks for more after the end when a header promises data that is not there (it
# skips by reading, and some of its loops wait for a byte that never comes): after this many
# empty answers the layer is called cut short instead of answering b"" forever.
MAX_READS_PAST_END = 2


@dataclass(frozen=True)
class LayerSource:
    """Which layer of which image: what every error about a layer names."""

    image: str  # the image reference
    registry: str
    index: int  # 0 for the first layer
    digest: str
    size: int  # the blob's size, from the manifest (the download checks it)

    def __str__(self) -> str:
        return f"layer {self.index + 1} ({self.digest[:19]}) of {self.image}"

    def error(self, problem: str) -> UnreadableLayer:
        return UnreadableLayer(f"{self} {problem}", registry=self.registry,
                               reference=self.image, layer=self.digest, index=self.index)


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

    def __init__(self, chunks: Iterable[bytes], media_type: str, source: LayerSource):
        self._chunks = iter(chunks)
        self._buffer = b""
        self._pos = 0
        self._pending = b""  # compressed input not yet inflated
        self._eof = False
        self._reads_past_end = 0
        self.source = source
        if "zstd" in media_type:
            raise source.error(f"is a zstd layer ({media_type}); registry_widgets reads gzip "
                               "and uncompressed layers. Push the image with gzip layers "
                               "(docker's default) to scan it")
        self._inflate: Any = None
        self._plain = media_type.endswith(".tar")
        self._header = not self._plain  # a gzip member header is expected next

    def _fail(self, problem: object) -> UnreadableLayer:
        return self.source.error(f"is not a valid gzip stream ({problem}); the layer is "
                                 "corrupt or not a tar layer")

    @property
    def max_tar_bytes(self) -> int:
        """The longest tar this blob can hold (see ``MAX_INFLATE_RATIO``)."""
        return self.source.size * (1 if self._plain else MAX_INFLATE_RATIO)

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
        if self._eof and self._pos >= len(self._buffer) and size > 0:
            self._reads_past_end += 1
            if self._reads_past_end > MAX_READS_PAST_END:
                raise self.source.error("ends before its tar does: a header promises more data "
                                        "than the layer holds (corrupt or hostile)")
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


# --- the tar, read by tarfile in stream mode ------------------------------------------------

_EXTENDED = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
             tarfile.GNUTYPE_LONGLINK)


class _StrictTarInfo(tarfile.TarInfo):
    """tarfile's header reading, made strict where a layer must be.

    ``TarFile.next`` treats a broken header after the first (a bad checksum, a PAX record of
    length 0, a header cut short) as the end of the archive, so a scan would silently miss
    everything after it: here those are a ``ReadError`` instead. Extended records are
    bounded before tarfile reads them whole, and GNU sparse members are refused (the OCI
    layer spec says layers should not hold them; tarfile would buffer their maps whole)."""

    @classmethod
    def fromtarfile(cls, tarfile_: Any) -> tarfile.TarInfo:  # as CPython's, plus the checks
        buf = tarfile_.fileobj.read(tarfile.BLOCKSIZE)
        if not buf:  # the stream ends at a header boundary, without end-of-archive blocks
            raise tarfile.EOFHeaderError("end of file header")
        at = tarfile_.fileobj.tell() - len(buf)
        try:
            obj = cls.frombuf(buf, tarfile_.encoding, tarfile_.errors)
        except tarfile.EOFHeaderError:
            raise
        except tarfile.HeaderError as e:
            raise tarfile.ReadError(f"bad tar header at byte {at}: {e}") from None
        obj.offset = at
        if obj.type == tarfile.GNUTYPE_SPARSE:
            raise tarfile.ReadError(f"{obj.name!r} is a GNU sparse file, which image layers "
                                    "should not hold")
        if obj.type in _EXTENDED and not 0 <= obj.size <= MAX_EXTENDED_HEADER_BYTES:
            raise tarfile.ReadError(f"an extended header of {obj.size} bytes at byte {at} "
                                    f"(at most {MAX_EXTENDED_HEADER_BYTES} expected)")
        try:
            return obj._proc_member(tarfile_)
        except tarfile.HeaderError as e:
            raise tarfile.ReadError(f"bad tar header at byte {at}: {e}") from None

    def _refuse_sparse(self, *args: Any) -> None:
        raise tarfile.ReadError("a GNU sparse file in PAX headers, which image layers should "
                                "not hold")

    _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _refuse_sparse


def _climbs_out(path: str) -> bool:
    """Does ``path`` (relative to the image root; a leading "/" is the root) leave the root?"""
    rel = posixpath.normpath("./" + path.lstrip("/"))
    return rel == ".." or rel.startswith("../")


# What tarfile raises on bytes it cannot make sense of (besides TarError): int() of a bad
# number field, a short sparse block, a name that does not decode.
_MALFORMED = (tarfile.TarError, ValueError, IndexError, OverflowError, UnicodeError, EOFError)


def walk_tar(reader: LayerReader) -> Iterator[tuple[tarfile.TarInfo, Callable[[], bytes]]]:
    """The members of the layer's tar, each with a function that reads its content (call it
    before asking for the next member; unread contents are skipped).

    Read by ``tarfile`` in stream mode over ``reader``. A layer that is not a tar, or whose
    tar is malformed or hostile, raises ``UnreadableLayer`` naming the image and the layer:
    a broken header anywhere, more than ``MAX_MEMBERS`` members, a member longer than the
    blob can hold, or a member name or hard link climbing out of the image root with
    ``..`` (a "tar slip": docker refuses such layers too). Nothing is extracted; symbolic
    links are never followed here (the SBOM resolves the few it needs inside the image)."""
    source = reader.source

    def unreadable(e: BaseException) -> UnreadableLayer:
        return source.error(f"is not a readable tar ({e}); is this an image rather than "
                            "another kind of artifact? If it is, the layer is corrupt or "
                            "hostile: rebuild or re-push the image")

    try:
        tar = tarfile.open(fileobj=reader, mode="r|", tarinfo=_StrictTarInfo, encoding="utf-8",
                           errors="surrogateescape")
    except RegistryWidgetsError:
        raise
    except _MALFORMED as e:
        raise unreadable(e) from e
    count = 0
    with tar:
        while True:
            try:
                member = tar.next()
            except RegistryWidgetsError:
                raise
            except _MALFORMED as e:
                raise unreadable(e) from e
            if member is None:
                return
            tar.members.clear()  # stream mode keeps every header read; memory stays flat
            count += 1
            if count > MAX_MEMBERS:
                raise source.error(f"holds more than {MAX_MEMBERS} members; no real layer "
                                   "does, so it is refused as hostile")
            has_data = member.isreg() or member.type not in tarfile.SUPPORTED_TYPES
            if has_data and (member.size < 0
                             or member.offset_data + member.size > reader.max_tar_bytes):
                raise source.error(f"has a member {member.name!r} of {member.size} bytes, more "
                                   f"than a blob of {source.size} bytes can hold (corrupt or "
                                   "hostile)")
            if _climbs_out(member.name) or (member.islnk() and _climbs_out(member.linkname)):
                what = f"{member.name!r}" + (f" -> {member.linkname!r}" if member.islnk() else "")
                raise source.error(f"has a member {what} that climbs out of the image root "
                                   "with '..' (a tar slip); refused as hostile")

            def content(member: tarfile.TarInfo = member) -> bytes:
                try:
                    handle = tar.extractfile(member)
                    return handle.read() if handle is not None else b""
                except RegistryWidgetsError:
                    raise
                except _MALFORMED as e:
                    raise unreadable(e) from e

            yield member, content
