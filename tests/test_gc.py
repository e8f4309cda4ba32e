"""collect_garbage(): distribution's garbage-collect on the embedded registry, dry run first.

A real registry from the stack, described in a services.json the way ``scripts/services up``
leaves it. The bytes the verb reports are checked against the blob files on disk and the
blobs against raw HTTP; a restore of what was deleted before the collection must then fail
with a message that says why.
"""

from __future__ import annotations

import json

import pytest

from registry_widgets.errors import NotFound
from registry_widgets.operations.core import clients
from registry_widgets.operations.images import remove_plan
from registry_widgets.operations.core.backup import restore
from registry_widgets.operations.cleanup.gc import blob_bytes, collect_garbage, garbage_collection_help
from registry_widgets.operations.images.remove import remove
from tests.support import RawClient, push_image


@pytest.fixture(autouse=True)
def fresh():
    clients.reset()
    remove_plan._tag_delete_supported.clear()
    yield
    clients.reset()


def blob_status(reg, repository, digest) -> int:
    return RawClient(reg).request("GET", f"/v2/{repository}/blobs/{digest}",
                                  scope=f"repository:{repository}:pull").status_code


def test_gc_frees_the_bytes_it_says_and_restore_then_fails_clearly(embedded):
    gone = push_image(embedded, "team/old", "1.0", layer_sizes=(60_000, 30_000), seed="gc-old",
                      created="2024-01-01T00:00:00Z")
    kept = push_image(embedded, "team/new", "1.0", layer_sizes=(20_000,), seed="gc-new",
                      created="2024-01-01T00:00:00Z")
    # team/old's only image: emptying a repository needs force (the engine's guard)
    removed = remove(f"{embedded.host}/team/old@{gone.digest}", force=True)
    on_disk = blob_bytes(embedded.storage)

    preview = collect_garbage(embedded.host, dry_run=True)
    assert preview.dry_run and not preview.changed
    # distribution stores the manifest as a blob too: manifest, config and layers all go.
    expected = {layer.digest for layer in gone.layers} | {gone.config.digest, gone.digest}
    assert set(preview.details["eligible_blobs"]) == expected
    assert preview.details["eligible_bytes"] == gone.total_size
    assert blob_bytes(embedded.storage) == on_disk, "a dry run deleted something"

    result = collect_garbage(embedded.host)
    assert result.changed
    assert result.details["bytes_freed"] == preview.details["eligible_bytes"]
    assert on_disk - blob_bytes(embedded.storage) == result.details["bytes_freed"]
    assert result.details["read_only_seconds"] > 0
    assert embedded.answers(), "the registry is back after the read-only pause"
    for layer in gone.layers:
        assert blob_status(embedded, "team/old", layer.digest) == 404
    for layer in kept.layers:
        assert blob_status(embedded, "team/new", layer.digest) == 200

    with pytest.raises(NotFound, match="garbage collection"):
        restore(removed)


def test_nothing_to_collect_changes_nothing(embedded):
    push_image(embedded, "team/app", "1.0", layer_sizes=(1000,), seed="gc-none")
    result = collect_garbage(embedded.host)
    assert not result.changed and result.details["eligible_blobs"] == []
    assert result.details["read_only_seconds"] == 0.0


@pytest.mark.parametrize("registry, says", [
    ("ghcr.io", "GitHub"), ("us.icr.io", "trash"), ("docker.io", "Docker Hub"),
    ("harbor.example.com:443", "Harbor"),
])
def test_other_registries_get_their_own_instructions(registry, says, monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_WIDGETS_SERVICES", str(tmp_path))
    result = collect_garbage(registry)
    assert not result.changed and says in result.details["how"]
    assert says in garbage_collection_help(registry)
