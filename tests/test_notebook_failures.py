"""The guided notebooks when the step cannot be done: the error is the package's own, it is at
the top of the executed notebook, and the registry is as it was (read with the raw-HTTP oracle).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import nbformat
import papermill
import pytest

from registry_widgets.runner import run_notebook
from tests.support import RawClient, get_manifest, list_tags, push_image, push_index
from tests.support.oracle import ACCEPT_ALL


def run_failing(name: str, tmp_path: Path, **parameters) -> tuple[papermill.PapermillExecutionError,
                                                                   nbformat.NotebookNode]:
    out = tmp_path / f"{name}.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as failed:
        run_notebook(name, {**parameters, "interactive": False}, output=out)
    executed = nbformat.read(out, as_version=4)
    assert "papermill-error-cell-tag" in executed.cells[0].metadata.get("tags", [])
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert [e.ename for e in errors] == [failed.value.ename]  # one error, where it happened
    return failed.value, executed


def docker_login(host: str, user: str, password: str) -> None:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (Path(os.environ["DOCKER_CONFIG"]) / "config.json").write_text(
        json.dumps({"auths": {host: {"auth": auth}}}))


def manifest_status(registry, repository: str, reference: str) -> int:
    return RawClient(registry).request("HEAD", f"/v2/{repository}/manifests/{reference}",
                                       scope=f"repository:{repository}:pull",
                                       headers={"Accept": ACCEPT_ALL}).status_code


def test_01_pull_without_login_says_to_log_in(token_registry, unique_repo, docker_client,
                                               tmp_path):
    push_image(token_registry, unique_repo, "1.0", layer_sizes=(256,), seed=unique_repo)
    ref = f"{token_registry.host}/{unique_repo}:1.0"

    error, _ = run_failing("01_pull", tmp_path, ref=ref)

    # dockerd answers "pull access denied ... does not exist or may require 'docker login'"
    # for a missing image and a refused one alike; the package keeps the login hint.
    assert error.ename in ("Unauthorized", "NotFound")
    assert "docker login" in error.evalue and token_registry.host in error.evalue
    assert docker_client.images.list(name=f"{token_registry.host}/{unique_repo}") == []


def test_02_push_as_a_pull_only_user_is_denied(token_registry, unique_repo, docker_client,
                                               base_image, tmp_path, local_names):
    bob = token_registry.token_server.users["bob"]
    docker_login(token_registry.host, "bob", bob)
    target = f"{token_registry.host}/{unique_repo}:1.0"
    local_names.append(target)

    error, executed = run_failing("02_tag_and_push", tmp_path, source=base_image, target=target)

    assert error.ename in ("Denied", "Unauthorized"), error.evalue
    assert token_registry.host in error.evalue and unique_repo in error.evalue
    assert manifest_status(token_registry, unique_repo, "1.0") == 404
    assert bob not in nbformat.writes(executed)


def test_05_remove_of_a_digest_an_index_uses_is_protected(registry, unique_repo, tmp_path):
    amd64 = push_image(registry, unique_repo, None, layer_sizes=(256,), seed=f"{unique_repo}-a")
    arm64 = push_image(registry, unique_repo, None, layer_sizes=(256,), seed=f"{unique_repo}-b",
                       platform=("linux", "arm64", "v8"))
    index = push_index(registry, unique_repo, "multi", [amd64, arm64])

    error, _ = run_failing("05_remove", tmp_path, ref=amd64.by_digest, dry_run=False)

    assert error.ename == "Protected" and "force=True" in error.evalue
    assert get_manifest(registry, unique_repo, amd64.digest).digest == amd64.digest
    assert get_manifest(registry, unique_repo, "multi").digest == index


def test_05_remove_where_deletes_are_disabled_says_so(nodelete_registry, unique_repo, tmp_path):
    image = push_image(nodelete_registry, unique_repo, "1.0", layer_sizes=(256,),
                       seed=unique_repo)

    error, _ = run_failing("05_remove", tmp_path, ref=image.reference, dry_run=False)

    assert error.ename == "DeleteDisabled" and "delete: enabled: true" in error.evalue
    assert list_tags(nodelete_registry, unique_repo) == ["1.0"]
    assert get_manifest(nodelete_registry, unique_repo, "1.0").digest == image.digest


def test_06_a_malformed_namespace_is_a_bad_reference_before_any_listing(registry, tmp_path):
    error, _ = run_failing("06_namespaces_and_images", tmp_path, registry=registry.host,
                           namespace="Team A")

    assert error.ename == "BadReference" and "Team A" in error.evalue
