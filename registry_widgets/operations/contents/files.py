"""``files`` and ``read_file``: an image's merged filesystem as a table, and one file's bytes.

Similar to ``crane export IMAGE - | tar -t`` and ``crane export IMAGE - | tar -xO PATH``,
without an engine and without writing the image anywhere: the layers stream from the
registry through ``tree``.

Imports ``errors``, ``progress``, ``reference``, the core's ``arguments`` and ``clients``,
``security.layers`` and ``tree``.
"""

from __future__ import annotations

import posixpath
from typing import Any

from ...errors import InvalidArgument, NotFound
from ...progress import ProgressCallback
from ...reference import Reference, parse_reference
from ..core.arguments import check_optional_str
from ..core.clients import client_for
from ..security.layers import walk_tar
from .tree import (OPAQUE, WHITEOUT, Entry, check_layers, layer_stream, merge, normal_path,
                   pick_image)

COLUMNS = ["path", "type", "size", "mode", "link", "layer", "layer_digest"]
MAX_LINKS = 40  # symbolic links followed for one path, as Linux's ELOOP limit


def entries_frame(entries: list[Entry], columns: list[str] = COLUMNS) -> Any:
    """Entries as a DataFrame sorted by path; ``mode`` as octal text ("0755"), ``layer``
    counted from 1 as people do."""
    import pandas as pd

    rows = [{"path": e.path, "type": e.type, "size": e.size, "mode": f"{e.mode:04o}",
             "link": e.link, "layer": e.layer + 1, "layer_digest": e.layer_digest,
             "digest": e.digest} for e in sorted(entries, key=lambda e: e.path)]
    return pd.DataFrame(rows, columns=columns)


def files(ref: str | Reference, *, platform: str | None = None,
          progress: ProgressCallback | None = None) -> Any:
    """Every path in the image as a container would see it: a DataFrame with ``path``,
    ``type`` (file, dir, symlink, hardlink, ...), ``size``, ``mode`` (octal), ``link`` (a
    link's target), ``layer`` (1 for the first) and ``layer_digest`` (the layer that last
    wrote the path).

    Similar to ``crane export IMAGE - | tar -tv``. Each layer is streamed once; whiteouts
    and opaque directories are applied as overlayfs would. For a multi-arch index,
    ``platform`` ("linux/arm64") picks the child; by default linux/amd64. A hard link's
    size is its target's."""
    ref = parse_reference(ref)
    platform = check_optional_str("platform", platform)
    client = client_for(ref.registry)
    _, image = pick_image(client, ref, platform)
    check_layers(ref, image)
    overlay = merge(client, ref, image.layers, progress=progress)
    entries = list(overlay.entries.values())
    sizes = {e.path: e.size for e in entries if e.type == "file"}
    entries = [Entry(e.path, e.type, sizes.get(e.link, 0), e.mode, e.link, e.layer,
                     e.layer_digest) if e.type == "hardlink" else e for e in entries]
    return entries_frame(_with_parents(entries))


def _with_parents(entries: list[Entry]) -> list[Entry]:
    """Add the folders a tar implies without a member of their own (``bin/tool`` with no
    ``bin/``): a container sees them, as directories of mode 0755."""
    have = {e.path: e for e in entries}
    for entry in entries:
        for parent in _parents(entry.path):
            if parent != "/" and parent not in have:
                have[parent] = Entry(parent, "dir", 0, 0o755, "", entry.layer,
                                     entry.layer_digest)
    return list(have.values())


def _resolve(path: str, link: str) -> str:
    """Where symlink ``path`` -> ``link`` points, inside the image root (never the host's)."""
    return normal_path(link if link.startswith("/") else
                       posixpath.join(posixpath.dirname(path), link))


def _parents(path: str) -> list[str]:
    out = []
    while path != "/":
        path = posixpath.dirname(path)
        out.append(path)
    return out


def read_file(ref: str | Reference, path: str, *, platform: str | None = None) -> bytes:
    """The bytes of one file of the image (``"/etc/os-release"``), as a container sees it.

    Similar to ``crane export IMAGE - | tar -xO PATH``, but only the layers needed are
    streamed: newest first, stopping at the layer that wrote the file, or at one that
    deleted it (a whiteout). Symbolic links are followed inside the image, never on this
    machine; a hard link reads its target. A missing path raises NotFound; a directory
    InvalidArgument."""
    ref = parse_reference(ref)
    if not isinstance(path, str) or not path.strip():
        raise InvalidArgument(f"path must name a file of the image, such as '/etc/os-release', "
                              f"not {path!r}: nothing was read", reference=str(ref))
    platform = check_optional_str("platform", platform)
    client = client_for(ref.registry)
    _, image = pick_image(client, ref, platform)
    check_layers(ref, image)
    wanted = normal_path(path)
    top = len(image.layers) - 1
    for _ in range(MAX_LINKS + 1):
        found = _find(client, ref, image.layers, wanted, top)
        kind, value, layer = found
        if kind == "file":
            return value
        if kind == "symlink":
            wanted, top = value, len(image.layers) - 1  # links resolve from the top
        elif kind == "hardlink":
            wanted, top = value, layer  # a hard link's target is in its layer or below
        elif kind == "dir":
            raise InvalidArgument(f"{path} is a directory in {ref}, not a file: nothing was "
                                  "read. files() lists what is in it", reference=str(ref))
        elif kind == "other":
            raise InvalidArgument(f"{path} in {ref} is {value}, not a regular file: it has "
                                  "no content to read", reference=str(ref))
        else:
            raise NotFound(f"{path} is not in {ref}" + (f" ({value})" if value else "")
                           + ": files() lists what the image holds", registry=ref.registry,
                           reference=str(ref))
    raise InvalidArgument(f"{path} in {ref} is a chain of more than {MAX_LINKS} symbolic "
                          "links (a loop?): nothing was read", reference=str(ref))


def _find(client: Any, ref: Reference, layers: list, wanted: str,
          top: int) -> tuple[str, Any, int]:
    """Look for ``wanted`` from layer ``top`` down: ("file", bytes), ("symlink", target),
    ("hardlink", target), ("dir", None), ("other", what), ("missing", why)."""
    parents = set(_parents(wanted))
    inside = wanted.rstrip("/") + "/"
    for index in range(top, -1, -1):
        layer = layers[index]
        hides = ""
        implied = False  # a member under ``wanted``: a folder the tar has no entry for
        for member, content in walk_tar(layer_stream(client, ref, index, layer)):
            name = normal_path(member.name)
            parent, base = posixpath.split(name)
            if base == OPAQUE and (parent in parents):
                hides = f"layer {index + 1} empties {parent}"
                continue
            if base.startswith(WHITEOUT):
                gone = posixpath.join(parent, base[len(WHITEOUT):])
                if gone == wanted or gone in parents:
                    hides = f"layer {index + 1} deletes {gone}"
                continue
            if name in parents and not member.isdir():
                if member.issym():  # a linked folder: resolve it and look again from the top
                    rest = wanted[len(name):]
                    return "symlink", _resolve(name, member.linkname) + rest, index
                return "missing", f"{name} is not a directory", index
            if name != wanted:
                implied = implied or name.startswith(inside)
                continue
            if member.isfile():
                return "file", content(), index
            if member.issym():
                return "symlink", _resolve(name, member.linkname), index
            if member.islnk():
                return "hardlink", normal_path(member.linkname), index
            if member.isdir():
                return "dir", None, index
            return "other", "a device or fifo", index
        if implied:
            return "dir", None, index
        if hides:  # a layer deletes only what is below it: searched it first, then stop
            return "missing", hides, index
    return "missing", "", -1
