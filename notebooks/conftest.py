"""The tour's notebooks as tests: ``pytest notebooks/``, one item per notebook.

Each item runs its notebook top to bottom in a fresh kernel with its default parameters
(nbclient, as nbval did), fails on the first cell that raises, then checks what a run must
show: every cell marked ``# NBVAL_CHECK_OUTPUT`` printed exactly the output stored in the
notebook (the only output a notebook is saved with: its author keeps it when clearing the
others), the last cell, tagged ``result``, printed the run's JSON record, and what a person
sees ends with a summary table and holds no raw repr, ``<NA>`` or raw bytes
(``tests/support/notebook_outputs.py``). One item per
notebook, not one per cell: a cell that merely did not raise is not a behaviour of its own.
Around each run the registry's tags are read with raw HTTP (the oracle, not the package): a
notebook that only reads or previews (the defaults of 05, 07 and 08 are dry runs) must leave
every tag as it was, and one that writes (02, 03, 04) must have changed exactly the tag its
record names, to the digest its record names.

The defaults point at the
embedded registry of ``make lab``. So before the first kernel starts, this starts a private
registry seeded exactly like that one (``seed_sample``), points ``REGISTRY_WIDGETS_REGISTRY``
at it (kernels inherit the environment), and keeps journals, caches and Docker credentials
in a temporary folder, never the developer's. Everything is stopped and removed when pytest
ends. The notebooks that need a Docker engine are marked ``engine`` (so ``-m "not engine"``
leaves them out) and get one (``ensure_engine``, as the test fixtures do), or are skipped
with the reason when none can run. Nothing starts when no notebook is selected.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.ci import fail_missing_parts
from tests.support.notebook_outputs import ends_with_a_table, raw_outputs

HERE = Path(__file__).resolve().parent
ENGINE_NOTEBOOKS = {"01_pull.ipynb", "02_tag_and_push.ipynb", "04_build.ipynb"}
_SERVICES = pytest.StashKey["_Services"]()
_ENV = ("REGISTRY_WIDGETS_REGISTRY", "REGISTRY_WIDGETS_STATE", "XDG_CACHE_HOME",
        "DOCKER_CONFIG")


def _is_notebook(item: pytest.Item) -> bool:
    return item.path.suffix == ".ipynb" and item.path.parent == HERE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_notebook(item) and item.path.name in ENGINE_NOTEBOOKS:
            item.add_marker(pytest.mark.engine)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    # With CI=true a missing engine, browser or root fails instead of skipping (tests/support/ci.py).
    outcome = yield
    fail_missing_parts(outcome.get_result())


class _Services:
    """The registry (and engine check) behind the notebooks' defaults, started once."""

    def __init__(self, config: pytest.Config):
        from devstack import EngineUnavailable, ensure_engine, seed_sample, start_registry
        from devstack.services import state_root

        self.scratch = Path(tempfile.mkdtemp(prefix="registry-widgets-nbval-"))
        self.saved = {name: os.environ.get(name) for name in _ENV}
        config.add_cleanup(self.close)
        self.registry = start_registry("plain", state_dir=self.scratch / "registry",
                                       name="nbval")
        seed_sample(self.registry)
        for name in ("state", "cache", "docker-config"):
            (self.scratch / name).mkdir()
        os.environ.update({"REGISTRY_WIDGETS_REGISTRY": self.registry.host,
                           "REGISTRY_WIDGETS_STATE": str(self.scratch / "state"),
                           "XDG_CACHE_HOME": str(self.scratch / "cache"),
                           "DOCKER_CONFIG": str(self.scratch / "docker-config")})
        self.no_engine: str | None = None
        self.engine = None
        try:
            self.engine = ensure_engine(state_root())
        except EngineUnavailable as e:
            self.no_engine = str(e)

    def close(self) -> None:
        if self.engine is not None:  # the images the notebooks pulled, built and tagged
            for image in self.engine.images.list():
                for name in image.tags:
                    if name.startswith(f"{self.registry.host}/"):
                        self.engine.images.remove(name, force=True)
            self.engine.close()
        self.registry.close()
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(self.scratch, ignore_errors=True)


CHECKED = "# NBVAL_CHECK_OUTPUT"


def _written(name: str, record: dict) -> dict[tuple[str, str], str]:
    """{(repository, tag): digest} that a notebook's record says it wrote; {} for the others."""
    results = {"02_tag_and_push.ipynb": lambda r: [r["push"]],
               "03_copy.ipynb": lambda r: [r],
               "04_build.ipynb": lambda r: [r["push"]],
               "13_artifacts.ipynb": lambda r: [r["push"]],
               "11_air_gap.ipynb": lambda r: [r["load"]]}
    written = {}
    for result in results.get(name, lambda r: [])(record):
        where = result["target"].split("/", 1)[1]
        repository, _, tag = where.rpartition(":")
        written[(repository, tag)] = result["digest"]
    return written


def _tags(registry) -> dict[tuple[str, str], str]:
    """Every tag of the registry and its digest, read with raw HTTP."""
    from tests.support import RawClient, list_repositories, list_tags

    raw, found = RawClient(registry), {}
    accept = ", ".join(["application/vnd.oci.image.index.v1+json",
                        "application/vnd.oci.image.manifest.v1+json",
                        "application/vnd.docker.distribution.manifest.list.v2+json",
                        "application/vnd.docker.distribution.manifest.v2+json"])
    for repository in list_repositories(registry):
        for tag in list_tags(registry, repository):
            head = raw.request("HEAD", f"/v2/{repository}/manifests/{tag}",
                               scope=f"repository:{repository}:pull", headers={"Accept": accept})
            found[(repository, tag)] = head.headers.get("Docker-Content-Digest", "")
    return found
CELL_TIMEOUT = 600  # s per cell: a guard against a hung kernel, not a performance bound


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".ipynb" and file_path.parent == HERE:
        return NotebookFile.from_parent(parent, path=file_path)
    return None


class NotebookFile(pytest.File):
    def collect(self):
        yield NotebookRun.from_parent(self, name="run")


class NotebookFailed(Exception):
    """A notebook cell raised, or a checked output differs."""


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name", "stdout") == "stdout")


class NotebookRun(pytest.Item):
    """Run one notebook; compare its checked cells and read its result record."""

    def runtest(self) -> None:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError

        stored = nbformat.read(self.path, as_version=4)
        executed = nbformat.read(self.path, as_version=4)
        registry = self.config.stash[_SERVICES].registry
        before = _tags(registry)
        client = NotebookClient(executed, timeout=CELL_TIMEOUT, kernel_name="python3",
                                resources={"metadata": {"path": str(HERE)}})
        try:
            client.execute()
        except CellExecutionError as e:
            raise NotebookFailed(f"a cell of {self.path.name} raised:\n{e}") from None
        differences = []
        for index, (want, got) in enumerate(zip(stored.cells, executed.cells)):
            if want.cell_type == "code" and want.source.startswith(CHECKED):
                if _stdout(got) != _stdout(want):
                    differences.append(f"cell {index}: expected\n{_stdout(want)}\n"
                                       f"got\n{_stdout(got)}")
        if differences:
            raise NotebookFailed(f"{self.path.name}: checked output differs:\n"
                                 + "\n".join(differences))
        last = executed.cells[-1]
        if "result" not in last.metadata.get("tags", []):
            raise NotebookFailed(f"{self.path.name}: the last cell is not tagged result")
        try:
            record = json.loads(_stdout(last))
        except ValueError:
            raise NotebookFailed(f"{self.path.name}: the result cell printed no JSON record: "
                                 f"{_stdout(last)!r}") from None
        if not isinstance(record, dict) or not record:
            raise NotebookFailed(f"{self.path.name}: the result record is empty: {record!r}")
        after = _tags(registry)
        written = _written(self.path.name, record)
        changed = {key: after.get(key) for key in set(before) | set(after)
                   if before.get(key) != after.get(key)}
        unexpected = {key: value for key, value in changed.items() if key not in written}
        missing = {key: (after.get(key), digest) for key, digest in written.items()
                   if after.get(key) != digest}
        if unexpected or missing:
            raise NotebookFailed(f"{self.path.name}: the registry changed where its record says "
                                 f"nothing was written: {unexpected}; or misses what it says "
                                 f"it wrote (found, recorded): {missing}")
        # What a person sees: a summary table at the end, never a raw repr or an empty cell
        # shown as <NA> or None (tests/support/notebook_outputs.py).
        problems = raw_outputs(executed)
        ending = ends_with_a_table(executed)
        if ending:
            problems.append(f"it ends with {ending}, not a summary table")
        if problems:
            raise NotebookFailed(f"{self.path.name} shows a person something unreadable:\n"
                                 + "\n".join(problems))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, NotebookFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"notebook {self.path.name}"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before the item starts the notebook's kernel.
    if not _is_notebook(item):
        return
    services = item.config.stash.get(_SERVICES, None)
    if services is None:
        services = item.config.stash[_SERVICES] = _Services(item.config)
    if services.no_engine and item.path.name in ENGINE_NOTEBOOKS:
        pytest.skip(f"needs a Docker engine: {services.no_engine}")
