"""The command line, through the installed console script ``registry-widgets``.

``list`` names every notebook, ``run ... --output-dir`` writes the executed notebook there and
prints its path, and bad use exits non-zero with one line on stderr. The run's effect on the
registry is read back with the raw-HTTP oracle.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.support import get_manifest, push_image

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "registry-widgets"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def test_the_console_script_is_installed_and_lists_every_notebook(tmp_path):
    assert SCRIPT.is_file(), "pyproject's [project.scripts] registry-widgets is not installed"
    done = cli("list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = [line.split() for line in done.stdout.splitlines()]
    notebooks = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    assert [name for _, name in listed] == notebooks
    assert [short for short, _ in listed] == [n.removesuffix(".ipynb").split("_", 1)[1]
                                              for n in notebooks]


def test_run_with_output_dir_writes_the_record_there_and_prints_its_path(registry, registry_b,
                                                                         unique_repo, tmp_path):
    image = push_image(registry, unique_repo, "1.0", layer_sizes=(512,), seed=unique_repo)
    out_dir = tmp_path / "records"

    done = cli("run", "copy", "-p", "source", image.reference,
               "-p", "target", f"{registry_b.host}/{unique_repo}:1.0",
               "-p", "interactive", "false", "--output-dir", str(out_dir), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    printed = Path(done.stdout.strip())
    assert printed.parent == out_dir and printed.name.endswith("-03_copy.ipynb")
    assert list(out_dir.iterdir()) == [printed]
    assert not (tmp_path / "runs").exists()  # not the default folder
    executed = nbformat.read(printed, as_version=4)
    assert executed.metadata["papermill"]["parameters"]["source"] == image.reference
    assert get_manifest(registry_b, unique_repo, "1.0").digest == image.digest


@pytest.mark.parametrize("args, code, words", [
    (("run", "no-such-notebook"), 2, ("error:", "no-such-notebook")),
    (("frobnicate",), 2, ("invalid choice",)),
    ((), 2, ("usage:",)),
], ids=["unknown notebook", "unknown command", "no command"])
def test_bad_use_exits_non_zero_with_the_reason(tmp_path, args, code, words):
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == code
    assert all(word in done.stderr for word in words), done.stderr
    assert done.stdout == ""
