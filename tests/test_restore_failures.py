"""restore() when it cannot, or must not, put things back: one clear error, nothing changed.

The registry's state is read with the raw-HTTP oracle; a ``FaultProxy`` (no faults) in front
of the registry shows which requests restore sent. Garbage collection is distribution's own
``docker-registry garbage-collect CONFIG``, run on a stopped registry as its docs require.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import pytest

import registry_widgets as rw
from registry_widgets.errors import NotFound, RegistryWidgetsError
from registry_widgets.operations.core import journal
from registry_widgets.operations.core.backup import BACKUP_ACTION
from tests.support import RawClient, push_image
from tests.support.oracle import ACCEPT_ALL

pytest_plugins = ["faults_fixtures"]  # fault_proxy, fresh package clients

WRITES = {"PUT", "POST", "PATCH", "DELETE"}


def tag_status(registry, repository: str, tag: str) -> int:
    return RawClient(registry).request("HEAD", f"/v2/{repository}/manifests/{tag}",
                                       headers={"Accept": ACCEPT_ALL}).status_code


def backups() -> list[dict]:
    return [r for r in journal.read() if r.get("action") == BACKUP_ACTION]


def restores() -> list[dict]:
    return [r for r in journal.read() if r.get("action") == "restore"]


@pytest.fixture
def removed(registry_factory, fault_proxy, unique_repo):
    """An image pushed, then removed through a proxy: (registry, proxy, image, remove Result)."""
    registry = registry_factory()
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(4096, 2048), seed=unique_repo)
    proxy = fault_proxy(registry)
    # the only image of the repository: emptying it needs force (the engine's guard)
    result = rw.remove(f"{proxy.host}/{unique_repo}@{image.digest}", force=True)
    assert result.changed and tag_status(registry, unique_repo, "1.0") == 404
    proxy.clear()
    return registry, proxy, image, result


@pytest.mark.skipif(not shutil.which("docker-registry"), reason="needs distribution's binary")
def test_restore_after_garbage_collection_is_not_found_and_says_why(removed, unique_repo):
    registry, proxy, image, result = removed
    registry.stop()
    gc = subprocess.run(["docker-registry", "garbage-collect", str(registry.config_file)],
                        capture_output=True, text=True, timeout=120)
    assert gc.returncode == 0, gc.stderr
    registry.start()
    layer_dir = registry.storage / "docker/registry/v2/blobs/sha256" / image.layers[0].digest[7:9]
    assert not (layer_dir / image.layers[0].digest[7:]).exists()  # the collector took it

    with pytest.raises(NotFound) as caught:
        rw.restore(result)

    message = str(caught.value)
    assert "garbage collection" in message and proxy.host in message
    assert f"{unique_repo}@{image.digest}" in message
    assert tag_status(registry, unique_repo, "1.0") == 404
    assert restores() == []


def test_a_dry_run_restore_sends_no_write_and_reports_what_it_would_do(removed, unique_repo):
    registry, proxy, image, result = removed

    planned = rw.restore(result, dry_run=True)

    assert planned.dry_run and not planned.changed
    assert planned.details["manifests"] == [f"{unique_repo}@{image.digest}"]
    assert planned.details["tags"] == [f"{unique_repo}:1.0"]
    assert [e.method for e in proxy.log if e.method in WRITES] == []
    assert tag_status(registry, unique_repo, "1.0") == 404
    assert restores() == []

    done = rw.restore(result)  # and the real one still works afterwards
    assert done.changed and tag_status(registry, unique_repo, "1.0") == 200


def test_a_corrupt_backup_is_refused_before_any_write(removed, unique_repo):
    registry, proxy, image, result = removed
    backup = json.loads(json.dumps(backups()[-1]))
    stored = backup["repositories"][0]["manifests"][0]
    stored["data"] = base64.b64encode(base64.b64decode(stored["data"]) + b" ").decode()

    with pytest.raises(RegistryWidgetsError) as caught:
        rw.restore(backup)

    message = str(caught.value)
    assert "corrupt" in message and image.digest in message and backup["id"] in message
    assert [e.method for e in proxy.log if e.method in WRITES] == []
    assert tag_status(registry, unique_repo, "1.0") == 404


def test_a_backup_that_is_not_base64_is_refused_the_same_way(removed, unique_repo):
    registry, proxy, image, result = removed
    backup = json.loads(json.dumps(backups()[-1]))
    backup["repositories"][0]["manifests"][0]["data"] = "not base64 at all!"

    with pytest.raises(RegistryWidgetsError, match="damaged|corrupt"):
        rw.restore(backup)
    assert [e.method for e in proxy.log if e.method in WRITES] == []


def test_an_unknown_backup_id_is_not_found_and_names_the_journal(state_dir):
    with pytest.raises(NotFound) as caught:
        rw.restore("0123456789abcdef")
    message = str(caught.value)
    assert "0123456789abcdef" in message and str(journal.journal_path()) in message


def test_a_result_without_a_backup_is_one_clear_error(registry, unique_repo):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(512,), seed=unique_repo)
    copied = rw.copy(image.reference, f"{registry.host}/{unique_repo}-copy:1.0")

    with pytest.raises(RegistryWidgetsError, match="no backup"):
        rw.restore(copied)
