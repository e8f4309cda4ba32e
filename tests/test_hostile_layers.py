"""Malformed and hostile layers: each ends ``sbom``/``scan`` with one ``UnreadableLayer``
naming the image and the layer (index and digest), at once, never a hang or a raw error.

Each layer is built here, byte by byte where tarfile would refuse to write it, pushed to a
real registry behind a good first layer (so the index is checked too) and read back through
the registry. The bounds come from ``security.layers``; the member count is lowered for its
test so that the layer stays small.
"""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from registry_widgets.errors import UnreadableLayer
from registry_widgets.operations.core import clients
from registry_widgets.operations.security import layers
from registry_widgets.operations.security.sbom import sbom
from registry_widgets.operations.security.scan import scan
from tests.scan_images import OSV, data
from tests.support import files_layer, push_image

OS_RELEASE = data("debian12-os-release")


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def header(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, link: str = "",
           fmt: int = tarfile.USTAR_FORMAT) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname, info.mtime = size, kind, link, 1700000000
    return info.tobuf(fmt, "utf-8", "surrogateescape")


def member(name: str, content: bytes = b"", kind: bytes = tarfile.REGTYPE,
           link: str = "") -> bytes:
    """One tar member as tarfile writes it: header, content, padding to 512 bytes."""
    pad = -len(content) % tarfile.BLOCKSIZE
    return header(name, len(content), kind, link) + content + b"\0" * pad


def pax(records: bytes) -> bytes:
    """A PAX extended header ('x') holding ``records`` as they are (however malformed)."""
    return member("././@PaxHeader", records, tarfile.XHDTYPE)


def layer(*members: bytes, end: bool = True) -> bytes:
    """A gzip tar of the members, after an os-release (so the bad part is not at byte 0, where
    tarfile already refuses a broken header)."""
    tar = member("etc/os-release", OS_RELEASE) + b"".join(members)
    return gzip.compress(tar + (b"\0" * 1024 if end else b""), mtime=0)


def with_checksum_broken(block: bytes) -> bytes:
    return block[:148] + b"0000000\0" + block[156:]


HOSTILE = {
    # a PAX record whose length field is 0: a walker that advances by it never moves
    "pax-length-0": (layer(pax(b"0 path=x\n"), member("srv/a", b"a")), "bad tar header"),
    # a number field tarfile hands to int() as it is
    "pax-bad-number": (layer(pax(b"25 GNU.sparse.size=abc\n"), member("srv/a", b"a")),
                       "not a readable tar"),
    # tarfile alone reads a broken header after the first as the end of the archive
    "bad-checksum": (layer(with_checksum_broken(member("srv/a", b"a")),
                           member("var/lib/dpkg/status", b"Package: x\n")), "bad tar header"),
    "dot-dot-name": (layer(member("../../../etc/cron.d/x", b"* * * * * root sh\n")),
                     "climbs out of the image root"),
    "dot-dot-inside": (layer(member("usr/lib/../../../x", b"x")), "climbs out"),
    "dot-dot-hard-link": (layer(member("srv/shadow", kind=tarfile.LNKTYPE,
                                       link="../../../etc/shadow")), "climbs out"),
    # 8 GiB promised in a blob of a few hundred bytes
    "huge-size": (layer(header("srv/big", 0o77777777777) + b"\0" * 512), "more than a blob"),
    "negative-size": (layer(pax(b"15 size=-2048\n"), member("srv/a", b"a")),
                      "bytes, more than a blob"),
    "huge-extended-header": (layer(header("././@PaxHeader", 64 << 20, tarfile.XHDTYPE)),
                             "extended header of"),
    "gnu-sparse": (layer(header("srv/sparse", 0, tarfile.GNUTYPE_SPARSE, fmt=tarfile.GNU_FORMAT)),
                   "sparse"),
    # a member promising more than the stream holds (within the inflate bound): tarfile
    # would ask for the rest for ever
    "cut-short": (layer(header("srv/big", 100_000) + b"x" * 512, end=False), "ends before"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_layer_is_one_clear_error_naming_the_layer(registry, case):
    blob, message = HOSTILE[case]
    image = push_image(registry, "scan/hostile", case, layers=[files_layer({"srv/ok": b"ok"}),
                                                               blob])
    digest = image.layers[1].digest
    with pytest.raises(UnreadableLayer, match=message) as raised:
        sbom(image.reference)
    error = raised.value
    assert (error.index, error.layer, error.reference) == (1, digest, image.reference)
    assert f"layer 2 ({digest[:19]}) of {image.reference}" in str(error)


def test_scan_stops_on_a_hostile_layer_too(registry):
    blob, _ = HOSTILE["pax-length-0"]
    image = push_image(registry, "scan/hostile", "scan", layers=[blob])
    with pytest.raises(UnreadableLayer, match="layer 1 .*bad tar header") as raised:
        scan(image.reference, feed=OSV)
    assert raised.value.index == 0


def test_more_members_than_the_bound_is_refused(registry, monkeypatch):
    monkeypatch.setattr(layers, "MAX_MEMBERS", 50)
    many = layer(*(member(f"srv/{i}") for i in range(60)))
    image = push_image(registry, "scan/hostile", "many", layers=[many])
    with pytest.raises(UnreadableLayer, match="more than 50 members"):
        sbom(image.reference)
    fewer = layer(*(member(f"srv/{i}") for i in range(40)))
    assert sbom(push_image(registry, "scan/hostile", "fewer", layers=[fewer]).reference).os


def test_links_resolve_inside_the_image_and_are_never_refused_for_being_absolute(registry):
    # real images are full of absolute links (/etc/alternatives, the dynamic loader); a link
    # is resolved inside the image root, where ".." stops at the root as in a container
    tar = (member("usr/lib/os-release", OS_RELEASE)
           + member("etc/os-release", kind=tarfile.SYMTYPE, link="/usr/lib/os-release")
           + member("etc/alternatives/awk", kind=tarfile.SYMTYPE, link="/usr/bin/mawk")
           + member("usr/lib/os-release-up", kind=tarfile.SYMTYPE,
                    link="../../../../../etc/passwd"))
    image = push_image(registry, "scan/links", "1",
                       layers=[gzip.compress(tar + b"\0" * 1024, mtime=0)])
    contents = sbom(image.reference)
    assert contents.distro == "debian 12"
    # and one climbing out resolves to the image's own root
    tar = (member("usr/lib/os-release", OS_RELEASE)
           + member("etc/os-release", kind=tarfile.SYMTYPE, link="../../../../usr/lib/os-release"))
    image = push_image(registry, "scan/links", "2",
                       layers=[gzip.compress(tar + b"\0" * 1024, mtime=0)])
    assert sbom(image.reference).distro == "debian 12"


def test_a_tar_written_by_tarfile_in_every_format_still_reads(registry):
    for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
            info = tarfile.TarInfo("etc/os-release")
            info.size = len(OS_RELEASE)
            tar.addfile(info, io.BytesIO(OS_RELEASE))
        image = push_image(registry, "scan/formats", str(fmt),
                           layers=[gzip.compress(buf.getvalue(), mtime=0)])
        assert sbom(image.reference).distro == "debian 12", fmt
