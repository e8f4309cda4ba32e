"""copy over a tag that held another digest keeps an undo, and a target naming a tag and a
digest is honoured or refused before anything is uploaded. Registry state is read with the
independent oracle (raw HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

import registry_widgets as rw
from registry_widgets.errors import BadReference, Protected
from registry_widgets.operations.core import journal
from registry_widgets.operations.images.copy import describe_copy
from devstack import LocalRegistry
from tests.support import get_manifest, list_repositories, list_tags, push_image
from tests.support.headless import cli


@pytest.fixture
def two_images(registry: LocalRegistry, registry_b: LocalRegistry, unique_repo: str):
    """Source registry A holds :new; target registry B's :1.0 holds another image."""
    new = push_image(registry, unique_repo, "new", seed=f"{unique_repo}-new")
    old = push_image(registry_b, unique_repo, "1.0", seed=f"{unique_repo}-old")
    return f"{registry.host}/{unique_repo}:new", f"{registry_b.host}/{unique_repo}:1.0", new, old


def test_a_copy_over_a_tag_records_what_it_replaced_and_restore_puts_it_back(
        registry_b: LocalRegistry, unique_repo: str, two_images) -> None:
    source, target, new, old = two_images
    planned = rw.plan_copy(source, target)
    assert planned["replaces"] == {"1.0": old.digest} and not planned["up_to_date"]
    assert "replaces 1.0" in describe_copy(planned)
    assert get_manifest(registry_b, unique_repo, "1.0").digest == old.digest  # plan: read only

    copied = rw.copy(source, target)

    assert copied.details["replaces"] == {"1.0": old.digest}
    assert get_manifest(registry_b, unique_repo, "1.0").digest == new.digest
    backup = next(r for r in journal.read() if r.get("id") == copied.details["backup_id"])
    kept = backup["repositories"][0]["manifests"][0]
    assert kept["digest"] == old.digest
    record = [r for r in journal.read() if r.get("action") == "copy"][-1]
    assert record["details"]["replaces"] == {"1.0": old.digest}

    rw.restore(copied)

    assert get_manifest(registry_b, unique_repo, "1.0").data == old.manifest
    assert get_manifest(registry_b, unique_repo, new.digest).digest == new.digest


def test_restore_of_a_copy_does_not_move_a_tag_pushed_since(registry_b: LocalRegistry,
                                                            unique_repo: str, two_images) -> None:
    source, target, new, old = two_images
    copied = rw.copy(source, target)
    later = push_image(registry_b, unique_repo, "1.0", seed=f"{unique_repo}-later")

    with pytest.raises(Protected, match="pushed since"):
        rw.restore(copied)
    assert get_manifest(registry_b, unique_repo, "1.0").digest == later.digest


def test_a_copy_onto_a_new_tag_replaces_nothing(registry_b: LocalRegistry, unique_repo: str,
                                               two_images) -> None:
    source, target, new, _ = two_images
    copied = rw.copy(source, target.replace(":1.0", ":2.0"))
    assert copied.details["replaces"] == {} and "backup_id" not in copied.details
    assert get_manifest(registry_b, unique_repo, "2.0").digest == new.digest


def test_a_tag_and_matching_digest_creates_the_tag(registry_b: LocalRegistry, unique_repo: str,
                                                   two_images) -> None:
    source, target, new, _ = two_images
    copied = rw.copy(source, target.replace(":1.0", f":9.9@{new.digest}"))
    assert copied.digest == new.digest
    assert get_manifest(registry_b, unique_repo, "9.9").digest == new.digest


@pytest.mark.parametrize("platforms", ["all", ["linux/amd64"]])
def test_a_tag_and_another_digest_is_refused_before_any_upload(
        registry: LocalRegistry, registry_b: LocalRegistry, unique_repo: str, platforms) -> None:
    push_image(registry, unique_repo, "1.0", seed=unique_repo)
    other = "sha256:" + "ab" * 32
    with pytest.raises(BadReference, match="nothing was copied"):
        rw.copy(f"{registry.host}/{unique_repo}:1.0",
                f"{registry_b.host}/{unique_repo}:9.9@{other}", platforms=platforms)
    assert unique_repo not in list_repositories(registry_b)  # not even a blob went up


def test_through_the_cli(registry: LocalRegistry, registry_b: LocalRegistry, unique_repo: str,
                         two_images, tmp_path: Path) -> None:
    source, target, new, old = two_images
    done = cli(tmp_path, "run", "copy", "-p", "source", source,
               "-p", "target", target.replace(":1.0", ":9.9@sha256:" + "cd" * 32))
    assert done.returncode == 1 and "nothing was copied" in done.stderr
    assert list_tags(registry_b, unique_repo) == ["1.0"]

    done = cli(tmp_path, "run", "copy", "-p", "source", source, "-p", "target", target)
    assert done.returncode == 0, done.stderr
    executed = nbformat.read(tmp_path / done.stdout.strip(), as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                   for o in c.outputs)
    recorded = json.loads("".join(o.get("text", "") for o in executed.cells[-1].outputs))
    assert recorded["details"]["replaces"] == {"1.0": old.digest}
    assert f"replaces 1.0, which points at {old.digest}" in text
    assert get_manifest(registry_b, unique_repo, "1.0").digest == new.digest
