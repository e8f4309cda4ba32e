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

A package database that cannot be read (a symbolic or hard link, larger than
``MAX_DB_BYTES``, not parseable) is not guessed at: ``ImageContents.notes`` says which one,
of which layer, and why, so a scan can say it is incomplete.

The parsers are in ``packages``, the streamed gzip and tar reading in ``layers``.

Layer 3: imports ``errors``, ``progress``, ``reference``, ``manifest``, the shared clients and
those two helpers.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

from ...errors import NotFound, ProtocolError
from ...manifest import Descriptor, Manifest, same_platform
from ...progress import ProgressCallback, ProgressEvent, emit
from ...reference import Reference, parse_reference
from ..core.arguments import check_platform
from ..core.clients import client_for
from .layers import LayerReader, LayerSource, prefetch, walk_tar
from .packages import (PARSERS, PURL_TYPES, database_kind, os_ecosystem, parse_os_release)

log = logging.getLogger("registry_widgets.sbom")

# A package database bigger than this is not one (dpkg status of a full desktop is ~5 MiB).
MAX_DB_BYTES = 64 << 20


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
    # package databases that could not be read, one sentence each (the SBOM lacks them)
    notes: list[str] = field(default_factory=list)
    # an OCI artifact (a model, a dataset): its type and files; no layers are read
    artifact_type: str = ""
    artifact_files: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        """One line for a person: what the image is and what it holds."""
        if self.artifact_type:
            names = ", ".join(f["title"] or f["digest"][:19] for f in self.artifact_files)
            return (f"{self.reference} is an artifact of type {self.artifact_type}, not a "
                    f"container image: no packages; files: {names or 'none'}")
        return (f"{self.reference}: {len(self.packages)} packages"
                + (f" on {self.distro}" if self.distro else ""))

    @property
    def distro(self) -> str:
        """``debian 12``, ``alpine 3.19.1``; "" when the image has no os-release."""
        return " ".join(x for x in (self.os.get("ID", ""), self.os.get("VERSION_ID", "")) if x)

    @property
    def os_supported(self) -> bool:
        """Is the OS one whose advisories this package can match (or is there none at all)?"""
        return not self.os or os_ecosystem(self.os) is not None


def _normal(name: str) -> str:
    name = posixpath.normpath("/" + name).lstrip("/")
    return "" if name == "." else name


@dataclass
class _Overlay:
    """The merged view of package databases over the layers read so far."""

    # path -> (layer index, digest, content)
    files: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # os-release symlinks
    # path -> (layer index, why it was not read): dropped like a file when a layer above
    # replaces or deletes that path
    unread: dict[str, tuple[int, str]] = field(default_factory=dict)

    def remove(self, path: str) -> None:
        prefix = path + "/" if path else ""
        for table in (self.files, self.links, self.unread):
            for name in [n for n in table if n == path or n.startswith(prefix)]:
                del table[name]


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n} bytes"


def _self_and_parents(path: str) -> Iterator[str]:
    while path:
        yield path
        path = posixpath.dirname(path)


def read_layer(overlay: _Overlay, reader: LayerReader, index: int, digest: str,
               world_writable: list[str] | None = None) -> None:
    """Apply one layer's tar to ``overlay``. As the OCI layer spec says, its whiteouts
    (``.wh.<name>``, ``.wh..wh..opq``) and the files replacing directories hide what lower
    layers put there, never what this layer adds, wherever they sit in the tar."""
    hidden: list[str] = []  # paths whose lower-layer content goes
    opaque: list[str] = []  # directories whose lower-layer content goes
    files: dict[str, tuple[int, str, bytes]] = {}
    links: dict[str, str] = {}
    unread: dict[str, tuple[int, str]] = {}
    # every lower path that matters and its parent folders: what a member here can hide
    below = {p for name in (*overlay.files, *overlay.links, *overlay.unread)
             for p in _self_and_parents(name)}
    for member, content in walk_tar(reader):
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
        files.pop(path, None)  # a later entry for the same path wins, as on extraction
        links.pop(path, None)
        unread.pop(path, None)
        if member.issym() and kind == "os-release":
            # resolved inside the image (an absolute target starts at the image root, ".."
            # stops there), as the kernel does for a container's root: never on this host
            links[path] = _normal(posixpath.join(parent, member.linkname))
        elif member.isfile() and member.size <= MAX_DB_BYTES:
            files[path] = (index, digest, content())
        elif member.isfile():
            unread[path] = (index, f"{_size(member.size)}, more than the {_size(MAX_DB_BYTES)} "
                                   "a package database can be")
        elif member.issym() or member.islnk():
            kind_of_link = "symbolic" if member.issym() else "hard"
            unread[path] = (index, f"a {kind_of_link} link to {member.linkname}, not followed")
        else:
            unread[path] = (index, "not a regular file")
    for directory in opaque:
        if directory:
            prefix = directory + "/"
            for table in (overlay.files, overlay.links, overlay.unread):
                for name in [n for n in table if n.startswith(prefix)]:
                    del table[name]
        else:
            overlay.files.clear()
            overlay.links.clear()
            overlay.unread.clear()
    for path in hidden:
        overlay.remove(path)
    overlay.files.update(files)
    overlay.links.update(links)
    overlay.unread.update(unread)


def _pick_image(client: Any, ref: Reference, platform: str | None) -> tuple[Manifest, Manifest]:
    top = client.get_manifest(ref.repository, ref.reference)
    if not top.is_index:
        return top, top
    children = top.children
    wanted = platform or "linux/amd64"
    chosen = [c for c in children if same_platform(wanted, c.platform_name)]
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
    if platform is not None:  # normalised as containerd does: arm64 is linux/arm64/v8
        platform = check_platform("platform", platform)
    client = client_for(ref.registry)
    top, image = _pick_image(client, ref, platform)
    kind = artifact_type_of(image)
    if kind:  # its layers are files, not a filesystem: nothing to stream
        files = [{"title": d.annotations.get("org.opencontainers.image.title", ""),
                  "media_type": d.media_type, "size": d.size, "digest": d.digest}
                 for d in image.layers]
        return ImageContents(reference=str(ref), digest=top.digest, packages=[],
                             layers=[d.digest for d in image.layers], artifact_type=kind,
                             artifact_files=files)
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
        source = LayerSource(image=str(ref), registry=ref.registry, index=index,
                             digest=layer.digest, size=layer.size)
        emit(progress, ProgressEvent("sbom", id=layer.digest, status="Reading", total=layer.size,
                                     message=f"layer {index + 1} of {len(layers)}"))
        stream = LayerReader(prefetch(client.iter_blob(ref.repository, layer.digest)),
                             layer.media_type, source)
        top_layer = index == len(layers) - 1
        read_layer(overlay, stream, index, layer.digest, writable if top_layer else None)
        emit(progress, ProgressEvent("sbom", id=layer.digest, status="Read", current=layer.size,
                                     total=layer.size))
    os_release = _os_release(overlay)
    notes: list[str] = []
    packages = _packages(overlay, os_release, notes)
    for path, (index, why) in sorted(overlay.unread.items()):
        notes.append(_note(path, index, layers[index].digest, why))
    return ImageContents(reference=str(ref), digest=top.digest, packages=packages,
                         os=os_release, layers=[d.digest for d in layers], config=config,
                         top_layer_world_writable=writable, notes=notes)


IMAGE_CONFIGS = ("application/vnd.oci.image.config.v1+json",
                 "application/vnd.docker.container.image.v1+json")


def artifact_type_of(image: Manifest) -> str:
    """An OCI artifact's type (its ``artifactType``, else a config media type that is not an
    image config's); "" for a container image. As ``images.artifacts`` says it, a sibling
    this package may not import."""
    kind = image.json.get("artifactType")
    if kind:
        return str(kind)
    config = image.config
    return config.media_type if config is not None and config.media_type not in IMAGE_CONFIGS \
        else ""


def _note(path: str, index: int, digest: str, why: str) -> str:
    return (f"could not read the package database /{path} of layer {index + 1} "
            f"({digest[:19]}): {why}")


def _os_release(overlay: _Overlay) -> dict[str, str]:
    for path in ("etc/os-release", "usr/lib/os-release"):
        target = overlay.links.get(path, path)
        if target in overlay.files:
            return parse_os_release(overlay.files[target][2].decode("utf-8", "replace"))
    return {}


def _packages(overlay: _Overlay, os_release: dict[str, str], notes: list[str]) -> list[Package]:
    ecosystem = os_ecosystem(os_release) or ""
    distro_id = os_release.get("ID", "").lower()
    out: list[Package] = []
    for path, (index, digest, content) in sorted(overlay.files.items()):
        kind = database_kind(path)
        if kind not in PARSERS:
            continue
        text = content.decode("utf-8", "replace")
        try:
            entries = PARSERS[kind](text)
        except Exception as e:  # noqa: BLE001 - one odd file must not lose the whole SBOM
            log.warning("could not read %s: %s", path, e)
            notes.append(_note(path, index, digest, f"{type(e).__name__}: {e}"))
            continue
        if not entries and kind in ("dpkg", "apk") and text.strip():
            # an OS database with content but no package in it is not one we can read
            notes.append(_note(path, index, digest, f"no {kind} package entries in its "
                                                    f"{len(content)} bytes"))
        for entry in entries:
            eco = {"dpkg": ecosystem or "Debian", "apk": ecosystem or "Alpine",
                   "python": "PyPI", "npm": "npm"}[kind]
            pkg = Package(type=PURL_TYPES[kind], ecosystem=eco, path="/" + path, layer=digest,
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
    root = Component(name=ref.name, version=contents.digest,
                     type=ComponentType.DATA if contents.artifact_type else
                     ComponentType.CONTAINER, purl=image_purl, bom_ref=f"image:{contents.digest}",
                     description=contents.describe() if contents.artifact_type else None)
    bom.metadata.component = root
    children = []
    if contents.os:
        children.append(Component(
            name=contents.os.get("ID", "unknown"), version=contents.os.get("VERSION_ID") or None,
            type=ComponentType.OPERATING_SYSTEM, bom_ref=f"os:{contents.distro or 'unknown'}",
            description=contents.os.get("PRETTY_NAME") or None))
    for item in contents.artifact_files:  # an artifact's files, each with its digest
        children.append(Component(
            name=item["title"] or item["digest"], type=ComponentType.FILE,
            bom_ref=f"file:{item['digest']}",
            properties=[Property(name="registry_widgets:media_type", value=item["media_type"]),
                        Property(name="registry_widgets:digest", value=item["digest"])]))
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
