"""``sbom``: packages read from an image's layers through the registry.

The images are pushed over raw HTTP from real package metadata files (tests/scan_data: a
Debian 12 dpkg status excerpt, an Alpine 3.19 installed database, requests 2.28.1's
dist-info METADATA, semver's package.json).
"""

from __future__ import annotations

import json

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from registry_widgets.errors import NotFound, ProtocolError
from registry_widgets.operations.core import clients
from registry_widgets.operations.security.packages import (parse_apk_installed,
                                                          parse_dpkg_status,
                                                          parse_python_metadata)
from registry_widgets.operations.security.sbom import (cyclonedx_json, database_kind, os_ecosystem,
                                              parse_os_release, sbom, sbom_table)
from tests.support import push_image
from tests.scan_images import alpine_layers, data, debian_layers, distroless_layers, push, tar_layer


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


# --- the parsers, on the real files -----------------------------------------------------------

def test_dpkg_status_keeps_source_packages_and_skips_removed_ones():
    packages = {p["name"]: p for p in parse_dpkg_status(data("debian12-dpkg-status").decode())}
    assert set(packages) == {"base-files", "libc6", "libidn2-0", "libssl3", "openssl", "zlib1g"}
    assert "libgnutls30" not in packages  # "deinstall ok config-files": not installed
    assert packages["libssl3"] | {} == {"name": "libssl3", "version": "3.0.11-1~deb12u2",
                                        "source": "openssl", "source_version": "3.0.11-1~deb12u2",
                                        "arch": "amd64", "license": ""}
    # a binNMU: the binary's version has +b1, the source's is in parentheses
    assert (packages["libidn2-0"]["version"], packages["libidn2-0"]["source"],
            packages["libidn2-0"]["source_version"]) == ("2.3.3-1+b1", "libidn2", "2.3.3-1")
    assert packages["zlib1g"]["version"] == "1:1.2.13.dfsg-1"  # the epoch is kept
    assert packages["base-files"]["source"] == "base-files"  # no Source: the binary's own name


def test_apk_database_keeps_the_origin():
    packages = {p["name"]: p for p in parse_apk_installed(data("alpine319-apk-installed").decode())}
    assert set(packages) == {"musl", "libcrypto3", "libssl3", "busybox"}
    assert (packages["libcrypto3"]["version"], packages["libcrypto3"]["source"],
            packages["libcrypto3"]["license"]) == ("3.1.4-r5", "openssl", "Apache-2.0")


def test_python_metadata_reads_headers_not_the_body():
    [pkg] = parse_python_metadata(data("requests-2.28.1-METADATA").decode())
    assert (pkg["name"], pkg["version"], pkg["license"]) == ("requests", "2.28.1", "Apache 2.0")


@pytest.mark.parametrize("text, expected", [
    (data("debian12-os-release").decode(), "Debian:12"),
    (data("alpine319-os-release").decode(), "Alpine:v3.19"),
    ('ID=ubuntu\nVERSION_ID="22.04"\n', "Ubuntu:22.04"),
    ('ID=fedora\nVERSION_ID=40\n', None),
])
def test_os_release_names_the_osv_ecosystem(text, expected):
    assert os_ecosystem(parse_os_release(text)) == expected


@pytest.mark.parametrize("path, kind", [
    ("etc/os-release", "os-release"),
    ("usr/lib/os-release", "os-release"),
    ("var/lib/dpkg/status", "dpkg"),
    ("var/lib/dpkg/status-old", None),
    ("var/lib/dpkg/status.d/libssl3", "dpkg"),
    ("var/lib/dpkg/status.d/libssl3.md5sums", None),
    ("lib/apk/db/installed", "apk"),
    ("usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA", "python"),
    ("usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO", "python"),
    ("usr/lib/python3/dist-packages/distro_info-1.5.egg-info", "python"),
    ("usr/lib/python3/dist-packages/requests/METADATA", None),
    ("srv/node_modules/semver/package.json", "npm"),
    ("srv/node_modules/@babel/core/package.json", "npm"),
    ("srv/node_modules/semver/functions/package.json", None),
    ("srv/package.json", None),
])
def test_which_files_are_package_databases(path, kind):
    assert database_kind(path) == kind


# --- through the registry ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def debian_image(registry):
    return push(registry, "scan/debian", "12", debian_layers())


def test_sbom_of_a_debian_image_with_python_and_npm(debian_image):
    contents = sbom(debian_image["reference"])
    assert contents.digest == debian_image["digest"]
    assert contents.distro == "debian 12"
    found = {(p.type, p.name): p for p in contents.packages}
    assert set(found) == {("deb", n) for n in ("base-files", "libc6", "libidn2-0", "libssl3",
                                                "openssl", "zlib1g")} | {
        ("pypi", "requests"), ("pypi", "urllib3"), ("npm", "semver")}
    libssl = found[("deb", "libssl3")]
    assert (libssl.version, libssl.source, libssl.ecosystem) == ("3.0.11-1~deb12u2", "openssl", "Debian:12")
    assert libssl.purl == "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"
    assert found[("pypi", "requests")].purl == "pkg:pypi/requests@2.28.1"
    assert found[("npm", "semver")].purl == "pkg:npm/semver@7.5.1"
    assert found[("npm", "semver")].path == "/srv/app/node_modules/semver/package.json"
    # the layer that brought each package
    base, top = debian_image["layers"]
    assert {p.layer for p in contents.packages if p.name != "urllib3"} == {base}
    assert (found[("pypi", "urllib3")].layer, found[("pypi", "urllib3")].layer_index) == (top, 1)


def test_whiteouts_of_a_later_layer_remove_packages(debian_image):
    names = {p.name for p in sbom(debian_image["reference"]).packages}
    assert "chardet" not in names  # .wh.chardet-5.1.0.dist-info in the top layer
    assert "lodash" not in names  # opt/old made opaque (.wh..wh..opq) in the top layer


def test_a_database_deleted_in_the_top_layer_is_gone(registry):
    image = push(registry, "scan/deleted", "1", debian_layers()[:1] + [
        tar_layer([("var/lib/dpkg/.wh.status", b"", 0o644, None)])])
    packages = sbom(image["reference"]).packages
    assert {p.type for p in packages} == {"pypi", "npm"}


def test_distroless_status_d_and_a_symlinked_os_release(registry):
    image = push(registry, "scan/distroless", "1", distroless_layers())
    contents = sbom(image["reference"])
    assert contents.os["VERSION_CODENAME"] == "bookworm"
    [pkg] = contents.packages  # the .md5sums file is not a package
    assert (pkg.name, pkg.version, pkg.source, pkg.path) == (
        "libssl3", "3.0.11-1~deb12u2", "openssl", "/var/lib/dpkg/status.d/libssl3")


def test_sbom_of_an_alpine_image(registry):
    image = push(registry, "scan/alpine", "3.19", alpine_layers())
    contents = sbom(image["reference"])
    found = {p.name: p for p in contents.packages}
    assert found["libcrypto3"].ecosystem == "Alpine:v3.19"
    assert found["libcrypto3"].purl == ("pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64"
                                        "&distro=alpine-3.19.1&upstream=openssl")


def test_table_and_cyclonedx_validate_against_the_schema(debian_image):
    contents = sbom(debian_image["reference"])
    table = sbom_table(contents)
    assert len(table) == len(contents.packages) == 9
    assert list(table.query("name == 'openssl'")["source"]) == ["openssl"]
    document = cyclonedx_json(contents)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(document) is None
    bom = json.loads(document)
    assert bom["metadata"]["component"]["type"] == "container"
    purls = {c.get("purl") for c in bom["components"]}
    assert "pkg:pypi/requests@2.28.1" in purls
    assert {"type": "operating-system", "name": "debian", "version": "12"}.items() <= \
        [c for c in bom["components"] if c["type"] == "operating-system"][0].items()


def test_a_schema_violation_is_caught_by_the_validator():
    # the validation above can fail: a component without its required type
    bad = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
                      "components": [{"name": "x"}]})
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(bad) is not None


def test_layers_that_are_not_tars_get_one_clear_error(registry):
    image = push_image(registry, "scan/random", "1", layer_sizes=(4096,), seed="not-a-tar")
    with pytest.raises(ProtocolError, match="layer 1 .* of .*scan/random:1"):
        sbom(image.reference)


def test_a_missing_platform_is_named(registry):
    image = push(registry, "scan/plain", "1", alpine_layers())
    contents = sbom(image["reference"], platform="linux/arm64")  # single-platform: ignored
    assert contents.packages
    with pytest.raises(NotFound):
        sbom(f"{registry.host}/scan/plain:no-such-tag")


def _tar(files: dict[str, bytes], fmt: int) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["pax", "gnu"])
def test_long_paths_in_pax_and_gnu_tars(registry, fmt):
    import gzip
    import tarfile

    deep = "usr/local/lib/python3.11/site-packages/" + "x" * 90 + "/requests-2.28.1.dist-info/METADATA"
    files = {deep: data("requests-2.28.1-METADATA"), "big.bin": b"\1" * 700_001}
    layer = gzip.compress(_tar(files, tarfile.PAX_FORMAT if fmt == "pax" else tarfile.GNU_FORMAT))
    image = push(registry, f"scan/long-{fmt}", "1", [layer])
    [pkg] = sbom(image["reference"]).packages
    assert (pkg.name, pkg.path) == ("requests", "/" + deep)


def test_plain_tar_and_multi_member_gzip_layers(registry):
    import gzip
    import tarfile

    from tests.support import RawClient
    from tests.support.images import put_manifest, upload_blob

    tar = _tar({"lib/apk/db/installed": data("alpine319-apk-installed"),
                "etc/os-release": data("alpine319-os-release")}, tarfile.PAX_FORMAT)
    half = len(tar) // 2
    two_members = gzip.compress(tar[:half]) + gzip.compress(tar[half:])  # as pigz may write
    client = RawClient(registry)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    for media_type, blob in (("application/vnd.oci.image.layer.v1.tar", tar),
                             ("application/vnd.oci.image.layer.v1.tar+gzip", two_members)):
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": upload_blob(client, "scan/kinds", config),
                                          "size": len(config)},
                               "layers": [{"mediaType": media_type, "size": len(blob),
                                           "digest": upload_blob(client, "scan/kinds", blob)}]}).encode()
        put_manifest(client, "scan/kinds", "t", manifest, "application/vnd.oci.image.manifest.v1+json")
        contents = sbom(f"{registry.host}/scan/kinds:t")
        assert len(contents.packages) == 4 and contents.distro == "alpine 3.19.1", media_type


def test_a_cut_short_gzip_layer_is_an_error(registry):
    layer = alpine_layers()[0]
    image = push_image(registry, "scan/cut", "1", layers=[layer[: len(layer) // 2]])
    with pytest.raises(ProtocolError, match="cut short|not a readable tar"):
        sbom(image.reference)


def test_whiteouts_hide_lower_layers_only_wherever_they_sit_in_the_tar(registry):
    site = "usr/lib/python3/dist-packages"
    meta = b"Metadata-Version: 2.1\nName: six\nVersion: %s\n"
    lower = tar_layer([(f"{site}/six-1.15.0.dist-info/METADATA", meta % b"1.15.0", 0o644, None)])
    # the upgrade writes the new version first, then the whiteout of the old one's folder,
    # and makes a folder opaque after adding to it
    upper = tar_layer([
        (f"{site}/six-1.16.0.dist-info/METADATA", meta % b"1.16.0", 0o644, None),
        (f"{site}/.wh.six-1.15.0.dist-info", b"", 0o644, None),
        (f"{site}/.wh.six-1.16.0.dist-info", b"", 0o644, None),  # hides nothing of this layer
    ])
    image = push(registry, "scan/upgrade", "1", [lower, upper])
    assert [(p.name, p.version) for p in sbom(image["reference"]).packages] == [("six", "1.16.0")]


def test_progress_events_per_layer(debian_image):
    events = []
    sbom(debian_image["reference"], progress=events.append)
    assert [(e.action, e.id, e.status) for e in events] == [
        ("sbom", digest, status) for digest in debian_image["layers"] for status in ("Reading", "Read")]
