"""Headless runs act only on what they were told: every refusal goes through the real CLI
(``python -m registry_widgets run``) against a real registry, and the registry's state is
read back with the independent oracle (raw HTTP), never with the package's own client."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from registry_widgets import paths, runner
from devstack import LocalRegistry
from tests.support import (RawClient, get_manifest, list_repositories, push_image, push_index,
                           seed_sample)
from tests.support.headless import cli, state

EXAMPLE = "tutorial/busybox"  # 05_remove's default target is tutorial/busybox:latest
# The repositories each writing notebook's defaults write to (its example targets).
WRITES_TO = {
    "tag_and_push": ("my_namespace/busybox",),
    "copy": ("my_namespace/multiarch",),
    "build": ("my_namespace/hello",),
    "sync": ("mirror/busybox", "mirror/hello", "mirror/multiarch"),
    "artifacts": ("models/demo",),
}


@pytest.fixture
def seeded(registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch) -> LocalRegistry:
    """The tour's images in registry A, which is the notebooks' default registry here."""
    seed_sample(registry)
    monkeypatch.setenv("REGISTRY_WIDGETS_REGISTRY", registry.host)
    return registry


@pytest.fixture
def victim(seeded: LocalRegistry, unique_repo: str) -> str:
    """A repository with two co-tags, 1.0 and 2.0, that a run may be told to remove."""
    push_image(seeded, unique_repo, "1.0", seed=unique_repo)
    push_image(seeded, unique_repo, "2.0", seed=unique_repo)
    return unique_repo


# name, -p pairs ({host} and {repo} filled in), words the error must contain
REFUSED = [
    ("remove", [("reff", "{host}/{repo}:2.0"), ("dry_run", "False")],
     ["no parameter reff", "did you mean ref?", "ref, force, dry_run, interactive"]),
    ("remove", [("ref", "{host}/{repo}:2.0"), ("dry_run", "none")],
     ["parameter dry_run", "true/false/yes/no/1/0"]),
    ("remove", [("ref", "{host}/{repo}:2.0"), ("dry_run", "")], ["parameter dry_run"]),
    ("remove", [("ref", "{host}/{repo}:2.0"), ("dry_run", "False"), ("force", "maybe")],
     ["parameter force"]),
    ("remove", [("dry_run", "False")], ["pass ref explicitly"]),
    ("remove", [("dry_run", "0"), ("ref", "")], ["pass ref explicitly"]),
    ("remove", [("ref", "{host}/{repo}:2.0"), ("ref", "{host}/{repo}:1.0"), ("dry_run", "False")],
     ["parameter ref is given twice"]),
    ("remove", [("x=1;open('pwned','w');y", "1"), ("ref", "{host}/{repo}:2.0"),
                ("dry_run", "False")], ["is not a Python identifier"]),
    ("copy", [("sourc", "{host}/{repo}:1.0"), ("targt", "{host}/tutorial/busybox:latest")],
     ["no parameter sourc", "did you mean source?"]),
    ("copy", [("source", "{host}/{repo}:1.0"), ("target", "{host}/tutorial/busybox:latest"),
              ("platforms", "[linux/amd64")], ["parameter platforms", "not valid JSON"]),
    ("nope", [("ref", "{host}/{repo}:2.0")], ["no notebook named 'nope'", "remove"]),
    ("retention", [("dry_run", "False"), ("keep", "0"), ("force", "True")],
     ["07_retention.ipynb deletes", "pass target explicitly", "-p target REGISTRY/NAMESPACE)"]),
]


@pytest.mark.parametrize("name, pairs, words", REFUSED,
                         ids=[f"{n}-{p[0][0]}={p[0][1][:12]}-{i}" for i, (n, p, _) in enumerate(REFUSED)])
def test_a_refused_run_exits_2_names_the_parameter_and_changes_nothing(
        seeded: LocalRegistry, victim: str, tmp_path: Path, name, pairs, words) -> None:
    watched = (EXAMPLE, victim, "my_namespace/multiarch")
    before = state(seeded, *watched)
    args = [part for key, value in pairs
            for part in ("-p", key, value.format(host=seeded.host, repo=victim))]

    done = cli(tmp_path, "run", name, *args)

    assert done.returncode == 2, done.stderr
    for word in words:
        assert word in done.stderr
    assert "Nothing was run" in done.stderr
    assert state(seeded, *watched) == before
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())
    assert not (tmp_path / "pwned").exists() and not (paths.notebooks_dir() / "pwned").exists()


def test_an_output_folder_that_cannot_be_written_is_refused_before_running(
        seeded: LocalRegistry, victim: str, tmp_path: Path) -> None:
    before = state(seeded, victim)
    (tmp_path / "a-file").write_text("not a folder")

    done = cli(tmp_path, "run", "remove", "-p", "ref", f"{seeded.host}/{victim}:2.0",
               "-p", "dry_run", "False", "--output-dir", str(tmp_path / "a-file" / "runs"))

    assert done.returncode == 2, done.stderr
    assert "cannot write the executed notebook" in done.stderr and "a-file" in done.stderr
    assert state(seeded, victim) == before  # the removal did not run


def test_force_no_is_false_so_an_index_child_stays(seeded: LocalRegistry, unique_repo: str,
                                                   tmp_path: Path) -> None:
    amd64 = push_image(seeded, unique_repo, None, seed="amd64")
    arm64 = push_image(seeded, unique_repo, None, seed="arm64", platform=("linux", "arm64"))
    index = push_index(seeded, unique_repo, "1.0", [amd64, arm64])

    done = cli(tmp_path, "run", "remove", "-p", "ref", f"{seeded.host}/{unique_repo}@{arm64.digest}",
               "-p", "force", "no", "-p", "dry_run", "False")

    assert done.returncode == 1  # ran, and remove refused: "no" is False, so not forced
    assert "multi-arch index" in done.stderr
    assert get_manifest(seeded, unique_repo, arm64.digest).digest == arm64.digest
    assert get_manifest(seeded, unique_repo, "1.0").digest == index


def test_a_value_reaches_the_notebook_as_data_not_code(seeded: LocalRegistry, victim: str,
                                                       tmp_path: Path) -> None:
    before = state(seeded, EXAMPLE, victim)
    sneaky = 'x"\nopen("pwned", "w")\n"\\'

    done = cli(tmp_path, "run", "remove", "-p", "ref", sneaky, "-p", "dry_run", "True")

    assert done.returncode == 1  # the verb refused the text as a reference: it was data
    assert "Invalid" in done.stderr or "bad" in done.stderr.lower()
    assert not (tmp_path / "pwned").exists() and not (paths.notebooks_dir() / "pwned").exists()
    assert state(seeded, EXAMPLE, victim) == before


def test_an_explicit_headless_remove_takes_that_tag_only(seeded: LocalRegistry, victim: str,
                                                         tmp_path: Path) -> None:
    example = state(seeded, EXAMPLE)
    digest = get_manifest(seeded, victim, "1.0").digest

    done = cli(tmp_path, "run", "remove", "-p", "ref", f"{seeded.host}/{victim}:2.0",
               "-p", "dry_run", "no")

    assert done.returncode == 0, done.stderr
    assert state(seeded, victim) == {victim: {"1.0": digest}}
    assert state(seeded, EXAMPLE) == example


def test_plain_papermill_cannot_remove_the_example_headless(seeded: LocalRegistry,
                                                            tmp_path: Path) -> None:
    before = state(seeded, EXAMPLE)
    papermill_cli = Path(sys.executable).with_name("papermill")

    done = subprocess.run([str(papermill_cli), str(paths.notebooks_dir() / "05_remove.ipynb"),
                           str(tmp_path / "out.ipynb"), "-p", "dry_run", "False",
                           "-p", "interactive", "False"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)

    assert done.returncode != 0
    assert "ConfirmationRequired" in done.stderr and "not a target you named" in done.stderr
    assert state(seeded, EXAMPLE) == before


@pytest.mark.parametrize("parameters, word", [
    ({"ref": "a/b:1", "dry_run": None}, "dry_run"), ({"ref": "a/b:1", "force": "no!"}, "force"),
    ({"reff": "a/b:1"}, "did you mean ref?"), ({"dry_run": False}, "pass ref explicitly"),
])
def test_run_notebook_checks_the_same_before_any_kernel(parameters, word, tmp_path: Path) -> None:
    with pytest.raises(runner.ParameterError, match=word.replace("?", r"\?")):
        runner.run_notebook("remove", parameters, output=tmp_path / "out.ipynb")
    assert not (tmp_path / "out.ipynb").exists()


# -- writes: a headless write names its target -------------------------------------------

# name, -p pairs ({host} and {repo} filled in), the parameter the refusal must name
UNNAMED_WRITES = [
    ("tag_and_push", [], "-p target REGISTRY/NAMESPACE/REPOSITORY:TAG"),
    ("tag_and_push", [("source", "{host}/tutorial/busybox:1.0")], "-p target "),
    ("copy", [], "-p target REGISTRY/NAMESPACE/REPOSITORY:TAG"),
    ("copy", [("source", "{host}/tutorial/busybox:1.0"), ("platforms", '["linux/amd64"]')],
     "-p target "),
    # `interactive` only chooses widgets or text: a headless run is a batch job either way.
    ("copy", [("interactive", "True")], "-p target "),
    ("copy", [("target", "")], "-p target "),
    ("build", [], "-p ref REGISTRY/NAMESPACE/REPOSITORY:TAG"),
    ("build", [("push", "True"), ("test_run", "False")], "-p ref "),
    ("sync", [("dry_run", "False")], "-p target REGISTRY/NAMESPACE"),
    ("sync", [("dry_run", "no"), ("source", "{host}/tutorial"), ("target", "")], "-p target "),
    ("artifacts", [], "-p ref REGISTRY/NAMESPACE/REPOSITORY:TAG"),
]


@pytest.mark.parametrize("name, pairs, words", UNNAMED_WRITES,
                         ids=[f"{n}-{'-'.join(k for k, _ in p) or 'defaults'}"
                              for n, p, _ in UNNAMED_WRITES])
def test_a_headless_write_without_its_target_is_refused_and_writes_nothing(
        seeded: LocalRegistry, tmp_path: Path, name: str, pairs, words: str) -> None:
    watched = WRITES_TO[name]
    before = state(seeded, *watched)
    args = [part for key, value in pairs for part in ("-p", key, value.format(host=seeded.host))]

    done = cli(tmp_path, "run", name, *args)

    assert done.returncode == 2, done.stderr
    assert done.stderr.count("error:") == 1 and words in done.stderr
    assert "writes only where it is told" in done.stderr and "Nothing was run" in done.stderr
    assert state(seeded, *watched) == before  # the oracle: the example target is untouched
    assert not (tmp_path / "runs").exists()


def _record(path: Path) -> dict:
    cell = nbformat.read(path, as_version=4).cells[-1]
    return json.loads("".join(o.get("text", "") for o in cell.outputs
                              if o.output_type == "stream"))


def _forget_local(engine, *names: str) -> None:
    for name in names:
        try:
            engine.images.remove(name, force=True)
        except Exception:  # noqa: BLE001 - an image the failed run never made
            pass


def test_a_headless_copy_with_its_target_named_copies_there_only(
        seeded: LocalRegistry, unique_repo: str, tmp_path: Path) -> None:
    digests = seed_sample(seeded)
    example = state(seeded, *WRITES_TO["copy"])
    target = f"{seeded.host}/{unique_repo}:1.0"

    done = cli(tmp_path, "run", "copy", "-p", "target", target,
               "--output", str(tmp_path / "out.ipynb"))

    assert done.returncode == 0, done.stderr
    assert state(seeded, unique_repo) == {
        unique_repo: {"1.0": digests[f"{seeded.host}/tutorial/multiarch:1.0"]}}
    assert state(seeded, *WRITES_TO["copy"]) == example
    assert _record(tmp_path / "out.ipynb")["target"] == target


@pytest.mark.parametrize("name, parameter", [("tag_and_push", "target"), ("build", "ref")])
def test_a_headless_engine_write_with_its_target_named_pushes_there_only(
        seeded: LocalRegistry, unique_repo: str, tmp_path: Path, docker_client, name: str,
        parameter: str) -> None:
    example = state(seeded, *WRITES_TO[name])
    target = f"{seeded.host}/{unique_repo}:1.0"
    try:
        done = cli(tmp_path, "run", name, "-p", parameter, target,
                   "--output", str(tmp_path / "out.ipynb"), timeout=600)

        assert done.returncode == 0, done.stderr
        pushed = _record(tmp_path / "out.ipynb")["push"]["digest"]
        assert state(seeded, unique_repo) == {unique_repo: {"1.0": pushed}}
        assert state(seeded, *WRITES_TO[name]) == example
    finally:
        _forget_local(docker_client, target, f"{seeded.host}/tutorial/busybox:1.0")


def test_a_headless_sync_with_no_parameters_is_a_dry_run(seeded: LocalRegistry,
                                                         tmp_path: Path) -> None:
    before = state(seeded, *WRITES_TO["sync"])

    done = cli(tmp_path, "run", "sync", "--output", str(tmp_path / "out.ipynb"))

    assert done.returncode == 0, done.stderr
    assert state(seeded, *WRITES_TO["sync"]) == before  # the oracle first: nothing written
    record = _record(tmp_path / "out.ipynb")
    assert record["result"]["dry_run"] is True and "copied" not in record["images"]
    planned = [ref for refs in record["images"].values() for ref in refs]  # by planned action
    assert sorted(planned) == sorted(
        f"{seeded.host}/tutorial/{tag}" for tag in
        ("busybox:1.0", "busybox:latest", "hello:1.0", "multiarch:1.0"))
    assert state(seeded, *WRITES_TO["sync"]) == before


def test_a_headless_sync_with_dry_run_false_and_a_target_copies_there_only(
        seeded: LocalRegistry, tmp_path: Path) -> None:
    digests = seed_sample(seeded)
    mirror = f"mirror-{secrets.token_hex(3)}"
    example = state(seeded, *WRITES_TO["sync"])

    done = cli(tmp_path, "run", "sync", "-p", "target", f"{seeded.host}/{mirror}",
               "-p", "dry_run", "False", "-p", "tags", "^1")

    assert done.returncode == 0, done.stderr
    mirrored = state(seeded, f"{mirror}/busybox", f"{mirror}/hello", f"{mirror}/multiarch")
    assert mirrored == {f"{mirror}/{name}": {"1.0": digests[f"{seeded.host}/tutorial/{name}:1.0"]}
                        for name in ("busybox", "hello", "multiarch")}
    assert state(seeded, *WRITES_TO["sync"]) == example


# -- the output is never the notebook being run -------------------------------------------

@pytest.mark.parametrize("how", ["absolute", "relative", "symlink"])
def test_an_output_that_is_the_notebook_itself_is_refused_and_the_notebook_unchanged(
        seeded: LocalRegistry, unique_repo: str, tmp_path: Path, how: str) -> None:
    notebook = paths.notebooks_dir() / "03_copy.ipynb"
    source_bytes = notebook.read_bytes()
    before = state(seeded, unique_repo, *WRITES_TO["copy"])
    link = tmp_path / "link.ipynb"
    link.symlink_to(notebook)
    output = {"absolute": str(notebook), "relative": os.path.relpath(notebook, tmp_path),
              "symlink": str(link)}[how]

    done = cli(tmp_path, "run", "copy", "-p", "target", f"{seeded.host}/{unique_repo}:1.0",
               "--output", output)

    assert done.returncode == 2, done.stderr
    assert f"--output {output} is {notebook}" in done.stderr
    assert "the notebook being run" in done.stderr and "Nothing was run" in done.stderr
    assert notebook.read_bytes() == source_bytes
    assert state(seeded, unique_repo, *WRITES_TO["copy"]) == before


def test_run_notebook_refuses_the_notebook_as_its_output(tmp_path: Path) -> None:
    notebook = paths.notebooks_dir() / "03_copy.ipynb"
    source_bytes = notebook.read_bytes()
    with pytest.raises(runner.ParameterError, match="output= .* the notebook being run"):
        runner.run_notebook("copy", {"target": "127.0.0.1:9/ns/app:1.0"}, output=notebook)
    assert notebook.read_bytes() == source_bytes


# -- 07's prune section: a plan headless unless told ---------------------------------------

@pytest.fixture
def embedded(embedded, monkeypatch: pytest.MonkeyPatch) -> LocalRegistry:
    """tests/conftest.py's registry listed as `make lab`'s, seeded, and the notebooks'
    default registry."""
    seed_sample(embedded)
    monkeypatch.setenv("REGISTRY_WIDGETS_REGISTRY", embedded.host)
    return embedded


def _served(registry: LocalRegistry, repository: str, digest: str) -> int:
    return RawClient(registry).request(
        "GET", f"/v2/{repository}/manifests/{digest}", scope=f"repository:{repository}:pull",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, "
                           "application/vnd.oci.image.manifest.v1+json"}).status_code


def test_retention_prunes_untagged_manifests_only_when_told(embedded: LocalRegistry,
                                                            tmp_path: Path) -> None:
    old = get_manifest(embedded, "demo/app", "2.0").digest
    push_image(embedded, "demo/app", "2.0", seed="pushed over")  # old 2.0 is now untagged
    tags = state(embedded, "demo/app")

    # No parameters: the demo namespace's plans, retention's and prune's; nothing deleted.
    done = cli(tmp_path, "run", "retention", "--output", str(tmp_path / "plan.ipynb"))

    assert done.returncode == 0, done.stderr
    assert _served(embedded, "demo/app", old) == 200  # the oracle first: nothing deleted
    record = _record(tmp_path / "plan.ipynb")
    pruned = record["pruned"][f"{embedded.host}/demo"]
    assert record["dry_run"] is True and pruned["dry_run"] is True
    assert [c["reference"] for c in pruned["details"]["plan"]["changes"]] == [old]
    assert _served(embedded, "demo/app", old) == 200
    assert state(embedded, "demo/app") == tags

    done = cli(tmp_path, "run", "retention", "-p", "target", f"{embedded.host}/demo",
               "-p", "keep", "10", "-p", "dry_run", "False",
               "--output", str(tmp_path / "applied.ipynb"))

    assert done.returncode == 0, done.stderr
    assert _served(embedded, "demo/app", old) == 404
    assert state(embedded, "demo/app") == tags  # every tag kept, on the same image
