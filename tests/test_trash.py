"""The trash: what this package deleted, read from the journal, and restoring one row of it.

Against a real registry; what it holds afterwards is read with the stack's raw HTTP oracle.
"""

from __future__ import annotations

import pytest

import registry_widgets as rw
from registry_widgets.errors import NotFound, Protected
from registry_widgets.operations.core import clients
from registry_widgets.operations.cleanup.trash import restore_from_trash, trash
from tests.support.images import push_image
from tests.support.oracle import ACCEPT_ALL, RawClient


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def digest_at(registry, repository: str, reference: str) -> str | None:
    r = RawClient(registry).request("HEAD", f"/v2/{repository}/manifests/{reference}",
                                    scope=f"repository:{repository}:pull",
                                    headers={"Accept": ACCEPT_ALL})
    return r.headers.get("Docker-Content-Digest") if r.status_code == 200 else None


@pytest.fixture
def deleted(registry, unique_repo):
    """Tags 1.0 and stable on one digest, then that digest deleted with both tags."""
    same = {"layer_sizes": (1500,), "seed": unique_repo, "created": "2024-03-01T00:00:00Z"}
    image = push_image(registry, unique_repo, "1.0", **same)
    push_image(registry, unique_repo, "stable", **same)
    # the only image of the repository: emptying it needs force (the engine's guard)
    rw.remove(f"{registry.host}/{unique_repo}@{image.digest}", force=True)
    assert digest_at(registry, unique_repo, image.digest) is None
    return image


def test_trash_lists_what_was_deleted_with_its_tags_and_whether_it_can_come_back(
        registry, unique_repo, deleted):
    frame = trash(registry.host)

    row = frame.iloc[0]
    assert row["reference"] == f"{registry.host}/{unique_repo}@{deleted.digest}"
    assert sorted(row["tags"]) == ["1.0", "stable"]
    assert bool(row["restorable"]) and not bool(row["live"]) and row["why"] == ""
    assert str(row["deleted_at"].tz) == "UTC"
    assert trash("127.0.0.1:1", check=False).empty  # another registry: nothing


def test_restore_one_tag_from_the_trash_puts_back_only_that_tag(registry, unique_repo, deleted):
    result = restore_from_trash(f"{registry.host}/{unique_repo}:stable")

    assert result.action == "restore"
    assert digest_at(registry, unique_repo, "stable") == deleted.digest
    assert digest_at(registry, unique_repo, "1.0") is None
    # the tag that is back is no longer something to restore; 1.0 still is
    row = trash(registry.host).iloc[0]
    assert bool(row["restorable"]) and not bool(row["live"])
    restore_from_trash(f"{registry.host}/{unique_repo}@{deleted.digest}")
    assert digest_at(registry, unique_repo, "1.0") == deleted.digest
    assert bool(trash(registry.host).iloc[0]["live"])


def test_a_tag_pushed_since_is_not_overwritten_without_force(registry, unique_repo, deleted):
    newer = push_image(registry, unique_repo, "stable", layer_sizes=(900,), seed="newer")
    ref = f"{registry.host}/{unique_repo}@{deleted.digest}"

    with pytest.raises(Protected, match="pushed since"):
        restore_from_trash(ref)
    assert digest_at(registry, unique_repo, "stable") == newer.digest
    assert digest_at(registry, unique_repo, "1.0") is None  # nothing at all was changed

    restore_from_trash(ref, force=True)
    assert digest_at(registry, unique_repo, "stable") == deleted.digest
    assert digest_at(registry, unique_repo, "1.0") == deleted.digest


def test_what_was_never_deleted_is_not_in_the_trash(registry, unique_repo, deleted):
    with pytest.raises(NotFound, match="not in the trash"):
        restore_from_trash(f"{registry.host}/{unique_repo}:never")


def test_once_a_blob_is_gone_the_row_says_so_and_restore_changes_nothing(registry, unique_repo,
                                                                        deleted):
    # What garbage collection does to a deleted image, one blob at a time: the layer goes.
    layer = deleted.layers[0].digest
    gone = RawClient(registry).request("DELETE", f"/v2/{unique_repo}/blobs/{layer}",
                                       scope=f"repository:{unique_repo}:*")
    assert gone.status_code == 202, gone.text

    row = trash(registry.host).iloc[0]
    assert not bool(row["restorable"]) and "blob(s) gone" in row["why"] and layer in row["why"]
    with pytest.raises(NotFound, match="no longer has"):
        restore_from_trash(f"{registry.host}/{unique_repo}@{deleted.digest}")
    assert digest_at(registry, unique_repo, "1.0") is None
    assert digest_at(registry, unique_repo, deleted.digest) is None
