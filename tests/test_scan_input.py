"""Scans that could not read everything say so: a package database that is a link, too big
or unparseable, and an image whose distribution or release is unknown, become notes on the
report, and its status ends in "(incomplete)" instead of reporting fewer issues.

Images are pushed to a real registry and scanned against the real OSV records.
"""

from __future__ import annotations

import json

import pytest

from registry_widgets.operations.core import clients
from registry_widgets.operations.security import sbom as sbom_module
from registry_widgets.operations.security.scan import scan
from tests.scan_images import OSV, data, push, tar_layer


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


STATUS = data("debian12-dpkg-status")


def debian(*entries) -> list[bytes]:
    return [tar_layer([("etc/os-release", data("debian12-os-release"), 0o644, None),
                       *entries])]


def test_a_symlinked_status_is_a_note_and_the_scan_says_incomplete(registry):
    image = push(registry, "scan/input", "symlink", debian(
        ("var/lib/dpkg/status", None, 0o777, "/var/lib/dpkg/status-real"),
        ("var/lib/dpkg/status-real", STATUS, 0o644, None)))
    report = scan(image["reference"], feed=OSV)
    assert not [f for f in report.findings if f.kind == "vulnerability"]  # nothing was read...
    layer = image["layers"][0][:19]
    assert report.notes[0] == (
        f"could not read the package database /var/lib/dpkg/status of layer 1 ({layer}): a "
        "symbolic link to /var/lib/dpkg/status-real, not followed")
    assert report.status.endswith("(incomplete)") and not report.complete  # ...and it says so
    document = json.loads(report.to_json())
    assert (document["complete"], document["notes"][0]) == (False, report.notes[0])


def test_an_oversized_or_unparseable_status_is_a_note(registry, monkeypatch):
    monkeypatch.setattr(sbom_module, "MAX_DB_BYTES", 1024)
    image = push(registry, "scan/input", "big", debian(("var/lib/dpkg/status", STATUS, 0o644,
                                                        None)))
    report = scan(image["reference"], feed=OSV)
    layer = image["layers"][0][:19]
    assert report.notes[0].endswith(f"/var/lib/dpkg/status of layer 1 ({layer}): {len(STATUS)} "
                                    "bytes, more than the 1024 bytes a package database can be")
    assert not [f for f in report.findings if f.kind == "vulnerability"]
    assert report.status == "2 issues (incomplete)"  # no USER, no HEALTHCHECK: no package
    monkeypatch.undo()
    garbage = bytes(range(256)) * 8
    image = push(registry, "scan/input", "garbage", debian(("var/lib/dpkg/status", garbage,
                                                            0o644, None)))
    report = scan(image["reference"], feed=OSV)
    assert "no dpkg package entries in its 2048 bytes" in report.notes[0]
    assert not report.complete


def test_a_database_replaced_in_a_later_layer_leaves_no_note(registry):
    lower = debian(("var/lib/dpkg/status", None, 0o777, "/elsewhere"))[0]
    upper = tar_layer([("var/lib/dpkg/status", STATUS, 0o644, None)])
    report = scan(push(registry, "scan/input", "replaced", [lower, upper])["reference"],
                  feed=OSV)
    assert report.complete and report.notes[1:] == []
    assert {f.package for f in report.findings if f.kind == "vulnerability"} >= {"openssl"}


def test_an_unknown_distribution_is_a_note(registry):
    no_os_release = [tar_layer([("var/lib/dpkg/status", STATUS, 0o644, None)])]
    report = scan(push(registry, "scan/input", "no-os", no_os_release)["reference"], feed=OSV)
    assert any("distribution is unknown (no /etc/os-release)" in n for n in report.notes)
    assert report.status.endswith("(incomplete)")
    sid = [tar_layer([("etc/os-release", b"ID=debian\nPRETTY_NAME=sid\n", 0o644, None),
                      ("var/lib/dpkg/status", STATUS, 0o644, None)])]
    report = scan(push(registry, "scan/input", "sid", sid)["reference"], feed=OSV)
    assert any("release of 'debian' is unknown" in n for n in report.notes)
