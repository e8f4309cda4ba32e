"""The journal survives a crash mid-write and never lets a delete go without its backup.

Damage is done to the real file (a torn last line, garbage in the middle, a journal that is a
folder, a journal that swallows what is written: /dev/null); the registry's state is read
with the independent oracle (raw HTTP)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import nbformat
import pytest

import registry_widgets as rw
from registry_widgets.errors import JournalError
from registry_widgets.operations.core import journal
from devstack import LocalRegistry
from tests.support import get_manifest, list_repositories, list_tags, push_image
from tests.support.headless import cli


@pytest.fixture
def tagged(registry: LocalRegistry, unique_repo: str) -> tuple[str, str]:
    """A repository with co-tags 1.0 and 2.0; (repository, digest)."""
    # A fixed date: the config records it, and a second ticking between the two pushes
    # would give 2.0 a digest of its own.
    same = {"seed": unique_repo, "created": "2024-01-15T09:00:00Z"}
    one = push_image(registry, unique_repo, "1.0", **same)
    two = push_image(registry, unique_repo, "2.0", **same)
    assert one.digest == two.digest
    return unique_repo, two.digest


def test_a_torn_last_line_and_a_damaged_middle_line_do_not_stop_remove_and_restore(
        registry: LocalRegistry, tagged, caplog: pytest.LogCaptureFixture) -> None:
    repo, digest = tagged
    ref = f"{registry.host}/{repo}"
    rw.add_namespace(registry.host, "first")
    rw.add_namespace(registry.host, "second")
    rw.add_namespace(registry.host, "third")
    path = journal.journal_path()
    lines = path.read_text().splitlines(keepends=True)
    assert len(lines) == 3
    lines[1] = "garbage \x00 not json\n"  # a damaged middle line
    lines[2] = lines[2][: len(lines[2]) // 2]  # a crash mid-write: torn, no newline
    path.write_text("".join(lines))

    caplog.set_level(logging.WARNING, logger="registry_widgets.journal")
    removed = rw.remove(f"{ref}:2.0")
    assert list_tags(registry, repo) == ["1.0"]

    restored = rw.restore(removed)

    assert sorted(list_tags(registry, repo)) == ["1.0", "2.0"]
    assert get_manifest(registry, repo, "2.0").digest == digest
    assert restored.details["tags"] == [f"{repo}:2.0"]
    # Every record written after the tear starts on its own line and reads back.
    actions = [r["action"] for r in journal.read()]
    assert actions == ["add_namespace", "remove-backup", "remove", "restore"]
    warned = [r.getMessage() for r in caplog.records]
    assert any(f"{path} line 2 " in m for m in warned)
    assert any(f"{path} line 3 " in m for m in warned)


def test_a_record_an_older_writer_glued_to_a_torn_line_is_still_found(
        registry: LocalRegistry, tagged) -> None:
    repo, digest = tagged
    removed = rw.remove(f"{registry.host}/{repo}:2.0")
    path = journal.journal_path()
    records = path.read_text().splitlines()
    backup = next(line for line in records if '"remove-backup"' in line)
    # What the old writer left after a crash: half a record, then the backup on the same line.
    path.write_text('{"action": "copy", "sou' + backup + "\n")

    rw.restore(removed.details["backup_id"])

    assert get_manifest(registry, repo, "2.0").digest == digest


@pytest.mark.parametrize("breakage", ["folder", "swallowed"])
def test_no_delete_when_the_backup_cannot_be_written_and_read_back(
        registry: LocalRegistry, tagged, breakage: str) -> None:
    repo, digest = tagged
    path = journal.journal_path()
    if breakage == "folder":
        path.mkdir(parents=True)  # open() for append fails: IsADirectoryError
    else:
        path.symlink_to("/dev/null")  # writes "succeed", nothing reads back

    with pytest.raises(JournalError, match="was not removed: nothing was changed"):
        rw.remove(f"{registry.host}/{repo}:2.0")

    assert sorted(list_tags(registry, repo)) == ["1.0", "2.0"]
    assert get_manifest(registry, repo, "2.0").digest == digest


def test_a_journal_failure_after_a_copy_is_a_warning(registry: LocalRegistry,
                                                    registry_b: LocalRegistry, tagged,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    repo, digest = tagged
    journal.journal_path().mkdir(parents=True)
    caplog.set_level(logging.WARNING, logger="registry_widgets.journal")

    copied = rw.copy(f"{registry.host}/{repo}:1.0", f"{registry_b.host}/{repo}:1.0")

    assert copied.changed and get_manifest(registry_b, repo, "1.0").digest == digest
    assert "not written to the journal" in copied.details["warnings"][0]
    assert any("not written to the journal" in r.getMessage() for r in caplog.records)


def test_through_the_cli_a_copy_warns_and_a_remove_refuses(registry: LocalRegistry,
                                                          registry_b: LocalRegistry, tagged,
                                                          tmp_path: Path) -> None:
    repo, digest = tagged
    journal.journal_path().mkdir(parents=True)

    done = cli(tmp_path, "run", "copy", "-p", "source", f"{registry.host}/{repo}:1.0",
               "-p", "target", f"{registry_b.host}/{repo}:1.0")
    assert done.returncode == 0, done.stderr
    executed = nbformat.read(tmp_path / done.stdout.strip(), as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert "warning: the action succeeded, but it was not written to the journal" in text
    assert get_manifest(registry_b, repo, "1.0").digest == digest

    done = cli(tmp_path, "run", "remove", "-p", "ref", f"{registry.host}/{repo}:2.0",
               "-p", "dry_run", "False")
    assert done.returncode == 1 and "JournalError" in done.stderr
    assert sorted(list_tags(registry, repo)) == ["1.0", "2.0"]


def test_a_damaged_backup_is_one_clear_error(registry: LocalRegistry, tagged) -> None:
    repo, _ = tagged
    removed = rw.remove(f"{registry.host}/{repo}:2.0")
    path = journal.journal_path()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        if record["action"] == "remove-backup":
            del record["repositories"][0]["manifests"][0]["media_type"]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))

    with pytest.raises(JournalError, match="is damaged.*nothing was restored"):
        rw.restore(removed)
    assert list_tags(registry, repo) == ["1.0"]
    assert repo in list_repositories(registry)


def test_backups_are_synced_to_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    journal.append({"action": "note"})
    assert synced == []
    journal.append({"action": "remove-backup"}, durable=True)
    assert len(synced) == 1
