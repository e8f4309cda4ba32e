"""Writes that go through the change engine: a copy whose target tag moved between its plan
and its apply, and a feed published over another one. The registry is read with the
independent raw-HTTP oracle (tests/support), never with the package's client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import registry_widgets as rw
from registry_widgets.errors import ConfirmationRequired
from registry_widgets.operations.core import journal
from registry_widgets.operations.security.osv import publish_feed
from devstack import LocalRegistry
from tests.support import RawClient, get_manifest, push_image


def test_a_copy_over_a_tag_that_moved_after_the_plan_is_refused_and_changes_nothing(
        registry: LocalRegistry, registry_b: LocalRegistry, unique_repo: str) -> None:
    new = push_image(registry, unique_repo, "new", seed=f"{unique_repo}-new")
    push_image(registry_b, unique_repo, "1.0", seed=f"{unique_repo}-old")
    meanwhile: list = []

    def someone_pushes_while_the_blobs_go_up(event) -> None:
        if event.status in ("copying", "copied") and not meanwhile:
            meanwhile.append(push_image(registry_b, unique_repo, "1.0",
                                        seed=f"{unique_repo}-meanwhile"))

    with pytest.raises(ConfirmationRequired, match="changed since the plan"):
        rw.copy(f"{registry.host}/{unique_repo}:new", f"{registry_b.host}/{unique_repo}:1.0",
                progress=someone_pushes_while_the_blobs_go_up)

    assert meanwhile, "the copy sent no blob, so nothing moved the tag in between"
    assert get_manifest(registry_b, unique_repo, "1.0").digest == meanwhile[0].digest
    assert RawClient(registry_b).request(
        "HEAD", f"/v2/{unique_repo}/manifests/{new.digest}").status_code == 404
    actions = [r["action"] for r in journal.read()]
    assert "copy" not in actions and "remove-backup" not in actions


def feed(folder: Path, ident: str) -> Path:
    folder.mkdir()
    (folder / f"{ident}.json").write_text(json.dumps({
        "id": ident, "modified": "2026-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"},
                                                                  {"fixed": "2.31.0"}]}]}]}))
    return folder


def test_a_feed_published_over_another_is_backed_up_and_restored(
        registry: LocalRegistry, unique_repo: str, tmp_path: Path) -> None:
    ref = f"{registry.host}/{unique_repo}:feed"
    first = publish_feed(feed(tmp_path / "a", "GHSA-aaaa-aaaa-aaaa"), ref)
    second = publish_feed(feed(tmp_path / "b", "GHSA-bbbb-bbbb-bbbb"), ref)
    assert first != second
    assert get_manifest(registry, unique_repo, "feed").digest == second

    record = [r for r in journal.read() if r["action"] == "publish_feed"][-1]
    assert record["details"]["plan"]["changes"][0]["before"] == first
    rw.restore(record["details"]["backup_id"])  # no force: the tag is where the feed put it

    assert get_manifest(registry, unique_repo, "feed").digest == first
    assert publish_feed(tmp_path / "a", ref) == first  # already there: nothing written
    assert [r["action"] for r in journal.read()].count("publish_feed") == 2
