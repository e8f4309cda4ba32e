"""``sbom``: the packages inside an image, read from its layers through the registry.

No engine is needed (so it works in JupyterHub and Binder): each layer is streamed from the
registry, decompressed and read as a tar one member at a time, so memory stays flat whatever
the layer size. Only package databases are kept (a few KiB to a few MiB each):

- Debian/Ubuntu: ``var/lib/dpkg/status`` and ``var/lib/dpkg/status.d/*`` (distroless), each
  binary package with its *source* package (what Debian's advisories name);
- Alpine: ``lib/apk/db/installed`` (with the ``o:`` origin, Alpine's source package);
- Python: ``*.dist-info/METADATA`` and ``*.egg-info/PKG-INFO`` (or an ``.egg-info`` file);
- npm: ``node_modules/<name>/package.json`` and ``node_modules/@scope/<name>/package.json``;
- the distribution and release from ``etc/os-release`` (or ``usr/lib/os-release``).

A later layer's whiteouts (``.wh.<name>``, ``.wh..wh..opq``) remove what earlier layers put
there, as an overlay filesystem would: a package database deleted in the top layer is not in
the SBOM. Each package records the layer that brought it.

Output: a list of ``Package``, ``sbom_table`` (a DataFrame) and ``cyclonedx_json`` (CycloneDX
1.6 via cyclonedx-python-lib, package URLs via packageurl-python).

Layer 3: imports ``errors``, ``progress``, ``reference``, ``manifest`` and the shared clients.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
import tarfile
import zlib
from dataclasses import asdict, dataclass, field
from email.parser import HeaderParser
from typing import Any, Callable, Iterable, Iterator

from ..errors import NotFound, ProtocolError
from ..manifest import Descriptor, Manifest
from ..progress import ProgressCallback, ProgressEvent, emit
from ..reference import Reference, parse_reference
from .clients import client_for

log = logging.getLogger("registry_widgets.sbom")

# A package database bigger than this is not one (dpkg status of a full desktop is ~5 MiB).
MAX_DB_BYTES = 64 << 20
OUT_MAX = 4 << 20  # most bytes one inflate step may produce



@dataclass(frozen=True)
class Package:
    """One installed package, as an advisory feed names it."""

    name: str
    version: str
    type: str  # purl type: deb, apk, pypi, npm
    ecosystem: str  # OSV ecosystem: "Debian:12", "Alpine:v3.19", "PyPI", "npm"
    source: str = ""  # source package (dpkg Source, apk origin): what Debian/Alpine advisories name
    source_version: str = ""
    arch: str = ""
    license: str = ""
    path: str = ""  # the database file it was read from
    layer: str = ""  # digest of the layer that brought it
    layer_index: int = -1
    purl: str = ""

    @property
    def match_name(self) -> str:
        """The name an advisory uses: the source package for OS packages."""
        return self.source or self.name

    @property
    def match_version(self) -> str:
        return self.source_version or self.version


@dataclass
class ImageContents:
    """What ``sbom`` found: the packages, the distribution, and where they came from."""

    reference: str
    digest: str
    packages: list[Package]
    os: dict[str, str] = field(default_factory=dict)  # os-release fields (ID, VERSION_ID...)
    layers: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    top_layer_world_writable: list[str] = field(default_factory=list)

    @property
    def distro(self) -> str:
        """``debian 12``, ``alpine 3.19.1``; "" when the image has no os-release."""
        return " ".join(x for x in (self.os.get("ID", ""), self.os.get("VERSION_ID", "")) if x)

    @property
    def os_supported(self) -> bool:
        """Is the OS one whose advisories this package can match (or is there none at all)?"""
        return not self.os or os_ecosystem(self.os) is not None


def os_ecosystem(os_release: dict[str, str]) -> str | None:
    """The OSV ecosystem of a distribution: ``Debian:12``, ``Ubuntu:22.04``, ``Alpine:v3.19``."""
    distro = os_release.get("ID", "").lower()
    version = os_release.get("VERSION_ID", "")
    if distro == "debian":
        # testing/sid have no VERSION_ID; their advisories are under the codename-less name
        return f"Debian:{version.split('.')[0]}" if version else "Debian"
    if distro == "ubuntu" and version:
        return f"Ubuntu:{version}"
    if distro == "alpine" and version:
        return "Alpine:v" + ".".join(version.split(".")[:2])
    return None


# --- parsing package databases (pure functions, tested on real files) ---------------------

def parse_os_release(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, eq, value = line.strip().partition("=")
        if eq and key and not key.startswith("#"):
            out[key] = value.strip().strip("\"'")
    return out


def _stanzas(text: str) -> Iterator[dict[str, str]]:
    """RFC 822-style paragraphs (dpkg status): continuation lines start with a space."""
    fields: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, None
        elif line[0] in " \t":
            if key:
                fields[key] += "\n" + line.strip()
        else:
            key, _, value = line.partition(":")
            key = key.strip()
            fields[key] = value.strip()
    if fields:
        yield fields


_SOURCE = re.compile(r"^(\S+)(?:\s+\((\S+)\))?")


def parse_dpkg_status(text: str) -> list[dict[str, str]]:
    """Installed packages of a dpkg status file: name, version, source, source_version, arch.

    ``Source: openssl (3.0.11-1)`` names a source package whose version differs from the
    binary's; without a version the binary's is the source's; without ``Source`` the source
    package has the binary's name. Entries whose ``Status`` is not ``... installed`` (removed,
    config-files) are left out; distroless ``status.d`` entries have no ``Status`` at all.
    """
    out = []
    for fields in _stanzas(text):
        name, version = fields.get("Package"), fields.get("Version")
        status = fields.get("Status")
        if not name or not version or (status is not None and not status.endswith(" installed")):
            continue
        source, source_version = name, version
        match = _SOURCE.match(fields.get("Source", ""))
        if match:
            source, source_version = match.group(1), match.group(2) or version
        out.append({"name": name, "version": version, "source": source,
                    "source_version": source_version, "arch": fields.get("Architecture", ""),
                    "license": ""})
    return out


def parse_apk_installed(text: str) -> list[dict[str, str]]:
    """Alpine's ``lib/apk/db/installed``: one letter per field (P name, V version, A arch,
    o origin, L license), a blank line between packages."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if len(line) > 2 and line[1] == ":" and line[0] not in fields:
                fields[line[0]] = line[2:]
        if fields.get("P") and fields.get("V"):
            out.append({"name": fields["P"], "version": fields["V"],
                        "source": fields.get("o", fields["P"]), "source_version": fields["V"],
                        "arch": fields.get("A", ""), "license": fields.get("L", "")})
    return out


def parse_python_metadata(text: str) -> list[dict[str, str]]:
    """``METADATA``/``PKG-INFO`` headers: ``Name`` and ``Version`` (the body is the README)."""
    headers = HeaderParser().parsestr(text.split("\n\n", 1)[0] + "\n", headersonly=True)
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return []
    return [{"name": name.strip(), "version": version.strip(), "source": "", "source_version": "",
             "arch": "", "license": (headers.get("License") or "").strip()[:200]}]


def parse_package_json(text: str) -> list[dict[str, str]]:
    try:
        data = json.loads(text)
    except ValueError:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) \
            or not isinstance(data.get("version"), str):
        return []
    license_ = data.get("license")
    return [{"name": data["name"], "version": data["version"], "source": "", "source_version": "",
             "arch": "", "license": license_ if isinstance(license_, str) else ""}]


def database_kind(path: str) -> str | None:
    """Which parser reads the file at ``path`` (no leading slash), if any."""
    if path in ("etc/os-release", "usr/lib/os-release"):
        return "os-release"
    if path == "var/lib/dpkg/status" or (path.startswith("var/lib/dpkg/status.d/")
                                         and path.count("/") == 4 and not path.endswith(".md5sums")):
        return "dpkg"
    if path == "lib/apk/db/installed":
        return "apk"
    parent, base = posixpath.split(path)
    if (base == "METADATA" and parent.endswith(".dist-info")) \
            or (base == "PKG-INFO" and parent.endswith(".egg-info")) or base.endswith(".egg-info"):
        return "python"
    if base == "package.json":
        parts = parent.split("/")
        if len(parts) >= 2 and parts[-2] == "node_modules":
            return "npm"
        if len(parts) >= 3 and parts[-3] == "node_modules" and parts[-2].startswith("@"):
            return "npm"
    return None


_PARSERS = {"dpkg": parse_dpkg_status, "apk": parse_apk_installed,
            "python": parse_python_metadata, "npm": parse_package_json}
_TYPES = {"dpkg": "deb", "apk": "apk", "python": "pypi", "npm": "npm"}


# --- streaming the layers -----------------------------------------------------------------

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


class _ChunkReader:
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


def _normal(name: str) -> str:
    name = posixpath.normpath("/" + name).lstrip("/")
    return "" if name == "." else name


@dataclass
class _Overlay:
    """The merged view of package databases over the layers read so far."""

    files: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)  # path -> (layer i, digest, content)
    links: dict[str, str] = field(default_factory=dict)  # os-release symlinks

    def remove(self, path: str) -> None:
        prefix = path + "/" if path else ""
        for table in (self.files, self.links):
            for name in [n for n in table if n == path or n.startswith(prefix)]:
                del table[name]


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


def iter_tar(reader: _ChunkReader) -> Iterator[tuple[TarEntry, Callable[[], bytes]]]:
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


def _self_and_parents(path: str) -> Iterator[str]:
    while path:
        yield path
        path = posixpath.dirname(path)


def read_layer(overlay: _Overlay, reader: _ChunkReader, index: int, digest: str,
               world_writable: list[str] | None = None) -> None:
    """Apply one layer's tar to ``overlay``. As the OCI layer spec says, its whiteouts
    (``.wh.<name>``, ``.wh..wh..opq``) and the files replacing directories hide what lower
    layers put there, never what this layer adds, wherever they sit in the tar."""
    hidden: list[str] = []  # paths whose lower-layer content goes
    opaque: list[str] = []  # directories whose lower-layer content goes
    files: dict[str, tuple[int, str, bytes]] = {}
    links: dict[str, str] = {}
    # every lower path that matters and its parent folders: what a member here can hide
    below = {p for name in (*overlay.files, *overlay.links) for p in _self_and_parents(name)}
    for member, content in iter_tar(reader):
        path = _normal(member.name)
        parent, base = posixpath.split(path)
        if base == ".wh..wh..opq":
            opaque.append(parent)
            continue
        if base.startswith(".wh."):
            if posixpath.join(parent, base[4:]) in below:
                hidden.append(posixpath.join(parent, base[4:]))
            continue
        if world_writable is not None and member.mode & 0o002 and not member.issym() \
                and not (member.isdir() and member.mode & 0o1000):  # sticky dirs (/tmp) are fine
            world_writable.append("/" + path)
        if member.isdir():
            continue
        if path in below:
            hidden.append(path)  # a file (or link) here replaces whatever was below
        kind = database_kind(path)
        if kind is None:
            continue
        if member.issym() and kind == "os-release":
            links[path] = _normal(posixpath.join(parent, member.linkname))
        elif member.isfile() and member.size <= MAX_DB_BYTES:
            files[path] = (index, digest, content())
    for directory in opaque:
        if directory:
            prefix = directory + "/"
            for table in (overlay.files, overlay.links):
                for name in [n for n in table if n.startswith(prefix)]:
                    del table[name]
        else:
            overlay.files.clear()
            overlay.links.clear()
    for path in hidden:
        overlay.remove(path)
    overlay.files.update(files)
    overlay.links.update(links)


def _pick_image(client: Any, ref: Reference, platform: str | None) -> tuple[Manifest, Manifest]:
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
                       "platform=", registry=ref.registry, reference=str(ref))
    return top, client.get_manifest(ref.repository, chosen[0].digest)


def read_image(ref: str | Reference, *, platform: str | None = None,
               progress: ProgressCallback | None = None) -> ImageContents:
    """Stream every layer of ``ref`` and return its packages, os-release, config and the
    world-writable paths of its top layer (what ``scan`` and the config audit need)."""
    ref = parse_reference(ref)
    client = client_for(ref.registry)
    top, image = _pick_image(client, ref, platform)
    config: dict[str, Any] = {}
    if image.config is not None:
        try:
            config = json.loads(client.get_blob(ref.repository, image.config.digest))
        except ValueError as e:
            raise ProtocolError(f"the config of {ref} is not JSON; is it an image?",
                                registry=ref.registry, reference=str(ref)) from e
    overlay = _Overlay()
    layers: list[Descriptor] = image.layers
    writable: list[str] = []
    for index, layer in enumerate(layers):
        where = f"layer {index + 1} ({layer.digest[:19]}) of {ref}"
        emit(progress, ProgressEvent("sbom", id=layer.digest, status="Reading", total=layer.size,
                                     message=f"layer {index + 1} of {len(layers)}"))
        stream = _ChunkReader(prefetch(client.iter_blob(ref.repository, layer.digest)),
                              layer.media_type, where)
        top_layer = index == len(layers) - 1
        try:
            read_layer(overlay, stream, index, layer.digest, writable if top_layer else None)
        except tarfile.TarError as e:
            raise ProtocolError(f"{where} is not a readable tar ({e}); is this an image rather "
                                "than another kind of artifact?", registry=ref.registry,
                                reference=str(ref)) from e
        emit(progress, ProgressEvent("sbom", id=layer.digest, status="Read", current=layer.size,
                                     total=layer.size))
    os_release = _os_release(overlay)
    packages = _packages(overlay, os_release)
    return ImageContents(reference=str(ref), digest=top.digest, packages=packages,
                         os=os_release, layers=[d.digest for d in layers], config=config,
                         top_layer_world_writable=writable)


def _os_release(overlay: _Overlay) -> dict[str, str]:
    for path in ("etc/os-release", "usr/lib/os-release"):
        target = overlay.links.get(path, path)
        if target in overlay.files:
            return parse_os_release(overlay.files[target][2].decode("utf-8", "replace"))
    return {}


def _packages(overlay: _Overlay, os_release: dict[str, str]) -> list[Package]:
    ecosystem = os_ecosystem(os_release) or ""
    distro_id = os_release.get("ID", "").lower()
    out: list[Package] = []
    for path, (index, digest, content) in sorted(overlay.files.items()):
        kind = database_kind(path)
        if kind not in _PARSERS:
            continue
        try:
            entries = _PARSERS[kind](content.decode("utf-8", "replace"))
        except Exception as e:  # noqa: BLE001 - one odd file must not lose the whole SBOM
            log.warning("could not read %s: %s", path, e)
            continue
        for entry in entries:
            eco = {"dpkg": ecosystem or "Debian", "apk": ecosystem or "Alpine",
                   "python": "PyPI", "npm": "npm"}[kind]
            pkg = Package(type=_TYPES[kind], ecosystem=eco, path="/" + path, layer=digest,
                          layer_index=index, **entry)
            out.append(_with_purl(pkg, distro_id, os_release))
    return out


def _with_purl(pkg: Package, distro_id: str, os_release: dict[str, str]) -> Package:
    from packageurl import PackageURL

    qualifiers: dict[str, str] = {}
    namespace = None
    name = pkg.name
    if pkg.type in ("deb", "apk"):
        namespace = distro_id or ("debian" if pkg.type == "deb" else "alpine")
        if pkg.arch:
            qualifiers["arch"] = pkg.arch
        if os_release.get("VERSION_ID"):
            qualifiers["distro"] = f"{namespace}-{os_release['VERSION_ID']}"
        if pkg.source and pkg.source != pkg.name:
            qualifiers["upstream"] = pkg.source
    elif pkg.type == "npm" and name.startswith("@") and "/" in name:
        namespace, name = name.split("/", 1)
    elif pkg.type == "pypi":
        name = re.sub(r"[-_.]+", "-", name).lower()
    purl = PackageURL(type=pkg.type, namespace=namespace, name=name, version=pkg.version,
                      qualifiers=qualifiers or None).to_string()
    return Package(**{**asdict(pkg), "purl": purl})


# --- the verb and its outputs -------------------------------------------------------------

def sbom(ref: str | Reference, *, platform: str | None = None,
         progress: ProgressCallback | None = None) -> ImageContents:
    """The packages inside an image, read from its layers through the registry.

    Similar to ``syft <image>`` or ``trivy image --format cyclonedx``, without an engine. For a
    multi-arch index, ``platform`` (``linux/arm64``) picks a child; by default linux/amd64.
    ``sbom_table(result)`` is the DataFrame, ``cyclonedx_json(result)`` the CycloneDX document.
    """
    return read_image(ref, platform=platform, progress=progress)


TABLE_COLUMNS = ["name", "version", "type", "ecosystem", "source", "source_version", "arch",
                 "license", "purl", "path", "layer"]


def sbom_table(contents: ImageContents) -> Any:
    """One row per package (``TABLE_COLUMNS``), sorted by type then name."""
    import pandas as pd

    rows = [{c: getattr(p, c) for c in TABLE_COLUMNS} for p in contents.packages]
    frame = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    return frame.sort_values(["type", "name"], kind="stable").reset_index(drop=True)


def cyclonedx_json(contents: ImageContents, *, indent: int | None = 2) -> str:
    """The SBOM as a CycloneDX 1.6 JSON document: the image as the metadata component, its
    distribution as an ``operating-system`` component, every package a ``library`` with its
    purl and the layer that brought it as a property."""
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    ref = parse_reference(contents.reference)
    bom = Bom()
    image_purl = PackageURL(type="oci", name=ref.repository.rsplit("/", 1)[-1],
                            version=contents.digest,
                            qualifiers={"repository_url": ref.name, **({"tag": ref.tag} if ref.tag else {})})
    root = Component(name=ref.name, version=contents.digest, type=ComponentType.CONTAINER,
                     purl=image_purl, bom_ref=f"image:{contents.digest}")
    bom.metadata.component = root
    children = []
    if contents.os:
        children.append(Component(
            name=contents.os.get("ID", "unknown"), version=contents.os.get("VERSION_ID") or None,
            type=ComponentType.OPERATING_SYSTEM, bom_ref=f"os:{contents.distro or 'unknown'}",
            description=contents.os.get("PRETTY_NAME") or None))
    seen: set[str] = set()
    for pkg in contents.packages:
        ref_id = pkg.purl if pkg.purl not in seen else f"{pkg.purl}#{pkg.path}"
        seen.add(ref_id)
        properties = [Property(name="registry_widgets:layer", value=pkg.layer),
                      Property(name="registry_widgets:path", value=pkg.path)]
        if pkg.source and pkg.source != pkg.name:
            properties.append(Property(name="registry_widgets:source", value=pkg.source))
        children.append(Component(name=pkg.name, version=pkg.version, type=ComponentType.LIBRARY,
                                  purl=PackageURL.from_string(pkg.purl), bom_ref=ref_id,
                                  properties=properties))
    for child in children:
        bom.components.add(child)
    bom.register_dependency(root, children)
    return JsonV1Dot6(bom).output_as_string(indent=indent)
