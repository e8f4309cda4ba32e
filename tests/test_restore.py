"""Undo: delete an image, restore it from the journal, pull it by its original digest."""

from __future__ import annotations

import pytest

import registry_widgets as rw
from registry_widgets.engine import Engine
from registry_widgets.operations.core import clients
from tests.support import RawClient, get_manifest
from tests.support.oracle import ACCEPT_ALL


@pytest.fixture(autouse=True)
def fresh_clients():
    clients.reset()
    yield
    clients.reset()


def test_delete_restore_then_pull_by_the_original_digest(registry, docker_client, base_image,
                                                         unique_repo):
    engine = Engine(docker_client)
    ref = f"{registry.host}/{unique_repo}:1.0"
    rw.tag(base_image, ref, engine=engine)
    digest = rw.push(ref, engine=engine).digest
    rw.tag(base_image, f"{registry.host}/{unique_repo}:stable", engine=engine)
    rw.push(f"{registry.host}/{unique_repo}:stable", engine=engine)
    by_digest = f"{registry.host}/{unique_repo}@{digest}"

    removed = rw.remove(by_digest, force=True)  # its only image: emptying needs force
    assert sorted(removed.details["tags_removed"]) == ["1.0", "stable"]
    with pytest.raises(rw.NotFound):
        rw.inspect(by_digest)
    assert RawClient(registry).request("HEAD", f"/v2/{unique_repo}/manifests/{digest}",
                                       headers={"Accept": ACCEPT_ALL}).status_code == 404

    rw.restore(removed)

    rw.remove_local(ref, force=True, engine=engine)
    rw.remove_local(f"{registry.host}/{unique_repo}:stable", force=True, engine=engine)
    pulled = rw.pull(by_digest, engine=engine)
    assert pulled.digest == digest
    assert get_manifest(registry, unique_repo, "stable").digest == digest  # the oracle's view
    rw.remove_local(by_digest, force=True, engine=engine)
