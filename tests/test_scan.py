"""``scan``: an image's packages against OSV feeds written from real published advisories,
the configuration audit, exemptions, ``fail_on``, and the JSON/SARIF outputs.

Advisories (tests/scan_data/osv): CVE-2024-2511 in openssl, Debian 12 (fixed in
3.0.14-1~deb12u1) and Alpine 3.19 (fixed in 3.1.4-r6); CVE-2023-32681 / GHSA-j8r2-6x86-q33q
in requests (introduced 2.3.0, fixed 2.31.0); CVE-2022-25883 / GHSA-c2qf-rxjj-qqgw in the
npm semver package (fixed 5.7.2, 6.3.1, 7.5.2).
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile

import pytest

from registry_widgets.errors import BadReference, FeedError, ScanFailed, Unauthorized
from registry_widgets.operations.core import clients
from registry_widgets.operations.images.copy import copy
from registry_widgets.operations.security.exemptions import (add_exemption, load_exemptions, parse_scope,
                                                    remove_exemption)
from registry_widgets.operations.security.osv import open_feed, publish_feed
from registry_widgets.operations.security.scan import scan
from registry_widgets.operations.security.versions import affected_by, compare
from tests.scan_images import OSV, alpine_layers, debian_layers, push, tar_layer
from tests.support import get_manifest


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def record(name: str) -> dict:
    return json.loads((OSV / f"{name}.json").read_text())


def is_affected(name: str, ecosystem: str, version: str) -> tuple[bool, str]:
    """What the real record says about ``version`` (every affected entry of that ecosystem)."""
    for entry in record(name)["affected"]:
        if entry["package"]["ecosystem"] == ecosystem:
            hit, fixed = affected_by(ecosystem, version, entry["ranges"], entry.get("versions", []))
            if hit:
                return hit, fixed
    return False, ""


@pytest.mark.parametrize("ecosystem, lower, higher", [
    ("Debian:12", "3.0.14-1~deb12u1", "3.0.14-1"),  # ~ sorts before the end of the string
    ("Debian:12", "3.0.9-1", "3.0.14-1~deb12u1"),  # numbers, not characters
    ("Debian:12", "3.0.14-1", "1:1.0-1"),  # the epoch wins
    ("Debian:12", "2.3.3-1", "2.3.3-1+b1"),
    ("Alpine:v3.19", "3.1.4-r6", "3.1.4-r10"),
    ("Alpine:v3.19", "1.2.4_git20230717-r4", "1.2.5-r0"),  # musl's: univers rejects _git
    ("Alpine:v3.19", "1.2.4-r9", "1.2.4_git20230717-r4"),  # post-release suffix
    ("Alpine:v3.19", "1.2_rc1-r0", "1.2-r0"),  # pre-release suffix
    ("Alpine:v3.19", "1.2-r0", "1.2_p1-r0"),
    ("Alpine:v3.19", "9.3_p2-r1", "9.6_p1-r0"),
    ("PyPI", "2.9.0", "2.31.0"),
    ("PyPI", "2.31.0rc1", "2.31.0"),
    ("npm", "7.5.2", "7.10.0"),
    ("npm", "7.5.2-beta.1", "7.5.2"),
])
def test_each_ecosystem_orders_versions_its_own_way(ecosystem, lower, higher):
    assert compare(ecosystem, lower, higher) == -1
    assert compare(ecosystem, higher, lower) == 1


@pytest.mark.parametrize("advisory, ecosystem, version, affected, fixed", [
    # Debian 12 openssl: fixed in 3.0.14-1~deb12u1
    ("DEBIAN-CVE-2024-2511", "Debian:12", "3.0.11-1~deb12u2", True, "3.0.14-1~deb12u1"),
    ("DEBIAN-CVE-2024-2511", "Debian:12", "3.0.9-1", True, "3.0.14-1~deb12u1"),  # "3.0.9" > "3.0.14" as text
    ("DEBIAN-CVE-2024-2511", "Debian:12", "3.0.13-1~deb12u1", True, "3.0.14-1~deb12u1"),
    ("DEBIAN-CVE-2024-2511", "Debian:12", "3.0.14-1~deb12u1", False, ""),
    ("DEBIAN-CVE-2024-2511", "Debian:12", "3.0.14-1", False, ""),  # "3.0.14-1" < the fix as text
    ("DEBIAN-CVE-2024-2511", "Debian:12", "3.0.15-1~deb12u1", False, ""),
    ("DEBIAN-CVE-2024-2511", "Debian:11", "1.1.1w-0+deb11u1", False, ""),  # another release
    # Alpine 3.19 openssl: fixed in 3.1.4-r6
    ("ALPINE-CVE-2024-2511", "Alpine:v3.19", "3.1.4-r5", True, "3.1.4-r6"),
    ("ALPINE-CVE-2024-2511", "Alpine:v3.19", "3.1.3-r0", True, "3.1.4-r6"),
    ("ALPINE-CVE-2024-2511", "Alpine:v3.19", "3.1.4-r6", False, ""),
    ("ALPINE-CVE-2024-2511", "Alpine:v3.19", "3.1.4-r10", False, ""),  # "r10" < "r6" as text
    # requests: introduced 2.3.0, fixed 2.31.0
    ("GHSA-j8r2-6x86-q33q", "PyPI", "2.2.1", False, ""),
    ("GHSA-j8r2-6x86-q33q", "PyPI", "2.3.0", True, "2.31.0"),
    ("GHSA-j8r2-6x86-q33q", "PyPI", "2.9.0", True, "2.31.0"),  # "2.9.0" > "2.31.0" as text
    ("GHSA-j8r2-6x86-q33q", "PyPI", "2.28.1", True, "2.31.0"),
    ("GHSA-j8r2-6x86-q33q", "PyPI", "2.30.0", True, "2.31.0"),
    ("GHSA-j8r2-6x86-q33q", "PyPI", "2.31.0", False, ""),
    ("GHSA-j8r2-6x86-q33q", "PyPI", "2.32.3", False, ""),
    # semver: three ranges
    ("GHSA-c2qf-rxjj-qqgw", "npm", "5.7.1", True, "5.7.2"),
    ("GHSA-c2qf-rxjj-qqgw", "npm", "5.7.2", False, ""),
    ("GHSA-c2qf-rxjj-qqgw", "npm", "6.3.0", True, "6.3.1"),
    ("GHSA-c2qf-rxjj-qqgw", "npm", "6.3.1", False, ""),
    ("GHSA-c2qf-rxjj-qqgw", "npm", "7.5.1", True, "7.5.2"),
    ("GHSA-c2qf-rxjj-qqgw", "npm", "7.5.2", False, ""),
    ("GHSA-c2qf-rxjj-qqgw", "npm", "7.10.0", False, ""),  # "7.10.0" < "7.5.2" as text
])
def test_both_sides_of_each_fixed_version(advisory, ecosystem, version, affected, fixed):
    assert is_affected(advisory, ecosystem, version) == (affected, fixed)


def test_ubuntu_packages_match_osv_lts_records():
    from registry_widgets.operations.security.scan import _ecosystems

    assert _ecosystems("Ubuntu:22.04") == ("Ubuntu:22.04", "Ubuntu", "Ubuntu:22.04:LTS",
                                           "Ubuntu:Pro:22.04:LTS")
    assert _ecosystems("PyPI") == ("PyPI",)


def test_last_affected_and_explicit_versions():
    ranges = [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"last_affected": "1.4"}]}]
    assert affected_by("PyPI", "1.4", ranges)[0] and not affected_by("PyPI", "1.4.1", ranges)[0]
    assert affected_by("PyPI", "0.9", [], ["0.9"])[0]


# --- scanning images --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def images(registry):
    return {
        "debian": push(registry, "scan/app", "1.0", debian_layers()),
        "debian-fixed": push(registry, "scan/app", "1.1", debian_layers(
            openssl="3.0.14-1~deb12u1", requests="2.31.0", semver="7.5.2")),
        "alpine": push(registry, "scan/alpine", "3.19.1", alpine_layers()),
        "alpine-fixed": push(registry, "scan/alpine", "3.19.2", alpine_layers(openssl="3.1.4-r10")),
        "fedora": push(registry, "scan/fedora", "40", [tar_layer([
            ("etc/os-release", b"ID=fedora\nVERSION_ID=40\n", 0o644, None)])]),
    }


def vulnerabilities(report) -> set[tuple[str, str, str, str]]:
    return {(f.id, f.package, f.installed, f.fixed) for f in report.findings if f.kind == "vulnerability"}


def test_scan_finds_the_published_advisories(images):
    report = scan(images["debian"]["reference"], feed=OSV)
    assert vulnerabilities(report) == {
        ("DEBIAN-CVE-2024-2511", "libssl3", "3.0.11-1~deb12u2", "3.0.14-1~deb12u1"),
        ("DEBIAN-CVE-2024-2511", "openssl", "3.0.11-1~deb12u2", "3.0.14-1~deb12u1"),
        ("GHSA-j8r2-6x86-q33q", "requests", "2.28.1", "2.31.0"),
        ("GHSA-c2qf-rxjj-qqgw", "semver", "7.5.1", "7.5.2"),
    }
    by_id = {(f.id, f.package): f for f in report.findings}
    requests = by_id[("GHSA-j8r2-6x86-q33q", "requests")]
    assert "CVE-2023-32681" in requests.aliases
    assert (requests.severity, requests.score) == ("medium", 6.1)  # from the CVSS 3.1 vector
    assert requests.layer == images["debian"]["layers"][0]
    libssl = by_id[("DEBIAN-CVE-2024-2511", "libssl3")]
    assert (libssl.source, libssl.aliases, libssl.severity) == ("openssl", ("CVE-2024-2511",), "unknown")
    assert report.status == f"{len(report.findings)} issues"


def test_updated_packages_have_no_findings(images):
    report = scan(images["debian-fixed"]["reference"], feed=OSV)
    assert vulnerabilities(report) == set()


def test_alpine_findings_and_fixed_image(images):
    report = scan(images["alpine"]["reference"], feed=OSV)
    assert vulnerabilities(report) == {
        ("ALPINE-CVE-2024-2511", "libcrypto3", "3.1.4-r5", "3.1.4-r6"),
        ("ALPINE-CVE-2024-2511", "libssl3", "3.1.4-r5", "3.1.4-r6")}
    assert vulnerabilities(scan(images["alpine-fixed"]["reference"], feed=OSV)) == set()


def test_an_unsupported_os_says_so(images):
    report = scan(images["fedora"]["reference"], feed=OSV)
    assert report.status == "unsupported OS"
    assert (report.distro, report.os_supported) == ("fedora 40", False)


# --- feeds -----------------------------------------------------------------------------------

def test_the_index_is_built_once_and_rebuilt_when_the_feed_changes(tmp_path):
    feed_dir = tmp_path / "feed"
    shutil.copytree(OSV, feed_dir)
    first = open_feed(feed_dir)
    assert first.records == 4
    built = first.index.stat().st_mtime_ns
    again = open_feed(feed_dir)
    assert (again.index, again.index.stat().st_mtime_ns) == (first.index, built)
    (feed_dir / "GHSA-j8r2-6x86-q33q.json").unlink()
    changed = open_feed(feed_dir)
    assert changed.index != first.index and changed.records == 3


def test_a_zip_feed_as_osv_exports_it(tmp_path, images):
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in OSV.glob("*.json"):
            z.write(path, path.name)
    report = scan(images["debian"]["reference"], feed=archive)
    assert ("GHSA-j8r2-6x86-q33q", "requests", "2.28.1", "2.31.0") in vulnerabilities(report)


def test_a_feed_artifact_mirrored_with_copy(registry, registry_b, images, tmp_path):
    # a folder as downloaded: one ecosystem's zip beside loose records
    shutil.copytree(OSV, tmp_path / "osv")
    with zipfile.ZipFile(tmp_path / "osv" / "PyPI.zip", "w") as z:
        z.write(OSV / "GHSA-j8r2-6x86-q33q.json", "GHSA-j8r2-6x86-q33q.json")
    (tmp_path / "osv" / "GHSA-j8r2-6x86-q33q.json").unlink()
    digest = publish_feed(tmp_path / "osv", f"{registry.host}/security/osv-feed:2026-12-01")
    mirror = f"{registry_b.host}/security/osv-feed:2026-12-01"
    copy(f"{registry.host}/security/osv-feed:2026-12-01", mirror)
    stored = get_manifest(registry_b, "security/osv-feed", "2026-12-01")
    assert stored.digest == digest
    assert [layer["annotations"]["org.opencontainers.image.title"]
            for layer in json.loads(stored.data)["layers"]] == ["PyPI.zip", "osv.zip"]
    feed = open_feed(mirror)
    assert feed.records == 4 and feed.source.endswith(digest)
    found = vulnerabilities(scan(images["debian"]["reference"], feed=mirror))
    assert ("DEBIAN-CVE-2024-2511", "openssl", "3.0.11-1~deb12u2", "3.0.14-1~deb12u1") in found
    assert ("GHSA-j8r2-6x86-q33q", "requests", "2.28.1", "2.31.0") in found  # from the zip layer


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "nowhere", "no feed at"),
    (lambda tmp: tmp, "holds no .json or .zip"),
    (lambda tmp: (tmp / "x.json").write_text("[{\"no\": 1}]") and tmp, "not an OSV record"),
    (lambda tmp: (tmp / "x.json").write_text("{nope") and tmp, "is not JSON"),
    (lambda tmp: (tmp / "x.zip").write_bytes(b"not a zip") and tmp, "not a zip file"),
])
def test_bad_feeds_get_one_clear_error(tmp_path, make, message):
    with pytest.raises(FeedError, match=message):
        open_feed(make(tmp_path))


# --- exemptions, fail_on, outputs --------------------------------------------------------------

@pytest.mark.parametrize("scope, applies", [
    ("*", True),
    ("{host}", True),
    ("{host}/scan", True),
    ("{host}/scan/app", True),
    ("{host}/scan/app:1.0", True),
    ("{host}/scan/app:1.1", False),
    ("{host}/scan/app@{digest}", True),
    ("{host}/scan/other", False),
    ("{host}/sca", False),  # a namespace is a whole path segment
    ("127.0.0.2:5000", False),
])
def test_exemptions_are_scoped_and_shown_not_hidden(tmp_path, images, registry, scope, applies):
    image = images["debian"]
    path = tmp_path / "exemptions.json"
    add_exemption(path, "CVE-2023-32681", scope.format(host=registry.host, digest=image["digest"]),
                  reason="no proxies here")
    report = scan(image["reference"], feed=OSV, exemptions=path)
    [requests] = [f for f in report.findings if f.package == "requests"]
    assert requests.exempt is applies  # matched through the alias
    assert len(report.findings) == 4 + 2  # vulnerabilities + no USER, no HEALTHCHECK; exempt or not
    assert len(report.open_findings) == 6 - applies
    if applies:
        assert "no proxies here" in requests.exemption
        assert report.table().iloc[-1]["id"] == "GHSA-j8r2-6x86-q33q"  # exempt rows last


def test_exemption_file_round_trip_and_bad_scopes(tmp_path):
    path = tmp_path / "ex.json"
    add_exemption(path, "CONFIG-NO-HEALTHCHECK", "r.example/ns", reason="batch jobs")
    add_exemption(path, "CONFIG-NO-HEALTHCHECK", "r.example/ns", reason="updated")
    assert [(e.issue, e.reason) for e in load_exemptions(path)] == [("CONFIG-NO-HEALTHCHECK", "updated")]
    assert remove_exemption(path, "CONFIG-NO-HEALTHCHECK", "r.example/ns")
    assert load_exemptions(path) == []
    for bad in ("", "r.example/UPPER", "bad host!/x", "r.example/ns:bad tag", "r.example@sha256:00"):
        with pytest.raises(BadReference):
            parse_scope(bad)


def test_fail_on_raises_with_the_report(images):
    ref = images["debian"]["reference"]
    with pytest.raises(ScanFailed, match="at or above medium.*GHSA-") as failed:
        scan(ref, feed=OSV, fail_on="medium")
    assert failed.value.report.counts()["medium"] >= 3
    with pytest.raises(BadReference, match="unknown severity"):
        scan(ref, feed=OSV, fail_on="severe")


def test_a_finding_without_severity_fails_every_threshold_unless_told(images):
    # OSV's Debian records carry no severity: CVE-2024-2511 in openssl must not pass
    # fail_on="high" (or "critical") for want of a rank
    ref = images["debian"]["reference"]
    for level in ("high", "critical"):
        with pytest.raises(ScanFailed, match=f"at or above {level} .*DEBIAN-CVE-2024-2511.*"
                                             "unknown_fails=False") as failed:
            scan(ref, feed=OSV, fail_on=level)
        report = failed.value.report
        assert {f.package for f in report.at_or_above(level)} >= {"openssl", "libssl3"}
        assert report.unknown_fails and report.to_dict()["unknown_fails"] is True
        assert any("2 open findings without a severity in the feed (DEBIAN-CVE-2024-2511) "
                   "count as failing at any fail_on threshold" in n for n in report.notes)
    report = scan(ref, feed=OSV, fail_on="critical", unknown_fails=False)
    assert report.status.endswith("issues") and report.complete  # a note, not a gap
    assert any("rank below low" in n for n in report.notes)


def test_json_and_sarif_outputs(images):
    report = scan(images["debian"]["reference"], feed=OSV)
    document = json.loads(report.to_json())
    assert document["digest"] == images["debian"]["digest"]
    assert len(document["findings"]) == len(report.findings)
    sarif = json.loads(report.to_sarif())
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"DEBIAN-CVE-2024-2511", "GHSA-j8r2-6x86-q33q"}
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["GHSA-j8r2-6x86-q33q"]["properties"]["security-severity"] == "6.1"


# --- the configuration audit -------------------------------------------------------------------

def test_configuration_audit(registry):
    secret = "s3cr3t-" + os.urandom(6).hex()
    image = push(registry, "scan/config", "1", [
        tar_layer([("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n", 0o644, None)]),
        tar_layer([("srv/data", None, 0o777, None), ("tmp", None, 0o1777, None),
                   ("srv/app.conf", b"x", 0o666, None)])],
        config={"User": "root", "Env": [f"API_TOKEN={secret}", "TOKEN_FILE=/run/secrets/t",
                                         "HOME=/root"],
                "ExposedPorts": {"80/tcp": {}, "8080/tcp": {}}},
        history=["ADD https://example.com/app.tar.gz /srv/ # buildkit",
                 f"|1 DB_PASSWORD={secret} /bin/sh -c make install"])
    report = scan(image["reference"], feed=OSV)
    config = {f.id: f for f in report.findings if f.kind == "configuration"}
    assert set(config) == {"CONFIG-ROOT-USER", "CONFIG-SECRET-ENV", "CONFIG-SECRET-HISTORY",
                           "CONFIG-ADD-URL", "CONFIG-NO-HEALTHCHECK", "CONFIG-WORLD-WRITABLE",
                           "CONFIG-PRIVILEGED-PORT"}
    assert "API_TOKEN" in config["CONFIG-SECRET-ENV"].summary
    assert "DB_PASSWORD" in config["CONFIG-SECRET-HISTORY"].summary
    assert "/srv/data" in config["CONFIG-WORLD-WRITABLE"].summary
    assert "/srv/app.conf" in config["CONFIG-WORLD-WRITABLE"].summary
    assert "/tmp" not in config["CONFIG-WORLD-WRITABLE"].summary  # sticky
    assert "80/tcp" in config["CONFIG-PRIVILEGED-PORT"].summary
    assert "8080" not in config["CONFIG-PRIVILEGED-PORT"].summary
    # the secret itself never reaches the report
    assert secret not in report.to_json() and secret not in report.to_sarif()
    assert secret not in report.table().to_string()


def test_a_well_configured_image_has_no_config_findings(registry):
    image = push(registry, "scan/good", "1", alpine_layers(openssl="3.1.4-r6"),
                 config={"User": "10001", "Healthcheck": {"Test": ["CMD", "true"]},
                         "ExposedPorts": {"8080/tcp": {}}})
    report = scan(image["reference"], feed=OSV)
    assert report.findings == [] and report.status == "No issues"


DPKG_CASES = ["3.0.14-1~deb12u1", "3.0.14-1", "3.0.14", "3.0.14-0", "1:3.0.1-1", "3.0.9-1",
              "3.0.14-1+b1", "3.0.14-1~", "3.0.14~rc1-1", "3.0.14a-1", "3.0.14.0-1",
              "2.36-9+deb12u4", "2.36-9+deb12u10", "1.2.13.dfsg-1", "0:1.0-1", "1.0+dfsg-1",
              "1.0-1.1", "1.0-1ubuntu0.1", "1.0-1ubuntu0.10", "10.0-1", "1.0~~-1", "1.0~-1"]


@pytest.mark.parametrize("a", DPKG_CASES)
def test_dpkg_order_agrees_with_univers(a):
    from univers.versions import DebianVersion

    from registry_widgets.operations.security.versions import dpkg_version_key

    for b in DPKG_CASES:
        expected = (DebianVersion(a) > DebianVersion(b)) - (DebianVersion(a) < DebianVersion(b))
        got = (dpkg_version_key(a) > dpkg_version_key(b)) - (dpkg_version_key(a) < dpkg_version_key(b))
        assert got == expected, (a, b)


def test_dpkg_order_agrees_with_univers_on_generated_versions():
    from hypothesis import assume, given, settings, strategies as st
    from univers.debian import Version
    from univers.versions import DebianVersion

    from registry_widgets.operations.security.versions import dpkg_version_key

    version = st.from_regex(r"\A([0-9]:)?[0-9][0-9a-z.+~]{0,6}(-[0-9a-z.+~]{1,4})?\Z")

    @settings(max_examples=200, deadline=None, database=None)
    @given(version, version)
    def agree(a: str, b: str) -> None:
        assume(Version.is_valid(a) and Version.is_valid(b))
        expected = (DebianVersion(a) > DebianVersion(b)) - (DebianVersion(a) < DebianVersion(b))
        got = (dpkg_version_key(a) > dpkg_version_key(b)) - (dpkg_version_key(a) < dpkg_version_key(b))
        assert got == expected, (a, b)

    agree()


def test_scan_through_https_and_basic_auth_keeps_the_password_out(basic_registry, tmp_path, caplog):
    import logging

    image = push(basic_registry, "secure/app", "1.0", debian_layers())
    clients.configure(basic_registry.host, credentials=(basic_registry.username, basic_registry.password),
                      ca_bundle=str(basic_registry.ca_file))
    with caplog.at_level(logging.DEBUG):
        report = scan(image["reference"], feed=OSV)
    assert ("GHSA-j8r2-6x86-q33q", "requests", "2.28.1", "2.31.0") in vulnerabilities(report)
    for text in (report.to_json(), report.to_sarif(), caplog.text, repr(report)):
        assert basic_registry.password not in text
    clients.configure(basic_registry.host, ca_bundle=str(basic_registry.ca_file))
    with pytest.raises(Unauthorized) as refused:  # no credentials now: one clear error, no secret
        scan(image["reference"], feed=OSV)
    assert "docker login" in str(refused.value) and basic_registry.password not in str(refused.value)
