"""Where an image is: a registry reference, or a file in skopeo's transport syntax.

``copy`` and ``sync`` take, besides ``registry/repository:tag`` (or ``docker://...``), the
names skopeo uses for images kept as files (REGISTRY-NOTES: "Archives and layouts"):

- ``oci:DIR[:REF]``: an OCI image layout folder; ``REF`` is an index entry's
  ``org.opencontainers.image.ref.name`` annotation;
- ``oci-archive:FILE[:REF]``: the same folder as a tar file;
- ``docker-archive:FILE[:REPO:TAG]``: what ``docker save`` writes and ``docker load`` reads.

As in skopeo, the path ends at the first ``:`` after the transport, so a path cannot hold
one and a reference may (``oci:/mirror:team/app:1.0``). Pure: imports ``errors`` and
``reference`` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ...errors import BadReference
from ...reference import Reference, parse_reference

__all__ = ["FileLocation", "FILE_TRANSPORTS", "is_file_location", "parse_location"]

FILE_TRANSPORTS = ("oci", "oci-archive", "docker-archive")
# The image-layout spec's grammar for ref.name: components of alphanumerics joined by
# one of -._:@+ (or "--"), separated by "/".
_COMPONENT = r"[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*"
_OCI_REF = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
# "oci:5000/app" is the registry "oci" on port 5000, not a layout: a transport is only
# taken when what follows is not a port.
_PORT = re.compile(r"\d+/")


@dataclass(frozen=True)
class FileLocation:
    """An image (or a layout holding many) on this machine's file system."""

    transport: str  # one of FILE_TRANSPORTS
    path: Path
    ref: str | None = None  # the tag inside the layout or archive; None: the only one

    @property
    def is_archive(self) -> bool:
        """A tar file (``oci-archive``, ``docker-archive``), not a folder."""
        return self.transport != "oci"

    def with_ref(self, ref: str | None) -> "FileLocation":
        return FileLocation(self.transport, self.path, ref)

    def __str__(self) -> str:
        return f"{self.transport}:{self.path}" + (f":{self.ref}" if self.ref else "")


def is_file_location(text: object) -> bool:
    """Whether ``text`` names a file transport (``oci:``, ``oci-archive:``, ...)."""
    if isinstance(text, FileLocation):
        return True
    if not isinstance(text, str):
        return False
    transport, sep, rest = text.partition(":")
    return bool(sep) and transport in FILE_TRANSPORTS and not _PORT.match(rest)


def parse_location(text: str | Reference | FileLocation, *,
                   what: str = "image") -> Reference | FileLocation:
    """A registry :class:`Reference` or a :class:`FileLocation`; BadReference names ``what``
    (the argument) and says what is wrong, before anything is read or written."""
    if isinstance(text, (Reference, FileLocation)):
        return text
    if isinstance(text, str) and text.startswith("docker://"):
        return parse_reference(text[len("docker://"):])
    if not is_file_location(text):
        return parse_reference(text)
    transport, _, rest = text.partition(":")
    path, sep, ref = rest.partition(":")
    if not path.strip():
        raise BadReference(f"{what} {text!r} names no file: write {transport}:PATH[:REF], for "
                           f"example {transport}:/data/app.tar:1.0; nothing was done",
                           reference=text)
    if sep and not ref:
        raise BadReference(f"{what} {text!r} ends with ':' but names no reference after it: "
                           "drop the ':' or add the tag; nothing was done", reference=text)
    if ref:
        _check_ref(transport, ref, text, what)
    return FileLocation(transport, Path(path).expanduser(), ref or None)


def _check_ref(transport: str, ref: str, text: str, what: str) -> None:
    if transport == "docker-archive":
        if ref.startswith("@"):
            raise BadReference(f"{what} {text!r}: pick an image of a docker-archive by its "
                               "repo:tag (see manifest.json's RepoTags), not by index; nothing "
                               "was done", reference=text)
        parse_reference(ref)  # its own BadReference says what is wrong with repo:tag
        return
    if not _OCI_REF.fullmatch(ref):
        raise BadReference(f"{what} {text!r}: {ref!r} is not a reference an OCI layout can "
                           "hold (letters, digits and . _ - : @ + between them, / between "
                           "parts, such as 1.0 or team/app:1.0); nothing was done",
                           reference=text)
