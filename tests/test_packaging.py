"""The packaging files agree with each other and with the README's promise.

pyproject.toml (pip) and environment.yml (conda / Binder) list the same dependencies with
the same minimum versions; the README promises `make lab` and `make test`, the Makefile
has them, and CI runs `make test`. The wheel holds registry_widgets only: not the dev
services (devstack/), the tests or the benchmarks.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent

# PyPI name -> conda-forge name, where they differ.
CONDA_NAME = {
    "docker": "docker-py",
}
# In environment.yml but not a dependency of the package.
CONDA_ONLY = {"python", "pip"}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def pip_requirements() -> dict[str, SpecifierSet]:
    """Runtime, test and dask-extra dependencies from pyproject.toml, by conda-forge name."""
    project = pyproject()["project"]
    extras = project["optional-dependencies"]
    lines = project["dependencies"] + extras["test"] + extras["dask"]
    out = {}
    for line in lines:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        out[CONDA_NAME.get(name, name)] = req.specifier
    return out


_CONDA_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$")


def conda_specs() -> dict[str, SpecifierSet]:
    """Every conda package in environment.yml (the pip: section aside) with its versions."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for entry in env["dependencies"]:
        if not isinstance(entry, str):  # the {"pip": [...]} section
            continue
        match = _CONDA_SPEC.match(entry)
        assert match, f"environment.yml: cannot read dependency {entry!r}"
        name, spec = match.groups()
        # conda's "name 1.2" / "name=1.2" pin; ">=" and friends mean what they do in pip.
        if spec and spec[0].isdigit():
            spec = "==" + spec
        elif spec.startswith("=") and not spec.startswith("=="):
            spec = "==" + spec[1:]
        out[canonicalize_name(name)] = SpecifierSet(spec.replace(" ", ""))
    return out


def minimum(spec: SpecifierSet) -> Version | None:
    """The lowest version the specifier allows, as far as its lower bounds say."""
    floors = [Version(s.version) for s in spec if s.operator in (">=", "==", "~=")]
    return max(floors) if floors else None


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    pip_names = set(pip_requirements())
    conda_names = set(conda_specs()) - CONDA_ONLY
    assert pip_names - conda_names == set(), (
        "in pyproject.toml but not environment.yml (add them there, with conda-forge's name; "
        "CONDA_NAME in this test maps the names that differ)"
    )
    assert conda_names - pip_names == set(), "in environment.yml but not pyproject.toml"


@pytest.mark.parametrize("name", sorted(pip_requirements()))
def test_minimum_versions_agree(name):
    conda = conda_specs().get(name)
    if conda is None:
        pytest.skip(f"{name} missing from environment.yml (reported by the test above)")
    assert minimum(conda) == minimum(pip_requirements()[name]), (
        f"{name}: environment.yml says {conda or 'any'}, "
        f"pyproject.toml says {pip_requirements()[name] or 'any'}"
    )


def test_python_floor_agrees():
    requires = SpecifierSet(pyproject()["project"]["requires-python"])
    assert minimum(conda_specs()["python"]) == minimum(requires), (
        f"environment.yml python {conda_specs()['python']} vs requires-python {requires}"
    )


def test_environment_yml_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_sections = [e["pip"] for e in env["dependencies"] if isinstance(e, dict) and "pip" in e]
    assert any(line in ("-e .", ".") for section in pip_sections for line in section), (
        "environment.yml should end with a pip: section that installs this package (-e .)"
    )


def test_console_scripts_point_at_modules_that_exist():
    for script, target in pyproject()["project"].get("scripts", {}).items():
        module = target.split(":")[0]
        path = ROOT.joinpath(*module.split("."))
        assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), (
            f"[project.scripts] {script} = {target!r}: no module {module}"
        )


def test_readme_promises_make_lab_and_make_test():
    readme = ROOT / "README.md"
    assert readme.is_file(), "README.md is missing (pyproject.toml names it as the readme)"
    text = readme.read_text()
    for command in ("make lab", "make test"):
        assert command in text, f"README.md should tell readers to run `{command}`"


@pytest.mark.parametrize("target", ["lab", "test", "install"])
def test_makefile_has_the_promised_targets(target):
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(rf"^{target}\s*:", makefile, re.M), f"Makefile has no `{target}:` target"


def test_ci_runs_make_test():
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    code = [line.split("#", 1)[0] for line in lines]
    assert any(re.match(r"^\s*(exec\s+)?make\s+test\b", line) for line in code), (
        ".ci/run should run `make test`, so CI does exactly what the README promises"
    )


def wheel_packages() -> tuple[list[str], list[str]]:
    """(packages, top-level modules) setuptools puts in the wheel, as pyproject configures it.

    The same discovery a build runs, without building: a wheel build needs the `wheel`
    package (setuptools < 70) or network access for build isolation, and takes seconds.
    """
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings():
        # Older setuptools call [tool.setuptools] in pyproject.toml "beta" on every read.
        warnings.simplefilter("ignore")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    return list(dist.packages or []), list(dist.py_modules or [])


def test_wheel_ships_the_package_only():
    packages, modules = wheel_packages()
    # Guards against a discovery that finds nothing, which would pass the checks below.
    assert {"registry_widgets", "registry_widgets.widgets"} <= set(packages), packages
    outside = sorted({name.split(".")[0] for name in packages + modules} - {"registry_widgets"})
    assert outside == [], f"the wheel would ship top-level {outside}; see packages.find"
    # devstack/ starts services for the tests and `make lab`; it once lived in the package.
    stack = [name for name in packages + modules
             if {"stack", "devstack", "tests"} & set(name.split("."))]
    assert stack == [], f"the wheel would ship dev or test tooling: {stack}"


def test_a_headless_copy_loads_neither_pandas_nor_the_widgets():
    # pandas (about 50 MiB) and ipywidgets/itables are for tables and panels: a headless copy,
    # prune or restore in a new process must not pay for them (benchmarks measure the RSS).
    code = ("import sys, registry_widgets as rw; rw.copy; rw.prune; rw.restore; rw.sync; "
            "rw.remove; print(sorted(m for m in ('pandas', 'ipywidgets', 'itables', 'numpy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_a_headless_copy_loads_neither_the_docker_sdk_nor_re2():
    # The engine's SDK loads where a plan asks the engine for running containers, RE2 at
    # the first tag pattern: a copy or a listing uses neither, and together they were
    # 4.5 MiB of a headless copy's 45 MiB budget (issue 22).
    code = ("import sys, registry_widgets as rw; rw.copy; rw.images; rw.sync; rw.prune; "
            "rw.remove; print(sorted(m for m in ('docker', 're2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
