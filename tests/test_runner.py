"""python -m registry_widgets: headless runs write a timestamped record under runs/."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from registry_widgets import runner
from tests.support.images import seed_sample
from tests.support.oracle import get_manifest


@pytest.mark.parametrize("text, value", [
    ("3", 3), ("2.5", 2.5), ("true", True), ("False", False), ("None", None),
    ('["linux/amd64"]', ["linux/amd64"]), ('{"A": "1"}', {"A": "1"}),
    ("127.0.0.1:5000/ns/app:1.0", "127.0.0.1:5000/ns/app:1.0"), ("all", "all"),
])
def test_parameter_values_are_typed_like_papermills_cli(text, value):
    assert runner.parse_value(text) == value


@pytest.mark.parametrize("name", ["copy", "03_copy", "03_copy.ipynb"])
def test_notebooks_are_found_by_short_or_full_name(name):
    assert runner.notebook_path(name).name == "03_copy.ipynb"


def test_an_unknown_notebook_lists_the_known_ones(tmp_path):
    done = subprocess.run([sys.executable, "-m", "registry_widgets", "run", "nope"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert "no notebook named 'nope'" in done.stderr and "copy" in done.stderr


def test_a_headless_copy_writes_a_timestamped_record_and_copies(registry, registry_b, tmp_path):
    seeded = seed_sample(registry)
    source = f"{registry.host}/tutorial/busybox:1.0"
    target = f"{registry_b.host}/runner/busybox:1.0"

    done = subprocess.run([sys.executable, "-m", "registry_widgets", "run", "copy",
                           "-p", "source", source, "-p", "target", target],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)

    assert done.returncode == 0, done.stderr
    record = tmp_path / done.stdout.strip()
    assert re.fullmatch(r"runs/\d{8}T\d{6}\.\d{6}Z-03_copy\.ipynb", done.stdout.strip())
    notebook = json.loads(record.read_text())
    injected = [c for c in notebook["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert "interactive = False" in "".join(injected[0]["source"])
    copied = get_manifest(registry_b, "runner/busybox", "1.0")
    assert copied.digest == seeded[source]
