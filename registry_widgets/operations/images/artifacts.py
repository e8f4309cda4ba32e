"""``push_artifact`` and ``pull_artifact``: files and folders as OCI artifacts, as ORAS makes them.

So that ``oras pull`` reads what we push and we read what ``oras push`` wrote, the manifest
is what oras-go's ``PackManifest(..., PackManifestVersion1_1, ...)`` writes (oras-go
``pack.go``; image-spec v1.1 "Guidelines for Artifact Usage"):

- an OCI image manifest with ``artifactType`` and the empty config
  (``application/vnd.oci.empty.v1+json``, the two bytes ``{}``, ``data`` inline);
- one layer per file, ``application/vnd.oci.image.layer.v1.tar`` (oras' default for a file,
  whatever it holds) with the ``org.opencontainers.image.title`` annotation (its name);
- a folder as one ``...layer.v1.tar+gzip`` layer whose tar holds the folder under its name,
  annotated ``io.deis.oras.content.unpack: "true"`` and ``io.deis.oras.content.digest`` (the
  sha256 of the tar before gzip), as oras-go's file store does (``content/file``);
- ``org.opencontainers.image.created`` (RFC 3339, UTC) among the manifest's annotations
  unless given; Go's JSON: compact, fields in the struct's order, map keys sorted.

The manifest PUT goes through the change engine (a replaced tag is backed up); blobs are
uploaded here. ``pull_artifact`` refuses a title or tar member that would leave the folder
(absolute, ``..``, through a symbolic link, a link pointing out) before writing anything,
and checks every digest.

Imports ``errors``, ``manifest``, ``progress``, ``reference``, ``registry``, the core's
``arguments``, ``changes``, ``clients`` and ``result``, and ``protection``.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import os
import posixpath
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator, Mapping

from ...errors import DigestMismatch, InvalidArgument, NotFound
from ...manifest import OCI_MANIFEST, Descriptor, Manifest
from ...progress import ProgressCallback, ProgressEvent, emit
from ...reference import Reference, parse_reference
from ...registry import RegistryClient
from ..core import changes
from ..core.arguments import check_bool
from ..core.changes import Change, Plan
from ..core.clients import client_for
from ..core.result import Result, human_size
from .protection import refuse_protected

# Files in one folder layer at most: the bound the layer reader keeps (security/layers.py).
MAX_MEMBERS = 1_000_000

EMPTY_CONFIG_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG = b"{}"
UNKNOWN_ARTIFACT = "application/vnd.unknown.artifact.v1"  # oras-go's default artifactType
FILE_TYPE = "application/vnd.oci.image.layer.v1.tar"  # oras' DefaultBlobMediaType
FOLDER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"  # DefaultBlobDirMediaType
TITLE = "org.opencontainers.image.title"
CREATED = "org.opencontainers.image.created"
UNPACK = "io.deis.oras.content.unpack"
CONTENT_DIGEST = "io.deis.oras.content.digest"
CHUNK = 1 << 20
IMAGE_CONFIGS = ("application/vnd.oci.image.config.v1+json",
                 "application/vnd.docker.container.image.v1+json")


def artifact_type_of(manifest: Manifest) -> str:
    """An artifact's type: ``artifactType``, else its config's media type when that is not
    an image config; "" for a container image (or an index)."""
    if manifest.is_index:
        return str(manifest.json.get("artifactType") or "")
    kind = manifest.json.get("artifactType")
    if kind:
        return str(kind)
    config = manifest.config
    if config is not None and config.media_type not in IMAGE_CONFIGS:
        return config.media_type
    return ""


def _go_json(value: Any) -> bytes:
    """JSON as Go's encoding/json writes it: compact, with <, > and & escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def _descriptor(media_type: str, digest: str, size: int,
                annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": size}
    if annotations:
        out["annotations"] = dict(sorted(annotations.items()))
    return out


class _Hashing:
    """A write-only file that hashes and counts what passes on to ``inner``."""

    def __init__(self, inner: IO[bytes]):
        self.inner, self.sha, self.size = inner, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.inner.write(data)

    def flush(self) -> None:
        self.inner.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


def _file_digest(path: Path) -> tuple[str, int]:
    sha, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return "sha256:" + sha.hexdigest(), size


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _pack_folder(folder: Path, name: str, into: IO[bytes]) -> tuple[str, str, int]:
    """The folder as a gzip tar, its members under ``name/`` (uid and gid 0, no user
    names, as oras-go's ``tarDirectory``), written to ``into``: (tar digest, blob digest,
    blob size)."""
    blob = _Hashing(into)
    with gzip.GzipFile(fileobj=blob, mode="wb", mtime=0) as zipped:  # type: ignore[arg-type]
        plain = _Hashing(zipped)  # type: ignore[arg-type]
        with tarfile.open(fileobj=plain, mode="w|",  # type: ignore[call-overload]
                          format=tarfile.PAX_FORMAT) as tar:
            for root, dirs, names in os.walk(folder):
                dirs.sort()
                # a linked folder is listed in dirs but not walked: it goes in as the link
                linked = [d for d in dirs if os.path.islink(os.path.join(root, d))]
                for entry in [root, *(os.path.join(root, n) for n in sorted(names + linked))]:
                    rel = os.path.relpath(entry, folder)
                    arcname = name if rel == "." else posixpath.join(name, *Path(rel).parts)
                    info = tar.gettarinfo(entry, arcname)
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    if info.isfile():
                        with open(entry, "rb") as handle:
                            tar.addfile(info, handle)
                    else:
                        tar.addfile(info)
    return plain.digest, blob.digest, blob.size


def _files_argument(files: Any) -> list[Path]:
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    if not isinstance(files, (list, tuple)) or not files \
            or not all(isinstance(f, (str, os.PathLike)) for f in files):
        raise InvalidArgument(f"files must be a path or a list of paths (files or folders), not "
                              f"{files!r:.100}: nothing was pushed")
    paths = [Path(f) for f in files]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InvalidArgument(f"files: {', '.join(missing)} not found on this machine: nothing "
                              "was pushed. Give paths to existing files or folders")
    titles = [_title(p) for p in paths]
    twice = sorted({t for t in titles if titles.count(t) > 1})
    if twice:
        raise InvalidArgument(f"files: two of them are called {', '.join(twice)}; an artifact "
                              "names each file by its name, so they would overwrite each other "
                              "when pulled: nothing was pushed. Rename one")
    return paths


def _title(path: Path) -> str:
    """The name a file goes by in the artifact: as given, a link not followed (as oras)."""
    return Path(os.path.abspath(path)).name


def _check_media_type(name: str, value: Any) -> str:
    if not isinstance(value, str) or value.count("/") != 1 or " " in value or \
            not all(value.split("/")):
        raise InvalidArgument(f"{name} must be a media type such as "
                              f"'application/vnd.example.model.v1', not {value!r:.100}: nothing "
                              "was pushed")
    return value


def _annotations(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in value.items()):
        raise InvalidArgument("annotations must map text to text, such as "
                              "{'org.opencontainers.image.description': 'our model'}: nothing "
                              "was pushed")
    created = value.get(CREATED)
    if created is not None:
        try:
            dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidArgument(f"annotations: {CREATED} must be an RFC 3339 time such as "
                                  f"2026-01-31T12:00:00Z, not {created!r}: nothing was pushed") \
                from None
    return dict(value)


def _upload(client: RegistryClient, repository: str, digest: str, size: int, data: Any) -> bool:
    """Upload unless the registry has the blob; True when bytes were sent."""
    if client.head_blob(repository, digest) is not None:
        return False
    client.upload_blob(repository, digest, data, size)
    return True


def push_artifact(ref: str | Reference, files: Any, *, artifact_type: str = UNKNOWN_ARTIFACT,
                  annotations: Mapping[str, str] | None = None, force: bool = False,
                  progress: ProgressCallback | None = None) -> Result:
    """Push files and folders as one OCI artifact, as ``oras push REF FILE... --artifact-type
    TYPE`` does: ``oras pull`` and ``pull_artifact`` get them back byte for byte.

    ``files``: a path or a list of paths; each file is one layer named by its file name,
    each folder one gzip tar layer (unpacked on pull). ``artifact_type``: what it is, such
    as ``application/vnd.example.model.v1`` (oras' "unknown" type by default).
    ``annotations``: the manifest's (``org.opencontainers.image.created`` is added unless
    given). Over an existing tag the image there is backed up first (``restore(result)``
    puts it back); a protected tag is refused unless ``force=True``."""
    ref = parse_reference(ref)
    if not ref.tag or ref.digest:
        raise InvalidArgument(f"push_artifact needs a tag to push to, such as {ref.name}:v1, "
                              f"not {ref}: nothing was pushed", reference=str(ref))
    artifact_type = _check_media_type("artifact_type", artifact_type)
    extra = _annotations(annotations)
    check_bool("force", force)
    paths = _files_argument(files)
    client = client_for(ref.registry)
    head = client.head_manifest(ref.repository, ref.tag)
    before = head.digest if head is not None else None
    if before is not None:
        refuse_protected(ref.registry, ref.repository, [ref.tag], force=force,
                         action=f"pushing an artifact over {ref} (it points at {before})")
    result = Result(action="push-artifact", target=str(ref),
                    details={"replaces": {ref.tag: before} if before else {}, "files": []})
    layers = []
    with tempfile.TemporaryDirectory(prefix="rw-artifact-") as scratch:
        for path in paths:
            title = _title(path)
            if path.is_dir():
                packed = Path(scratch) / f"{len(layers)}.tar.gz"
                with open(packed, "wb") as handle:
                    # a folder given as a link is packed as the folder it names
                    tar_digest, digest, size = _pack_folder(path.resolve(), title, handle)
                layer = _descriptor(FOLDER_TYPE, digest, size, {
                    CONTENT_DIGEST: tar_digest, UNPACK: "true", TITLE: title})
                source = packed
            else:
                digest, size = _file_digest(path)
                layer = _descriptor(FILE_TYPE, digest, size, {TITLE: title})
                source = path
            emit(progress, ProgressEvent("push-artifact", id=digest, status="Uploading",
                                         total=size, message=title))
            if _upload(client, ref.repository, digest, size, _chunks(source)):
                result.bytes_moved += size
            layers.append(layer)
            result.details["files"].append({"title": title, "digest": digest, "size": size,
                                            "folder": path.is_dir()})
    _upload(client, ref.repository, digest_of_empty(), len(EMPTY_CONFIG), EMPTY_CONFIG)
    extra.setdefault(CREATED, dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    config = _descriptor(EMPTY_CONFIG_TYPE, digest_of_empty(), len(EMPTY_CONFIG))
    config["data"] = base64.b64encode(EMPTY_CONFIG).decode()
    manifest = Manifest(_go_json({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
        "config": config, "layers": layers, "annotations": dict(sorted(extra.items()))}),
        OCI_MANIFEST)
    result.digest = manifest.digest
    result.details["artifact_type"] = artifact_type
    plan = Plan(action="push-artifact", registry=ref.registry, target=str(ref), force=force,
                changes=[Change(ref.repository, ref.tag, before=before, after=manifest.digest,
                                manifest=manifest, reason="the artifact")])
    if before == manifest.digest:
        result.changed = False
        return result
    return changes.apply(plan, result=result, progress=progress)


def digest_of_empty() -> str:
    return "sha256:" + hashlib.sha256(EMPTY_CONFIG).hexdigest()


# --- pull ----------------------------------------------------------------------------------

def _refuse(ref: Reference, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{ref} {problem}: it would write outside the folder, so nothing "
                           "was written. Pull only artifacts you trust, or ask whoever pushed "
                           "it to fix its file names", reference=str(ref))


def _inside(folder: Path, name: str) -> Path | None:
    """``folder/name`` if ``name`` is a plain relative path that stays in the folder, through
    no symbolic link on disk; None otherwise."""
    if not name or name.startswith("/") or "\\" in name or "\0" in name:
        return None
    norm = posixpath.normpath(name)
    if norm in (".", "..") or norm.startswith("../"):
        return None
    target = folder.joinpath(*norm.split("/"))
    parent = target.parent
    while parent != folder:  # no link on the way (a link there could point anywhere)
        if parent.is_symlink():
            return None
        parent = parent.parent
    return target


def artifact_files(ref: str | Reference) -> list[dict[str, Any]]:
    """The files of an artifact as its manifest lists them: title, media type, size,
    digest and whether it is a folder (a tar unpacked on pull)."""
    ref = parse_reference(ref)
    manifest = client_for(ref.registry).get_manifest(ref.repository, ref.reference)
    return [_file_row(layer) for layer in manifest.layers if layer.annotations.get(TITLE)]


def _file_row(layer: Descriptor) -> dict[str, Any]:
    return {"title": layer.annotations.get(TITLE, ""), "media_type": layer.media_type,
            "size": layer.size, "digest": layer.digest,
            "folder": layer.annotations.get(UNPACK) == "true"}


def _check_members(ref: Reference, folder: Path, tar_path: Path, title: str,
                   expected: str | None) -> int:
    """Every member of a folder layer stays under ``title/`` in the folder (links too),
    and the tar's digest is the annotated one: checked before anything is extracted.
    Returns the bytes its files unpack to (their tar headers' sizes), for the disk check."""
    sha = hashlib.sha256()
    unpacked, count = 0, 0
    with gzip.open(tar_path, "rb") as raw:
        hashing = _ReadHashing(raw, sha)
        with tarfile.open(fileobj=hashing, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                count += 1
                unpacked += member.size if member.isfile() else 0
                if count > MAX_MEMBERS:  # the layer reader's bound: no real folder is near it
                    raise InvalidArgument(
                        f"the folder {title!r} of {ref} holds more than {MAX_MEMBERS:,} files: "
                        "nothing was written. Pull only artifacts you trust",
                        reference=str(ref))
                name = posixpath.normpath(member.name)
                if name != title and not name.startswith(title + "/"):
                    raise _refuse(ref, f"has a member {member.name!r} outside its folder "
                                       f"{title!r}")
                if _inside(folder, name) is None:
                    raise _refuse(ref, f"has a member {member.name!r} that leaves the folder")
                if member.issym() or member.islnk():
                    link = member.linkname
                    where = link if member.islnk() else posixpath.join(
                        posixpath.dirname(name), link)
                    if link.startswith("/") or _inside(folder, where) is None or not (
                            posixpath.normpath(where) + "/").startswith(title + "/"):
                        raise _refuse(ref, f"has a link {member.name!r} -> {link!r} pointing "
                                           "out of its folder")
                elif not (member.isfile() or member.isdir()):
                    raise _refuse(ref, f"has a member {member.name!r} that is a device or fifo")
        while hashing.read(CHUNK):
            pass
    if expected and "sha256:" + sha.hexdigest() != expected:
        raise DigestMismatch(f"the folder {title!r} of {ref} unpacks to sha256:"
                             f"{sha.hexdigest()}, not the {expected} its annotation says: "
                             "nothing was written from it", registry=ref.registry,
                             reference=str(ref))
    return unpacked


class _ReadHashing:
    def __init__(self, inner: IO[bytes], sha: Any):
        self.inner, self.sha = inner, sha

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.sha.update(data)
        return data


def pull_artifact(ref: str | Reference, folder: str | os.PathLike[str], *,
                  progress: ProgressCallback | None = None) -> Result:
    """Write an artifact's files into ``folder``, as ``oras pull REF -o FOLDER`` does.

    Each layer with a title becomes the file of that name (a folder layer is unpacked under
    its name); digests are checked. A title or tar member that would leave the folder (an
    absolute path, ``..``, through a symbolic link, a link pointing out of it) refuses the
    whole pull before anything is written. Existing files of the same names are replaced.
    ``result.details["files"]`` lists what was written."""
    ref = parse_reference(ref)
    if not isinstance(folder, (str, os.PathLike)) or not str(folder):
        raise InvalidArgument(f"folder must be a path on this machine, not {folder!r:.100}: "
                              "nothing was pulled", reference=str(ref))
    root = Path(folder).resolve()
    client = client_for(ref.registry)
    manifest = client.get_manifest(ref.repository, ref.reference)
    if manifest.is_index:
        raise InvalidArgument(f"{ref} is an index of platforms, not an artifact: nothing was "
                              "pulled. Use copy or the engine's pull for images",
                              reference=str(ref))
    layers = [layer for layer in manifest.layers if layer.annotations.get(TITLE)]
    if not layers:
        raise NotFound(f"{ref} has no files with names (no layer carries {TITLE}): nothing was "
                       "pulled. Is it a container image? files() lists what is inside one",
                       registry=ref.registry, reference=str(ref))
    for layer in layers:  # every name is checked before anything is written
        title = layer.annotations[TITLE]
        if _inside(root, title) is None or posixpath.normpath(title) != title.rstrip("/"):
            raise _refuse(ref, f"names a file {title!r}")
    root.mkdir(parents=True, exist_ok=True)
    result = Result(action="pull-artifact", source=str(ref), target=str(root),
                    digest=manifest.digest, details={"files": []})
    with tempfile.TemporaryDirectory(prefix=".rw-pull-", dir=root) as scratch:
        staged, unpacked = [], 0
        for index, layer in enumerate(layers):
            emit(progress, ProgressEvent("pull-artifact", id=layer.digest, status="Downloading",
                                         total=layer.size, message=layer.annotations[TITLE]))
            path = Path(scratch) / str(index)
            sha = hashlib.sha256()
            with open(path, "wb") as handle:
                for chunk in client.iter_blob(ref.repository, layer.digest):
                    sha.update(chunk)
                    handle.write(chunk)
            if "sha256:" + sha.hexdigest() != layer.digest:  # iter_blob checks too
                raise DigestMismatch(f"{layer.annotations[TITLE]} of {ref} is not {layer.digest}:"
                                     " nothing was written", registry=ref.registry,
                                     reference=str(ref))
            result.bytes_moved += layer.size
            title = posixpath.normpath(layer.annotations[TITLE])
            if layer.annotations.get(UNPACK) == "true":
                unpacked += _check_members(ref, root, path, title,
                                           layer.annotations.get(CONTENT_DIGEST))
            staged.append((layer, title, path))
        # A small gzip can unpack to far more than the disk holds (a "zip bomb"): say so
        # before writing instead of failing half-way with the folder half-replaced.
        free = shutil.disk_usage(root).free
        if unpacked > free:
            raise InvalidArgument(
                f"the folders of {ref} unpack to {human_size(unpacked)}, and {root} has "
                f"{human_size(free)} free: nothing was written. Free some space or pull into "
                "another folder", reference=str(ref))
        for layer, title, path in staged:  # all checked: now write
            target = _inside(root, title)
            assert target is not None
            if layer.annotations.get(UNPACK) == "true":
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    target.unlink()
                with tarfile.open(path, "r:gz") as tar:
                    tar.extractall(root, filter="data")  # and the stdlib's own checks too
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                os.replace(path, target)
            result.details["files"].append({**_file_row(layer), "path": str(target)})
    return result
