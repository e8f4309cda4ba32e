"""The change engine behind remove, retention, remove_namespace and restore.

Real distribution 2.8 registries; what they hold afterwards is read with the raw-HTTP oracle
(tests/support), never with the package's client. Each test names the safety property it
guards: a plan that drifted, a plan that empties a repository, restore by reference (exactly
the image asked for), restore twice, a signed repository under retention, a damaged journal
line.
"""

from __future__ import annotations

import pytest

import registry_widgets as rw
from registry_widgets.errors import ConfirmationRequired, JournalError, NotFound, Protected
from registry_widgets.operations.core import changes, clients, journal
from registry_widgets.operations.images import remove as remove_module
from registry_widgets.operations.images import remove_plan
from tests.support.images import push_image
from tests.support.images import put_manifest as oracle_put_manifest
from tests.support.oracle import ACCEPT_ALL, RawClient, get_manifest

OLD, NEW = "2023-01-01T00:00:00Z", "2024-06-01T00:00:00Z"


@pytest.fixture(autouse=True)
def fresh_state():
    clients.reset()
    remove_plan._tag_delete_supported.clear()
    yield
    clients.reset()
    remove_plan._tag_delete_supported.clear()


def tags_of(registry, repository) -> dict[str, str]:
    """tag -> digest as raw HTTP sees it ({} when the repository has none)."""
    r = RawClient(registry).request("GET", f"/v2/{repository}/tags/list",
                                    scope=f"repository:{repository}:pull")
    if r.status_code == 404:
        return {}
    return {t: get_manifest(registry, repository, t).digest for t in r.json().get("tags") or []}


def exists(registry, repository, digest) -> bool:
    r = RawClient(registry).request("HEAD", f"/v2/{repository}/manifests/{digest}",
                                    scope=f"repository:{repository}:pull",
                                    headers={"Accept": ACCEPT_ALL})
    return r.status_code == 200


def signature_tag(digest: str) -> str:
    return digest.replace(":", "-") + ".sig"


# -- restore by reference --------------------------------------------------------------------


def test_restore_by_digest_after_two_deletions_brings_back_exactly_that_image(registry,
                                                                              unique_repo):
    first = push_image(registry, unique_repo, "a", seed=f"{unique_repo}-a")
    second = push_image(registry, unique_repo, "b", seed=f"{unique_repo}-b")
    kept = push_image(registry, unique_repo, "keep", seed=f"{unique_repo}-k")
    rw.remove(f"{registry.host}/{unique_repo}@{first.digest}")
    rw.remove(f"{registry.host}/{unique_repo}@{second.digest}")  # the newer backup

    result = rw.restore(f"{registry.host}/{unique_repo}@{first.digest}")

    assert result.changed and result.action == "restore"
    assert tags_of(registry, unique_repo) == {"a": first.digest, "keep": kept.digest}
    assert exists(registry, unique_repo, first.digest)
    assert not exists(registry, unique_repo, second.digest), "only the image asked for"


def test_restore_by_tag_brings_back_that_tag_only(registry, unique_repo):
    same = {"seed": unique_repo, "created": OLD}
    image = push_image(registry, unique_repo, "1.0", **same)
    push_image(registry, unique_repo, "stable", **same)
    push_image(registry, unique_repo, "keep", seed="other")
    rw.remove(f"{registry.host}/{unique_repo}@{image.digest}")

    rw.restore(f"{registry.host}/{unique_repo}:stable")

    assert tags_of(registry, unique_repo)["stable"] == image.digest
    assert "1.0" not in tags_of(registry, unique_repo)


def test_restore_of_what_was_never_deleted_is_not_found(registry, unique_repo):
    push_image(registry, unique_repo, "1.0")
    with pytest.raises(NotFound, match="not in the trash"):
        rw.restore(f"{registry.host}/{unique_repo}:1.0")


# -- restore twice ---------------------------------------------------------------------------


def test_restore_twice_is_a_no_op_that_says_so(registry, unique_repo):
    image = push_image(registry, unique_repo, "1.0", seed="twice", created=OLD)
    push_image(registry, unique_repo, "latest", seed="twice", created=OLD)
    removed = rw.remove(f"{registry.host}/{unique_repo}:1.0")
    assert tags_of(registry, unique_repo) == {"latest": image.digest}

    first = rw.restore(removed)
    after_first = tags_of(registry, unique_repo)
    second = rw.restore(removed)

    assert first.changed and after_first == {"1.0": image.digest, "latest": image.digest}
    assert not second.changed and second.details["already_restored"]
    assert "already restored" in second.details["note"]
    assert tags_of(registry, unique_repo) == after_first
    assert not rw.restore(f"{registry.host}/{unique_repo}:1.0").changed


# -- plans that drifted ----------------------------------------------------------------------


def test_a_co_tag_moved_between_plan_and_apply_is_refused_and_nothing_changes(registry,
                                                                              unique_repo):
    image = push_image(registry, unique_repo, "1.0", seed="drift", created=OLD)
    push_image(registry, unique_repo, "latest", seed="drift", created=OLD)
    plan = rw.plan_remove(f"{registry.host}/{unique_repo}:1.0")
    # The tag being removed stays put; its co-tag moves: the plan's snapshot no longer holds.
    moved = push_image(registry, unique_repo, "latest", seed="moved")

    with pytest.raises(ConfirmationRequired, match="changed since the plan") as caught:
        changes.apply(plan.changes)  # the plan's change set, exactly as it was shown

    assert f"{unique_repo}:latest moved to {moved.digest}" in str(caught.value)
    assert tags_of(registry, unique_repo) == {"1.0": image.digest, "latest": moved.digest}
    assert not [r for r in journal.read() if r["action"] == "remove-backup"]


# -- plans that empty a repository -----------------------------------------------------------


def test_removing_the_only_image_needs_force(registry, unique_repo):
    image = push_image(registry, unique_repo, "1.0", seed="only")
    before = tags_of(registry, unique_repo)

    with pytest.raises(Protected, match="no image left") as caught:
        rw.remove(f"{registry.host}/{unique_repo}@{image.digest}")
    assert "force=True" in str(caught.value) and "Nothing was changed" in str(caught.value)
    assert tags_of(registry, unique_repo) == before and exists(registry, unique_repo,
                                                               image.digest)

    rw.remove(f"{registry.host}/{unique_repo}@{image.digest}", force=True)
    assert tags_of(registry, unique_repo) == {}


def test_retention_that_takes_every_image_needs_force(registry, unique_repo):
    push_image(registry, unique_repo, "1.0", seed="r1", created=OLD)
    push_image(registry, unique_repo, "2.0", seed="r2", created=OLD)
    before = tags_of(registry, unique_repo)
    target = f"{registry.host}/{unique_repo}"

    for options in ({"tags": ".*"}, {"older_than": "1s"}):
        with pytest.raises(Protected, match="no image left"):
            rw.retention(target, dry_run=False, **options)
        assert tags_of(registry, unique_repo) == before

    rw.retention(target, tags=".*", dry_run=False, force=True)
    assert tags_of(registry, unique_repo) == {}


def test_a_namespace_plan_is_applied_only_with_its_confirmation(registry, unique_repo):
    namespace = unique_repo.split("/")[0]
    image = push_image(registry, unique_repo, "1.0", seed="ns")
    client = clients.client_for(registry.host)
    indexes = remove_module.read_namespace(client, namespace)
    plan = remove_module.compute_namespace_plan(registry.host, namespace, indexes)

    # Without the typed name, the engine sees a plan that empties a repository: refused.
    with pytest.raises(Protected, match="no image left"):
        changes.apply(remove_module.namespace_change_set(plan, indexes))
    assert tags_of(registry, unique_repo) == {"1.0": image.digest}

    rw.remove_namespace(registry.host, namespace, confirm=namespace)
    assert tags_of(registry, unique_repo) == {}


# -- signatures go with their image ----------------------------------------------------------


def test_retention_on_a_signed_repository_applies_and_restore_brings_both_back(registry,
                                                                              unique_repo):
    old = push_image(registry, unique_repo, "1.0", seed=f"{unique_repo}-old", created=OLD)
    new = push_image(registry, unique_repo, "2.0", seed=f"{unique_repo}-new", created=NEW)
    sig = push_image(registry, unique_repo, signature_tag(old.digest),
                     seed=f"{unique_repo}-sig", layer_sizes=(64,), created=OLD)
    before = tags_of(registry, unique_repo)
    target = f"{registry.host}/{unique_repo}"

    dry = rw.retention(target, keep=1)
    going = {r["tag"] for r in dry.details["plan"] if r["action"] == "remove"}
    assert going == {"1.0", signature_tag(old.digest)}
    applied = rw.retention(target, keep=1, dry_run=False, plan=dry)

    assert applied.changed
    assert tags_of(registry, unique_repo) == {"2.0": new.digest}
    assert not exists(registry, unique_repo, old.digest)
    assert not exists(registry, unique_repo, sig.digest)

    rw.restore(applied)
    assert tags_of(registry, unique_repo) == before


def test_removing_a_signed_image_takes_its_signature_and_restore_brings_it_back(registry,
                                                                               unique_repo):
    image = push_image(registry, unique_repo, "1.0", seed=f"{unique_repo}-img")
    push_image(registry, unique_repo, "keep", seed=f"{unique_repo}-keep")
    sig = push_image(registry, unique_repo, signature_tag(image.digest),
                     seed=f"{unique_repo}-sig", layer_sizes=(64,))
    before = tags_of(registry, unique_repo)

    result = rw.remove(f"{registry.host}/{unique_repo}@{image.digest}")
    assert result.details["accessories_removed"] == [signature_tag(image.digest)]
    assert signature_tag(image.digest) not in tags_of(registry, unique_repo)
    assert not exists(registry, unique_repo, sig.digest)

    rw.restore(f"{registry.host}/{unique_repo}@{image.digest}")
    assert tags_of(registry, unique_repo) == before


# -- a damaged journal line is named --------------------------------------------------------


def _damage_backup_line(backup_id: str, damage) -> int:
    path = journal.journal_path()
    lines = path.read_text().splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, 1) if backup_id in line
                  and '"remove-backup"' in line)
    lines[number - 1] = damage(lines[number - 1])
    path.write_text("".join(lines))
    return number


@pytest.mark.parametrize("damage, words", [
    (lambda line: line[: len(line) // 2] + "\n", "damaged line"),  # torn by a crash
    (lambda line: line.replace('"data": "', '"data": "!!'), "is damaged"),  # not base64
], ids=["torn", "not base64"])
def test_a_damaged_backup_line_is_named_with_its_file_and_line(registry, unique_repo, damage,
                                                               words):
    image = push_image(registry, unique_repo, "1.0", seed="damaged", created=OLD)
    push_image(registry, unique_repo, "latest", seed="damaged", created=OLD)
    removed = rw.remove(f"{registry.host}/{unique_repo}:1.0")
    number = _damage_backup_line(removed.details["backup_id"], damage)
    where = f"line {number} of {journal.journal_path()}"

    for what in (removed, removed.details["backup_id"]):
        with pytest.raises(JournalError) as caught:
            rw.restore(what)
        assert words in str(caught.value) and where in str(caught.value)
    with pytest.raises(rw.RegistryWidgetsError) as caught:
        rw.restore(f"{registry.host}/{unique_repo}:1.0")
    assert where in str(caught.value)
    assert any(where in why for why in rw.trash(registry.host, check=False)["why"])
    assert tags_of(registry, unique_repo) == {"latest": image.digest}


def test_trash_and_restore_are_public():
    assert "trash" in rw.__all__ and "restore" in rw.__all__
    assert rw.trash is not None and callable(rw.restore)


def test_a_hand_made_plan_that_leaves_a_signature_behind_is_refused(registry, unique_repo):
    # Whatever produced the plan, the engine's guard holds: an image goes with its signature.
    image = push_image(registry, unique_repo, "1.0", seed=f"{unique_repo}-img")
    push_image(registry, unique_repo, "keep", seed=f"{unique_repo}-keep")
    push_image(registry, unique_repo, signature_tag(image.digest), seed=f"{unique_repo}-sig",
               layer_sizes=(64,))
    before = tags_of(registry, unique_repo)
    plan = changes.Plan(action="remove", registry=registry.host, target=unique_repo,
                        changes=[changes.Change(unique_repo, image.digest, image.digest, None)],
                        snapshot={unique_repo: dict(before)})

    with pytest.raises(Protected, match="signing nothing"):
        changes.apply(plan)
    assert tags_of(registry, unique_repo) == before
