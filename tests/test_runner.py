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


# Papermill's own CLI types a -p value without looking at the notebook
# (papermill.cli._resolve_type): "True"/"False"/"None" exactly, then int, then float, else
# text; it leaves "true", JSON lists and JSON objects as text. For a parameter the notebook
# declares no type for, the runner does exactly that, so papermill itself is the oracle here.
UNTYPED = ["3", "-7", "2.5", "1e3", "True", "False", "None", "true", "none", "",
           '["linux/amd64"]', '{"A": "1"}', "127.0.0.1:5000/ns/app:1.0", "all"]


@pytest.mark.parametrize("text", UNTYPED)
def test_an_untyped_parameter_is_typed_as_papermills_cli_types_it(text):
    from papermill.cli import _resolve_type

    untyped = runner.declared_type("None")  # what papermill reports for "name = value"
    assert runner.convert(text, untyped, text=True) == _resolve_type(text)
    assert type(runner.convert(text, untyped, text=True)) is type(_resolve_type(text))


# A declared type (``name: type = value``) decides instead: bool takes exactly these words,
# None only where the type allows it, lists and dicts as JSON. Where this differs from
# papermill's untyped guess ("true", the JSON rows), the declaration is the reference.
TYPED = [
    ("bool", "true", True), ("bool", "YES", True), ("bool", "1", True), ("bool", "False", False),
    ("bool", "no", False), ("bool", "0", False), ("int", "8", 8), ("int", "-2", -2),
    ("float", "2.5", 2.5), ("float", "3", 3.0), ("str", "None", "None"), ("str", "3", "3"),
    ("str", "", ""), ("Optional[str]", "None", None), ("Optional[str]", "null", None),
    ("Optional[str]", "ns", "ns"), ("str | None", "none", None),
    ("Union[str, list]", "all", "all"), ("Union[str, list]", '["linux/amd64"]', ["linux/amd64"]),
    ("list", '["a", 1]', ["a", 1]), ("list[str]", '["a"]', ["a"]), ("dict", '{"A": "1"}', {"A": "1"}),
]


@pytest.mark.parametrize("declared, text, value", TYPED)
def test_a_declared_type_converts_the_text(declared, text, value):
    converted = runner.convert(text, runner.declared_type(declared), text=True)
    assert converted == value and type(converted) is type(value)


REFUSED = [
    ("bool", "none"), ("bool", ""), ("bool", "nope"), ("bool", "2"), ("int", "2.5"), ("int", "x"),
    ("int", "true"), ("float", "nan"), ("float", "inf"), ("list", '{"a": 1}'), ("list", "[1,"),
    ("dict", "[]"), ("dict", "x"), ("Union[str, list]", "[linux/amd64"), ("list[str]", "[1]"),
]


@pytest.mark.parametrize("declared, text", REFUSED)
def test_a_value_that_does_not_fit_its_declared_type_is_refused(declared, text):
    with pytest.raises(ValueError):
        runner.convert(text, runner.declared_type(declared), text=True)


@pytest.mark.parametrize("declared, value", [
    ("bool", None), ("bool", "no!"), ("bool", 0), ("int", True), ("str", 5), ("str", None),
    ("Union[str, list]", 5), ("Union[str, list]", None), ("dict", [1]), ("list", {"a": 1}),
])
def test_python_values_must_already_fit(declared, value):
    with pytest.raises(ValueError):
        runner.convert(value, runner.declared_type(declared))


def test_a_path_is_text(tmp_path):
    assert runner.convert(tmp_path, runner.declared_type("Optional[str]")) == str(tmp_path)


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
