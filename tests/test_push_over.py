"""push over an existing tag: planned, the replaced image backed up before the Docker engine
pushes, a protected tag refused, and restore(result) puts the old image back. The registry is
read with raw HTTP (the oracle), never with the package's client."""

from __future__ import annotations

import uuid

import pytest

import registry_widgets as rw
from registry_widgets.errors import ConfirmationRequired, Protected
from registry_widgets.operations.core import clients
from registry_widgets.operations.images import local
from tests.support import oracle, push_image
from tests.test_engine import unique_image

pytestmark = pytest.mark.engine


@pytest.fixture(autouse=True)
def fresh():
    clients.reset()
    yield
    clients.reset()


def digest_of(registry, repository: str, tag: str) -> str:
    return oracle.get_manifest(registry, repository, tag).digest


def test_push_over_a_tag_says_what_it_replaces_and_restore_puts_it_back(
        engine, base_image, registry, unique_repo, local_names, tmp_path):
    ref = f"{registry.host}/{unique_repo}:1.0"
    local_names.append(ref)
    old = push_image(registry, unique_repo, "1.0", seed=f"old-{uuid.uuid4().hex}")
    unique_image(engine, base_image, ref, tmp_path)

    result = local.push(ref, engine=engine)
    assert result.details["replaces"] == {"1.0": old.digest}
    assert result.details.get("backup_id"), "the replaced image was not backed up"
    assert digest_of(registry, unique_repo, "1.0") == result.digest != old.digest

    undone = rw.restore(result)  # no force: the tag is still where the push left it
    assert undone.changed
    assert digest_of(registry, unique_repo, "1.0") == old.digest


def test_push_refuses_to_move_a_protected_tag(engine, base_image, registry, unique_repo,
                                              local_names, tmp_path):
    namespace = unique_repo.split("/")[0]
    ref = f"{registry.host}/{unique_repo}:latest"
    local_names.append(ref)
    old = push_image(registry, unique_repo, "latest", seed=f"old-{uuid.uuid4().hex}")
    rw.protect(f"{registry.host}/{namespace}", "latest")
    try:
        unique_image(engine, base_image, ref, tmp_path)
        with pytest.raises(Protected, match="protected"):
            local.push(ref, engine=engine)
        assert digest_of(registry, unique_repo, "latest") == old.digest
        forced = local.push(ref, engine=engine, force=True)
        assert digest_of(registry, unique_repo, "latest") == forced.digest != old.digest
    finally:
        rw.unprotect(f"{registry.host}/{namespace}", "latest")


def test_a_push_to_a_new_tag_replaces_nothing(engine, base_image, registry, unique_repo,
                                              local_names, tmp_path):
    ref = f"{registry.host}/{unique_repo}:new"
    local_names.append(ref)
    unique_image(engine, base_image, ref, tmp_path)
    result = local.push(ref, engine=engine)
    assert result.details["replaces"] == {}
    assert "backup_id" not in result.details
    assert digest_of(registry, unique_repo, "new") == result.digest


def test_a_tag_moved_between_the_plan_and_the_push_is_refused(
        engine, base_image, registry, unique_repo, local_names, tmp_path, monkeypatch):
    ref = f"{registry.host}/{unique_repo}:1.0"
    local_names.append(ref)
    push_image(registry, unique_repo, "1.0", seed=f"first-{uuid.uuid4().hex}")
    unique_image(engine, base_image, ref, tmp_path)
    moved: list[str] = []
    real_refuse = local.refuse_protected

    def someone_pushes_meanwhile(*args, **kwargs):
        # runs after the plan read the tag, before the engine re-reads it
        moved.append(push_image(registry, unique_repo, "1.0", seed=f"other-{uuid.uuid4().hex}"
                                ).digest)
        return real_refuse(*args, **kwargs)

    monkeypatch.setattr(local, "refuse_protected", someone_pushes_meanwhile)
    with pytest.raises(ConfirmationRequired, match="changed since the plan"):
        local.push(ref, engine=engine)
    assert digest_of(registry, unique_repo, "1.0") == moved[0], "the push went ahead"
