"""Feeds that are broken or hostile: malformed OSV records, zip bombs, paths that do not exist.

Each is one ``FeedError`` naming the file (and the record), never a raw AttributeError,
TypeError, sqlite error or MemoryError, and a path-like feed is never looked up as an image.
Feeds are real files written here; the artifact case asks a real registry.
"""

from __future__ import annotations

import json
import zipfile

import pytest

from registry_widgets.errors import FeedError
from registry_widgets.operations.core import clients
from registry_widgets.operations.security import osv
from registry_widgets.operations.security.osv import is_path_like, open_feed
from tests.scan_images import OSV

DEBIAN_RECORD = json.loads((OSV / "DEBIAN-CVE-2024-2511.json").read_text())


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def broken(**changes) -> dict:
    """The real Debian record with fields replaced (``affected0_x`` for affected[0]["x"])."""
    record = json.loads(json.dumps(DEBIAN_RECORD))
    record["id"] = "TEST-BROKEN-1"
    for key, value in changes.items():
        if key.startswith("affected0_"):
            record["affected"][0][key[len("affected0_"):]] = value
        else:
            record[key] = value
    return record


BROKEN = {
    "affected-not-a-list": (broken(affected={"package": "openssl"}), "'affected' is not a list"),
    "affected-entry-a-string": (broken(affected=["openssl"]), r"'affected\[0\]' is not"),
    "package-a-string": (broken(affected0_package="openssl"), r"affected\[0\]\.package'"),
    "ranges-a-string": (broken(affected0_ranges="ECOSYSTEM"), r"affected\[0\]\.ranges'"),
    "events-of-objects": (broken(affected0_ranges=[{"type": "ECOSYSTEM",
                                                    "events": [{"fixed": {"v": 1}}]}]),
                          r"ranges\[0\]\.events'"),
    "versions-of-numbers": (broken(affected0_versions=[[1, 2]]), r"\.versions'"),
    "aliases-an-object": (broken(aliases={"cve": "CVE-2024-2511"}), "'aliases'"),
    "summary-an-object": (broken(summary={"en": "x"}), "'summary'"),  # was a sqlite error
    "severity-a-string": (broken(severity="HIGH"), "'severity'"),  # was an AttributeError
    "database-specific-a-list": (broken(database_specific=["x"]), "'database_specific'"),
    "id-a-number": ({**broken(), "id": 7}, "'id' is not a non-empty string"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_malformed_record_is_one_feed_error_naming_file_and_record(tmp_path, case):
    record, message = BROKEN[case]
    (tmp_path / "good.json").write_text(json.dumps(DEBIAN_RECORD))
    (tmp_path / "bad.json").write_text(json.dumps(record))
    with pytest.raises(FeedError, match=message) as raised:
        open_feed(tmp_path)
    assert str(tmp_path / "bad.json") in str(raised.value)
    assert repr(record["id"]) in str(raised.value)


def test_a_malformed_record_inside_a_zip_names_the_member(tmp_path):
    archive = tmp_path / "Debian.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("TEST-BROKEN-1.json", json.dumps(broken(severity="HIGH")))
    with pytest.raises(FeedError, match=r"Debian\.zip:TEST-BROKEN-1\.json: record "
                                        r"'TEST-BROKEN-1': 'severity'"):
        open_feed(archive)


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path, monkeypatch):
    # the bound is lowered so that the bomb stays small: 4 MiB of zeros in a few KiB
    monkeypatch.setattr(osv, "MAX_RECORD_FILE_BYTES", 1 << 20)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("A-1.json", json.dumps(DEBIAN_RECORD))
        z.writestr("BOMB-1.json", b"[" + b" " * (4 << 20) + b"]")
    assert archive.stat().st_size < 64 << 10
    with pytest.raises(FeedError, match=r"bomb\.zip:BOMB-1\.json is larger than 1 MiB"):
        open_feed(archive)
    huge = tmp_path / "folder"
    huge.mkdir()
    (huge / "BIG-1.json").write_bytes(b"[" + b" " * (2 << 20) + b"]")
    with pytest.raises(FeedError, match=r"BIG-1\.json is larger than 1 MiB"):
        open_feed(huge)


def test_a_zip_member_that_lies_about_its_size_is_still_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(osv, "MAX_RECORD_FILE_BYTES", 1 << 20)
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("LIAR-1.json", b"[" + b" " * (4 << 20) + b"]")
    raw = bytearray(archive.read_bytes())
    # the uncompressed size in the local header (offset 22) and the central directory
    # (offset 24 of its entry) say 100 bytes
    raw[22:26] = (100).to_bytes(4, "little")
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24:central + 28] = (100).to_bytes(4, "little")
    archive.write_bytes(bytes(raw))
    with pytest.raises(FeedError, match=r"liar\.zip:LIAR-1\.json"):
        open_feed(archive)


@pytest.mark.parametrize("text, path_like", [
    ("feeds/osv", True),  # a missing folder: never looked up on Docker Hub
    ("osv", True),
    ("./feeds", True),
    ("~/feeds/osv", True),
    ("/srv/feeds", True),
    ("osv/all.zip", True),
    ("feeds\\osv", True),
    ("myorg/osv-feed:latest", True),  # Docker Hub needs its name: docker.io/myorg/...
    ("docker.io/myorg/osv-feed:latest", False),
    ("registry.example/security/osv-feed:2026-12-01", False),
    ("localhost:5000/security/osv-feed", False),
    ("127.0.0.1:5000/security/osv-feed@sha256:" + "a" * 64, False),
    ("localhost/security/osv-feed", False),
])
def test_which_feed_strings_are_paths(text, path_like):
    assert is_path_like(text) is path_like


@pytest.mark.parametrize("text", ["feeds/osv", "osv-feeds/2026/Debian", "myorg/osv-feed:latest"])
def test_a_missing_path_like_feed_is_no_such_folder_or_file(text, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FeedError, match="no such folder or file"):
        open_feed(text)


def test_a_missing_feed_artifact_is_a_feed_error(registry):
    with pytest.raises(FeedError, match="no such folder or file here, and no artifact there"):
        open_feed(f"{registry.host}/security/no-such-feed:1")
