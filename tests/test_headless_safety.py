"""Headless runs act only on what they were told: every refusal goes through the real CLI
(``python -m registry_widgets run``) against a real registry, and the registry's state is
read back with the independent oracle (raw HTTP), never with the package's own client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from registry_widgets import paths, runner
from devstack import LocalRegistry
from tests.support import get_manifest, push_image, push_index, seed_sample
from tests.support.headless import cli, state

EXAMPLE = "tutorial/busybox"  # 05_remove's default target is tutorial/busybox:latest


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

