"""The scan samples of ``make lab`` teach: ``seed_sample`` pushes ``demo/debian-app:1.0`` and
``demo/alpine-app:1.0`` with real package databases, and a scan of them against the bundled
advisories (``notebooks/osv-demo``) has findings in every ecosystem (Debian, Alpine, PyPI),
each with the version that fixes it.

The layers are first read with raw HTTP (the oracle in ``tests/support``), so the test does not
rely on the package's own reading to know the databases are there. The advisories are real:
CVE-2024-2511 (openssl; Debian 12 fixed in 3.0.14-1~deb12u1, Alpine 3.19 in 3.1.4-r6),
CVE-2023-32681 (requests < 2.31.0, https://github.com/advisories/GHSA-j8r2-6x86-q33q) and
CVE-2023-45803 (urllib3 < 1.26.18, https://github.com/advisories/GHSA-g4mx-q9vg-27p4).
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from registry_widgets.operations.core import clients
from registry_widgets.operations.security.scan import scan
from registry_widgets.operations.security.sbom import read_image
from tests.support import get_blob, get_manifest, seed_sample, start_registry

FEED = Path(__file__).resolve().parent.parent / "notebooks" / "osv-demo"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory):
    """One registry seeded as ``make lab`` seeds it, for every test here."""
    reg = start_registry("plain", state_dir=tmp_path_factory.mktemp("scan-samples"),
                         name="scan-samples")
    digests = seed_sample(reg)
    yield reg, digests
    reg.close()


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def top_layer_files(registry, repository: str) -> dict[str, bytes]:
    """The regular files of the image's last layer, read with raw HTTP and the tarfile module."""
    manifest = json.loads(get_manifest(registry, repository, "1.0").data)
    blob = get_blob(registry, repository, manifest["layers"][-1]["digest"])
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        return {m.name.lstrip("./"): tar.extractfile(m).read() for m in tar if m.isfile()}


@pytest.mark.parametrize("repository, databases", [
    ("demo/debian-app", {"etc/os-release": b"ID=debian",
                         "var/lib/dpkg/status": b"Package: libssl3",
                         "usr/lib/python3/dist-packages/requests-2.28.1.dist-info/METADATA":
                             b"Version: 2.28.1"}),
    ("demo/alpine-app", {"etc/os-release": b"ID=alpine",
                         "lib/apk/db/installed": b"P:libcrypto3\nV:3.1.4-r5",
                         "usr/lib/python3.11/site-packages/urllib3-1.26.17.dist-info/METADATA":
                             b"Version: 1.26.17"}),
])
def test_the_samples_carry_package_databases(seeded, repository: str,
                                             databases: dict[str, bytes]) -> None:
    registry, digests = seeded
    assert f"{registry.host}/{repository}:1.0" in digests
    files = top_layer_files(registry, repository)
    for path, text in databases.items():
        assert text in files[path], f"{repository}: /{path} lacks {text!r}"


# What a scan must find: (advisory, package, installed, fixed in, ecosystem)
EXPECTED = {
    "demo/debian-app": {
        ("DEBIAN-CVE-2024-2511", "openssl", "3.0.11-1~deb12u2", "3.0.14-1~deb12u1", "Debian:12"),
        ("DEBIAN-CVE-2024-2511", "libssl3", "3.0.11-1~deb12u2", "3.0.14-1~deb12u1", "Debian:12"),
        ("GHSA-j8r2-6x86-q33q", "requests", "2.28.1", "2.31.0", "PyPI"),
    },
    "demo/alpine-app": {
        ("ALPINE-CVE-2024-2511", "libcrypto3", "3.1.4-r5", "3.1.4-r6", "Alpine:v3.19"),
        ("ALPINE-CVE-2024-2511", "libssl3", "3.1.4-r5", "3.1.4-r6", "Alpine:v3.19"),
        ("GHSA-g4mx-q9vg-27p4", "urllib3", "1.26.17", "1.26.18", "PyPI"),
    },
}


@pytest.mark.parametrize("repository", sorted(EXPECTED))
def test_a_scan_of_each_sample_finds_its_advisories(seeded, repository: str) -> None:
    registry, _ = seeded
    report = scan(f"{registry.host}/{repository}:1.0", feed=str(FEED))
    found = {(f.id, f.package, f.installed, f.fixed, f.ecosystem)
             for f in report.findings if f.kind == "vulnerability"}
    assert found == EXPECTED[repository]
    assert report.complete and report.os_supported, report.notes
    # every package of the database is read, not only the vulnerable ones
    assert report.packages == 7
    assert report.status.endswith("issues") and report.counts()["medium"] >= 1


def test_every_ecosystem_has_a_finding(seeded) -> None:
    registry, _ = seeded
    ecosystems: dict[str, int] = {}
    for repository in EXPECTED:
        for finding in scan(f"{registry.host}/{repository}:1.0", feed=str(FEED)).findings:
            if finding.kind == "vulnerability":
                family = finding.ecosystem.split(":")[0]
                ecosystems[family] = ecosystems.get(family, 0) + 1
    assert set(ecosystems) == {"Debian", "Alpine", "PyPI"}
    assert all(count >= 1 for count in ecosystems.values())


def test_the_sbom_names_the_sources_advisories_use(seeded) -> None:
    registry, _ = seeded
    contents = read_image(f"{registry.host}/demo/debian-app:1.0")
    sources = {p.name: p.source for p in contents.packages if p.type == "deb"}
    assert sources["libssl3"] == "openssl" and sources["libc6"] == "glibc"
    assert sources["zlib1g"] == "zlib"
