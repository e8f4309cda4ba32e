"""The tour's notebooks, run headless with papermill against real registries and a real engine.

Each run uses parameters other than the defaults and then checks the registry (or the
engine) with the independent oracle in ``tests/support``, not just that the run
finished. Also: every parameter documents itself (``papermill --help-notebook``) and is a
keyword of the verb the notebook drives, each notebook (the committed .ipynb is the source)
is saved clean and imports only public names, a failure exits non-zero with the error at the
top of the executed notebook, and no executed notebook ever holds a password, in clear or
base64.

Kernels inherit this process's environment: the autouse ``state_dir`` fixture gives each
test its own journal, cache and (empty) DOCKER_CONFIG, and ``_default_registry`` points the
notebooks' default registry at a test registry, never at a developer's.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest

from registry_widgets import notebook_support as nb
from registry_widgets.errors import Unauthorized
from registry_widgets.operations.core import clients
from registry_widgets.runner import run_notebook
from registry_widgets.errors import ParameterError
from devstack import LocalRegistry
from tests.support import (RawClient, busybox_layer, get_blob, get_manifest, list_tags, push_image,
                           push_index, seed_sample)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["00_setup", "01_pull", "02_tag_and_push", "03_copy", "04_build", "05_remove",
         "06_namespaces_and_images", "07_retention", "08_sync", "09_scan", "10_dashboard",
         "11_air_gap", "12_inside_an_image", "13_artifacts"]
ENGINE_NOTEBOOKS = {"01_pull", "02_tag_and_push", "04_build"}
PARAMETERS = {
    "00_setup": ["registry", "ca_bundle", "insecure", "username", "require_engine",
                 "interactive"],
    "01_pull": ["ref", "interactive"],
    "02_tag_and_push": ["source", "target", "interactive"],
    "03_copy": ["source", "target", "platforms", "interactive"],
    "04_build": ["context_dir", "ref", "dockerfile", "build_args", "labels", "test_run",
                 "command", "push", "interactive"],
    "05_remove": ["ref", "force", "dry_run", "interactive"],
    "06_namespaces_and_images": ["registry", "namespace", "repositories", "new_namespace",
                                 "export_csv", "interactive"],
    "07_retention": ["target", "keep", "older_than", "tags", "protect", "force", "dry_run",
                     "interactive"],
    "08_sync": ["source", "target", "tags", "semver", "latest", "platforms", "accessories",
                "dry_run", "interactive"],
    "09_scan": ["ref", "feed", "exemptions", "fail_on", "json_output", "sarif_output",
                "sbom_output", "interactive"],
    "10_dashboard": ["registries", "interactive"],
    "11_air_gap": ["source", "target", "archive", "platforms", "feed", "interactive"],
    "12_inside_an_image": ["ref", "path", "a", "b", "exact", "interactive"],
    "13_artifacts": ["ref", "files", "artifact_type", "folder", "interactive"],
}
HEADLESS_MAX_BYTES = 100_000  # a headless run's executed notebook (no widget state)


@pytest.fixture(autouse=True)
def _default_registry(registry: LocalRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_WIDGETS_REGISTRY", registry.host)
    monkeypatch.delenv("REGISTRY_WIDGETS_CA_BUNDLE", raising=False)


@pytest.fixture
def fresh_clients():
    """In-process tests of ``login`` configure shared clients: forget them afterwards."""
    clients.reset()
    yield
    clients.reset()


def execute(name: str, tmp_path: Path, **parameters: Any) -> tuple[nbformat.NotebookNode, dict]:
    """Run a notebook headless as ``python -m registry_widgets run`` does; return the executed
    notebook and the JSON its ``result`` cell printed."""
    out = run_notebook(name, parameters, output=tmp_path / f"{name}.ipynb")
    executed = nbformat.read(out, as_version=4)
    return executed, recorded(executed)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def recorded(executed: nbformat.NotebookNode) -> dict:
    cell = executed.cells[-1]
    assert "result" in cell.metadata.get("tags", []), "the last cell must be tagged result"
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    return json.loads(text)


def engine_answers() -> bool:
    """Whether a Docker engine answers here, asked with docker-py (what 00_setup reports)."""
    import docker
    import requests
    try:
        client = docker.from_env(timeout=10)
    except docker.errors.DockerException:
        return False
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, requests.exceptions.ConnectionError):
        return False
    finally:
        client.close()


def docker_login(registry: LocalRegistry) -> None:
    """Write what `docker login` writes into this test's DOCKER_CONFIG: ``auths[host].auth``,
    the base64 of ``user:password``."""
    auth = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    config = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    config.write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))


def runnable_image(registry: LocalRegistry, repository: str, tag: str) -> str:
    """Push a busybox image the engine can run; its digest."""
    return push_image(registry, repository, tag, layers=[busybox_layer()]).digest


# -- the notebooks themselves --------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_parameters_document_themselves(name: str) -> None:
    found = papermill.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))
    assert list(found) == PARAMETERS[name]
    for parameter in found.values():
        assert parameter["help"].strip(), f"{name}: {parameter['name']} has no help text"
        assert parameter["inferred_type_name"] != "None", parameter
    assert "password" not in found and "secret" not in found


def test_help_notebook_lists_the_parameters() -> None:
    papermill_cli = Path(sys.executable).with_name("papermill")
    out = subprocess.run([str(papermill_cli), "--help-notebook", str(NOTEBOOKS / "03_copy.ipynb")],
                         capture_output=True, text=True, check=True).stdout
    for line in ("source: str", "target: str", "platforms: Union[str, list] (default \"all\")",
                 "interactive: bool (default True)", "keeps the digest"):
        assert line in out


@pytest.mark.parametrize("name", NAMES)
def test_notebook_shape(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert "result" in notebook.cells[-1].metadata.get("tags", [])
    assert "nb.record(" in notebook.cells[-1].source
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    if name != "10_dashboard":  # served by Voila: the page is the dashboard, not a lesson
        assert "## Before you begin" in text and "## What next" in text
        assert "unauthorized: authentication required" in text and "docker login" in text
    assert tagged[0].cell_type == "code", f"{name}: the parameters cell must be a code cell"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not re.search(r"^\s*(try|except)\b", cell.source, re.MULTILINE), \
                f"{name}: headless runs must fail loudly, never catch and print"


# The verbs (public names, or notebook_support's) whose keywords a notebook's parameters are,
# and the parameters that belong to the notebook only. `interactive` is every notebook's.
VERBS = {
    "00_setup": (["nb.login"], {"require_engine"}),
    "01_pull": (["pull"], set()),
    "02_tag_and_push": (["tag"], set()),
    "03_copy": (["copy"], set()),
    "04_build": (["build", "run"], {"test_run", "push"}),
    "05_remove": (["remove"], set()),
    "06_namespaces_and_images": (["images", "namespaces"], {"new_namespace", "export_csv"}),
    "07_retention": (["retention"], set()),
    "08_sync": (["sync"], set()),
    "09_scan": (["scan"], {"json_output", "sarif_output", "sbom_output"}),
    "10_dashboard": (["Dashboard"], set()),
    "11_air_gap": (["copy"], {"archive", "feed"}),
    "12_inside_an_image": (["files", "read_file", "diff"], set()),
    "13_artifacts": (["push_artifact", "pull_artifact"], set()),
}


@pytest.mark.parametrize("name", NAMES)
def test_parameters_are_the_verbs_keywords(name: str) -> None:
    import inspect

    import registry_widgets

    verbs, own = VERBS[name]
    keywords: set[str] = set()
    for verb in verbs:
        function = getattr(nb, verb[3:]) if verb.startswith("nb.") \
            else getattr(registry_widgets, verb)
        keywords |= set(inspect.signature(function).parameters)
    parameters = set(papermill.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb")))
    assert parameters - own - {"interactive"} <= keywords, \
        f"{name}: parameters that are no keyword of {verbs}: " \
        f"{sorted(parameters - own - {'interactive'} - keywords)}"
    assert own <= parameters, f"{name}: VERBS names parameters it does not have"


# -- saved clean: the committed notebooks are the source -----------------------------------

CHECKED = "# NBVAL_CHECK_OUTPUT"  # such a cell keeps the output notebooks/conftest.py expects
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
# What a Python 3 kernel reports, in full (JupyterLab writes the kernel's into the notebook
# when it connects: anything less marks a notebook modified the moment it opens).
LANGUAGE_INFO = {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                 "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                 "pygments_lexer": "ipython3"}
# runner.METADATA_KEY: what a notebook that deletes declares (its targets, its dry-run flag).
NOTEBOOK_METADATA = {"kernelspec", "language_info", "registry_widgets"}
CELL_TAGS = {"parameters", "result"}
CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # nbformat 4.5's pattern
HOW_TO_CLEAN = ("edit it in JupyterLab, clear the outputs (keep those of the cells that start "
                f"with {CHECKED}), save (README, 'The guided notebooks')")


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_saved_clean(name: str) -> None:
    """The notebooks are edited directly: each must be saved the way JupyterLab saves a clean
    notebook, so a diff shows only what an author changed."""
    path = NOTEBOOKS / f"{name}.ipynb"
    text = path.read_text(encoding="utf-8")
    raw = json.loads(text)
    where = f"{name}: "
    assert (raw["nbformat"], raw["nbformat_minor"]) == (4, 5), where + "save it as nbformat 4.5"
    nbformat.validate(nbformat.from_dict(json.loads(text)))
    # As nbformat (and so JupyterLab) writes it: one-space indent, sorted keys, a final newline.
    assert text == nbformat.writes(nbformat.reads(text, as_version=4)) + "\n", \
        where + "not laid out as JupyterLab saves it; " + HOW_TO_CLEAN

    metadata = raw["metadata"]
    assert set(metadata) <= NOTEBOOK_METADATA, \
        where + f"notebook metadata {sorted(set(metadata) - NOTEBOOK_METADATA)} (widget state?); " \
        + HOW_TO_CLEAN
    assert metadata.get("kernelspec") == KERNELSPEC, where + "kernelspec"
    info = dict(metadata.get("language_info") or {})
    assert re.fullmatch(r"3\.\d+\.\d+", str(info.pop("version", ""))), where + "language_info"
    assert info == LANGUAGE_INFO, where + "language_info"

    ids = [cell.get("id") for cell in raw["cells"]]
    assert all(isinstance(i, str) and CELL_ID.match(i) for i in ids), where + f"cell ids {ids}"
    assert len(set(ids)) == len(ids), where + f"duplicate cell ids {ids}"
    for index, cell in enumerate(raw["cells"]):
        here = f"{name} cell {index} ({cell['id']}): "
        assert set(cell["metadata"]) <= {"tags"}, \
            here + f"metadata {sorted(cell['metadata'])}; only tags are kept"
        assert set(cell["metadata"].get("tags", [])) <= CELL_TAGS, here + "tags"
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if source.startswith(CHECKED):
            assert cell["outputs"], here + "a checked cell keeps the output it must print"
            assert all(o["output_type"] == "stream" and o["name"] == "stdout"
                       for o in cell["outputs"]), here + "a checked cell keeps printed text only"
        else:
            assert cell["outputs"] == [], here + "has outputs; " + HOW_TO_CLEAN
            assert cell["execution_count"] is None, here + "has an execution count; " \
                + HOW_TO_CLEAN


def test_notebooks_share_one_language_info() -> None:
    versions = {name: nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
                .metadata.language_info.version for name in NAMES}
    assert len(set(versions.values())) == 1, versions


# -- public names only ---------------------------------------------------------------------

SUPPORT = "notebook_support"  # the notebooks' own public support module


def private_imports(source: str) -> list[str]:
    """What a code cell imports from registry_widgets besides its public names
    (``registry_widgets.__all__``) and ``registry_widgets.notebook_support``."""
    import ast

    from IPython.core.inputtransformer2 import TransformerManager

    import registry_widgets

    public = set(registry_widgets.__all__) | {SUPPORT}
    tree = ast.parse(TransformerManager().transform_cell(source))  # magics become Python
    found: list[str] = []
    package_names: set[str] = set()  # names bound to the package itself
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "registry_widgets":
                    package_names.add(alias.asname or alias.name)
                elif alias.name.startswith("registry_widgets.") \
                        and alias.name != f"registry_widgets.{SUPPORT}":
                    found.append(f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "registry_widgets":
                found += [f"from registry_widgets import {alias.name}" for alias in node.names
                          if alias.name not in public]
            elif node.module.startswith("registry_widgets.") \
                    and node.module != f"registry_widgets.{SUPPORT}":
                found.append(f"from {node.module} import "
                             + ", ".join(alias.name for alias in node.names))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in package_names and node.attr not in public | {"__version__"}:
            found.append(f"{node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize("source, allowed", [
    ("from registry_widgets import copy, ImageTable\nfrom registry_widgets import notebook_support"
     " as nb", True),
    ("import registry_widgets as rw\nrw.copy(a, b)\nrw.notebook_support.show(r)", True),
    ("import registry_widgets.notebook_support as nb\n%time nb.show(r)\n!ls", True),
    ("from registry_widgets.notebook_support import show", True),
    ("from registry_widgets.widgets.tables import export_frame", False),
    ("import registry_widgets.operations.mirror.sync", False),
    ("from registry_widgets import widgets", False),
    ("from registry_widgets import *", False),
    ("import registry_widgets as rw\nrw.operations.core.policies.split_target(t)", False),
])
def test_the_import_check(source: str, allowed: bool) -> None:
    assert (private_imports(source) == []) is allowed


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_import_only_public_names(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    found = [f"cell {cell.id}: {what}" for cell in notebook.cells if cell.cell_type == "code"
             for what in private_imports(cell.source)]
    assert found == [], (f"{name} imports internal modules (use a public name, or add a "
                         f"helper to registry_widgets.notebook_support): {found}")


# -- 00 setup ------------------------------------------------------------------------------

def test_setup_reuses_docker_login(basic_registry: LocalRegistry, tmp_path: Path) -> None:
    docker_login(basic_registry)
    executed, record = execute("00_setup", tmp_path, registry=basic_registry.host,
                               ca_bundle=str(basic_registry.ca_file), interactive=False)
    login = record["login"]
    assert login["registry"] == basic_registry.host
    assert login["username"] == basic_registry.username
    assert login["auth"] == "basic" and login["url"].startswith("https://")
    assert "config.json" in login["credentials_from"]
    assert record["engine"]["available"] is engine_answers()
    assert basic_registry.password not in nbformat.writes(executed)


def test_setup_headless_without_login_fails_loudly(basic_registry: LocalRegistry,
                                                   tmp_path: Path) -> None:
    with pytest.raises(papermill.PapermillExecutionError) as failed:
        execute("00_setup", tmp_path, registry=basic_registry.host,
                ca_bundle=str(basic_registry.ca_file), interactive=False)
    assert failed.value.ename == "Unauthorized"
    assert "docker login" in failed.value.evalue


def test_login_asks_a_person_when_there_is_no_docker_login(basic_registry: LocalRegistry,
                                                          fresh_clients: None) -> None:
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return basic_registry.password

    login = nb.login(basic_registry.host, ca_bundle=str(basic_registry.ca_file),
                     username=basic_registry.username, interactive=True, ask_password=ask)
    assert len(asked) == 1 and basic_registry.password not in asked[0]
    assert login["username"] == basic_registry.username and login["auth"] == "basic"
    assert "typed in" in login["credentials_from"]
    assert basic_registry.password not in json.dumps(login)


def test_login_never_prompts_headless(basic_registry: LocalRegistry, fresh_clients: None) -> None:
    def refuse(prompt: str) -> str:
        raise AssertionError("a headless run must not prompt")

    with pytest.raises(Unauthorized, match="docker login"):
        nb.login(basic_registry.host, ca_bundle=str(basic_registry.ca_file), interactive=False,
                 ask_username=refuse, ask_password=refuse)


# -- 01 pull and 02 tag and push (engine) ----------------------------------------------------

def test_pull_puts_the_image_in_the_engine(registry: LocalRegistry, unique_repo: str,
                                           docker_client, tmp_path: Path) -> None:
    digest = runnable_image(registry, unique_repo, "1.0")
    ref = f"{registry.host}/{unique_repo}:1.0"
    try:
        executed, record = execute("01_pull", tmp_path, ref=ref, interactive=False)
        assert record["action"] == "pull" and record["digest"] == digest
        image = docker_client.images.get(ref)
        assert f"{registry.host}/{unique_repo}@{digest}" in image.attrs["RepoDigests"]
    finally:
        docker_client.images.remove(ref, force=True)


def test_tag_and_push_moves_an_image_between_registries(registry: LocalRegistry,
                                                        registry_b: LocalRegistry,
                                                        unique_repo: str, docker_client,
                                                        tmp_path: Path) -> None:
    runnable_image(registry_b, unique_repo, "1.0")
    source = f"{registry_b.host}/{unique_repo}:1.0"  # not local yet: the notebook pulls it
    target = f"{registry.host}/{unique_repo}-pushed:2.0"
    try:
        executed, record = execute("02_tag_and_push", tmp_path, source=source, target=target,
                                   interactive=False)
        pushed = record["push"]["digest"]
        assert record["tag"]["target"] == target
        assert list_tags(registry, f"{unique_repo}-pushed") == ["2.0"]
        assert get_manifest(registry, f"{unique_repo}-pushed", "2.0").digest == pushed
        assert len(nbformat.writes(executed)) < HEADLESS_MAX_BYTES
    finally:
        for ref in (source, target):
            docker_client.images.remove(ref, force=True)


# -- 03 copy -------------------------------------------------------------------------------

def _multiarch(registry: LocalRegistry, repository: str) -> str:
    amd64 = push_image(registry, repository, None, seed=f"{repository}-amd64")
    arm64 = push_image(registry, repository, None, seed=f"{repository}-arm64",
                       platform=("linux", "arm64", "v8"))
    return push_index(registry, repository, "1.0", [amd64, arm64])


def test_copy_keeps_the_digest(registry: LocalRegistry, registry_b: LocalRegistry,
                               unique_repo: str, tmp_path: Path) -> None:
    digest = _multiarch(registry, unique_repo)
    executed, record = execute("03_copy", tmp_path, source=f"{registry.host}/{unique_repo}:1.0",
                               target=f"{registry_b.host}/{unique_repo}:copied",
                               interactive=False)
    assert get_manifest(registry_b, unique_repo, "copied").digest == digest
    assert record["digest"] == digest and record["details"]["same_digest"] is True
    assert len(nbformat.writes(executed)) < HEADLESS_MAX_BYTES


def test_copy_of_one_platform_writes_a_smaller_index(registry: LocalRegistry,
                                                     registry_b: LocalRegistry, unique_repo: str,
                                                     tmp_path: Path) -> None:
    digest = _multiarch(registry, unique_repo)
    executed, record = execute("03_copy", tmp_path, source=f"{registry.host}/{unique_repo}:1.0",
                               target=f"{registry_b.host}/{unique_repo}:amd64",
                               platforms=["linux/amd64"], interactive=False)
    copied = get_manifest(registry_b, unique_repo, "amd64")
    assert copied.digest == record["digest"] != digest
    platforms = [m["platform"]["architecture"] for m in json.loads(copied.data)["manifests"]]
    assert platforms == ["amd64"]


def test_a_failed_run_exits_non_zero_with_the_error_on_top(registry: LocalRegistry,
                                                           registry_b: LocalRegistry,
                                                           unique_repo: str,
                                                           tmp_path: Path) -> None:
    output = tmp_path / "failed.ipynb"
    done = subprocess.run(
        [sys.executable, "-m", "registry_widgets", "run", "copy",
         "-p", "source", f"{registry.host}/{unique_repo}:missing",
         "-p", "target", f"{registry_b.host}/{unique_repo}:never",
         "-p", "interactive", "false", "--output", str(output)],
        capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode != 0
    assert "not found" in done.stderr
    executed = nbformat.read(output, as_version=4)
    top = executed.cells[0]
    assert "papermill-error-cell-tag" in top.metadata.get("tags", [])
    assert "An Exception was encountered" in top.source
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert [e.ename for e in errors] == ["NotFound"]
    assert list_tags_or_none(registry_b, unique_repo) is None


def list_tags_or_none(registry: LocalRegistry, repository: str) -> list[str] | None:
    """The repository's tags, or None when the registry answers 404 NAME_UNKNOWN (never
    created); any other answer is a failure, not a None."""
    r = RawClient(registry).request("GET", f"/v2/{repository}/tags/list")
    if r.status_code == 404:
        assert [e["code"] for e in r.json()["errors"]] == ["NAME_UNKNOWN"], r.text
        return None
    return list_tags(registry, repository)


# -- 04 build (engine) -----------------------------------------------------------------------

def _context(tmp_path: Path, base_image: str) -> Path:
    context = tmp_path / "app"
    context.mkdir()
    (context / "app.Dockerfile").write_text(
        f"FROM {base_image}\nARG MESSAGE\nRUN echo \"$MESSAGE\" > /msg.txt\n")
    return context


def test_build_tests_and_pushes(registry: LocalRegistry, unique_repo: str, docker_client,
                                base_image: str, tmp_path: Path) -> None:
    ref = f"{registry.host}/{unique_repo}:1.0"
    try:
        executed, record = execute(
            "04_build", tmp_path, context_dir=str(_context(tmp_path, base_image)), ref=ref,
            dockerfile="app.Dockerfile", build_args={"MESSAGE": "built by papermill"},
            labels={"org.example.notebook": "04_build"}, command="cat /msg.txt",
            interactive=False)
        assert record["run"]["details"] == {"command": "cat /msg.txt", "exit_code": 0,
                                            "logs": "built by papermill\n"}
        manifest = get_manifest(registry, unique_repo, "1.0")
        assert manifest.digest == record["push"]["digest"]
        config = json.loads(get_blob(registry, unique_repo,
                                     json.loads(manifest.data)["config"]["digest"]))
        assert config["config"]["Labels"]["org.example.notebook"] == "04_build"
    finally:
        docker_client.images.remove(ref, force=True)


def test_build_whose_test_run_fails_is_not_pushed(registry: LocalRegistry, unique_repo: str,
                                                  docker_client, base_image: str,
                                                  tmp_path: Path) -> None:
    ref = f"{registry.host}/{unique_repo}:broken"
    try:
        with pytest.raises(papermill.PapermillExecutionError, match="exited with 3"):
            execute("04_build", tmp_path, context_dir=str(_context(tmp_path, base_image)),
                    ref=ref, dockerfile="app.Dockerfile", build_args={"MESSAGE": "x"},
                    labels={}, command="sh -c 'exit 3'", interactive=False)
        assert list_tags_or_none(registry, unique_repo) is None
    finally:
        docker_client.images.remove(ref, force=True)


# -- 05 remove -----------------------------------------------------------------------------

def _co_tagged(registry: LocalRegistry, repository: str) -> str:
    first = push_image(registry, repository, "1.0", seed=repository, created="2024-01-01T00:00:00Z")
    again = push_image(registry, repository, "latest", seed=repository,
                       created="2024-01-01T00:00:00Z")
    assert first.digest == again.digest  # co-tags: two names, one image
    return first.digest


def test_remove_dry_run_changes_nothing(registry: LocalRegistry, unique_repo: str,
                                        tmp_path: Path) -> None:
    digest = _co_tagged(registry, unique_repo)
    executed, record = execute("05_remove", tmp_path, ref=f"{registry.host}/{unique_repo}:latest",
                               dry_run=True, interactive=False)
    assert record["dry_run"] is True and record["changed"] is False
    assert record["details"]["co_tags_kept"] == ["1.0"]
    assert sorted(list_tags(registry, unique_repo)) == ["1.0", "latest"]
    assert get_manifest(registry, unique_repo, "latest").digest == digest


def test_remove_takes_exactly_that_tag(registry: LocalRegistry, unique_repo: str,
                                       tmp_path: Path) -> None:
    digest = _co_tagged(registry, unique_repo)
    executed, record = execute("05_remove", tmp_path, ref=f"{registry.host}/{unique_repo}:latest",
                               dry_run=False, interactive=False)
    assert record["changed"] is True and record["details"]["tags_removed"] == ["latest"]
    assert list_tags(registry, unique_repo) == ["1.0"]
    assert get_manifest(registry, unique_repo, "1.0").digest == digest


# -- 07 retention ---------------------------------------------------------------------------

def _dated(registry: LocalRegistry, repository: str) -> dict[str, str]:
    return {tag: push_image(registry, repository, tag, seed=f"{repository}-{tag}",
                            created=f"2024-0{i + 1}-01T00:00:00Z").digest
            for i, tag in enumerate(("1.0", "1.1", "2.0"))}


def test_retention_dry_run_by_default_changes_nothing(registry: LocalRegistry, unique_repo: str,
                                                      tmp_path: Path) -> None:
    _dated(registry, unique_repo)
    executed, record = execute("07_retention", tmp_path, target=f"{registry.host}/{unique_repo}",
                               keep=1, interactive=False)
    run = record["runs"][f"{registry.host}/{unique_repo}"]
    assert record["dry_run"] is True and run["changed"] is False
    assert sorted(run["details"]["tags_removed"]) == [f"{unique_repo}:1.0", f"{unique_repo}:1.1"]
    assert sorted(list_tags(registry, unique_repo)) == ["1.0", "1.1", "2.0"]


def test_retention_headless_removes_only_with_a_named_target(registry: LocalRegistry,
                                                             unique_repo: str,
                                                             tmp_path: Path) -> None:
    digests = _dated(registry, unique_repo)
    # The runner refuses before a kernel starts; plain papermill meets the notebook's guard.
    with pytest.raises(ParameterError, match="pass target explicitly"):
        execute("07_retention", tmp_path, keep=1, dry_run=False, interactive=False)
    with pytest.raises(papermill.PapermillExecutionError, match="needs an explicit target"):
        papermill.execute_notebook(str(NOTEBOOKS / "07_retention.ipynb"),
                                   str(tmp_path / "plain.ipynb"),
                                   parameters={"keep": 1, "dry_run": False, "interactive": False})
    assert sorted(list_tags(registry, unique_repo)) == ["1.0", "1.1", "2.0"]
    executed, record = execute("07_retention", tmp_path, target=f"{registry.host}/{unique_repo}",
                               keep=1, dry_run=False, interactive=False)
    assert record["runs"][f"{registry.host}/{unique_repo}"]["changed"] is True
    assert list_tags(registry, unique_repo) == ["2.0"]
    assert get_manifest(registry, unique_repo, "2.0").digest == digests["2.0"]
    assert len(nbformat.writes(executed)) < HEADLESS_MAX_BYTES


# -- 06 namespaces and images, 10 dashboard ----------------------------------------------------

def test_namespaces_and_images_lists_and_exports(registry_factory, tmp_path: Path) -> None:
    seeded = registry_factory()
    seed_sample(seeded)
    csv = tmp_path / "tutorial.csv"
    executed, record = execute("06_namespaces_and_images", tmp_path, registry=seeded.host,
                               namespace="tutorial", new_namespace="planned",
                               export_csv=str(csv), interactive=False)
    assert record["namespaces"] == ["demo", "planned", "tutorial"]
    assert record["repositories"] == ["tutorial/busybox", "tutorial/hello", "tutorial/multiarch"]
    assert record["added"]["changed"] is True and record["tags"] == 4
    import pandas as pd

    exported = pd.read_csv(csv)
    assert sorted(exported["reference"]) == sorted(
        f"{seeded.host}/tutorial/{name}" for name in
        ("busybox:1.0", "busybox:latest", "hello:1.0", "multiarch:1.0"))
    assert exported["digest"].str.startswith("sha256:").all()
    assert len(nbformat.writes(executed)) < HEADLESS_MAX_BYTES


@pytest.mark.parametrize("interactive", [False, True])
def test_dashboard_runs(registry_factory, tmp_path: Path, interactive: bool) -> None:
    seeded = registry_factory()
    seed_sample(seeded)
    executed, record = execute("10_dashboard", tmp_path, registries=[seeded.host],
                               interactive=interactive)
    assert record == {"registries": [seeded.host], "interactive": interactive}
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    if interactive:
        # The widget that was displayed is in the saved widget state, and that state shows
        # the seeded registry's namespaces (listed by the dashboard, not typed by the notebook).
        views = [o["data"][WIDGET_VIEW]["model_id"] for o in outputs
                 if WIDGET_VIEW in o.get("data", {})]
        state = executed.metadata["widgets"][WIDGET_STATE]["state"]
        assert len(views) == 1 and state[views[0]]["model_name"] == "VBoxModel"
        tables = [json.loads(model["state"]["_dt_args"]["data_json"]) for model in state.values()
                  if "data_json" in model["state"].get("_dt_args", {})]
        first_columns = [[row[0] for row in rows] for rows in tables]
        assert ["demo", "tutorial"] in first_columns  # the namespace table
        # the image table: every seeded tag (the Local images table beside it lists whatever
        # the engine holds, so the image table is found by what it shows, not by its place)
        assert ["demo/alpine-app"] + ["demo/app"] * 3 + ["demo/debian-app"] + [
            "tutorial/busybox"] * 2 + ["tutorial/hello", "tutorial/multiarch"] in first_columns
    else:
        assert any("tutorial" in o.get("data", {}).get("text/plain", "") for o in outputs)
        assert len(nbformat.writes(executed)) < HEADLESS_MAX_BYTES


# -- secrets -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def secret_registry(tmp_path_factory: pytest.TempPathFactory):
    """A seeded HTTPS + htpasswd registry whose password is easy to search for."""
    from tests.support import start_registry

    password = f"Nb-Secret-{secrets.token_hex(8)}"
    reg = start_registry("basic", state_dir=tmp_path_factory.mktemp("secret-registry"),
                         users={"notebook-user": password}, name="secret")
    seed_sample(reg)
    yield reg
    reg.close()


# The writing notebooks' example targets, named as a headless run must name them; sync for
# real, so that its copy's requests carry the credentials too.
NAMED_TARGETS = {
    "02_tag_and_push": {"target": "{host}/my_namespace/busybox:1.0"},
    "03_copy": {"target": "{host}/my_namespace/multiarch:1.0"},
    "04_build": {"ref": "{host}/my_namespace/hello:1.0"},
    "08_sync": {"target": "{host}/mirror", "dry_run": False},
    "11_air_gap": {"target": "{host}/airgap/multiarch:1.0"},
    "13_artifacts": {"ref": "{host}/my_namespace/model:v1"},
}


@pytest.mark.parametrize("name", NAMES)
def test_no_secret_in_any_executed_notebook(name: str, secret_registry: LocalRegistry,
                                            tmp_path: Path, request,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    if name in ENGINE_NOTEBOOKS:
        engine = request.getfixturevalue("docker_client")  # skips when no engine can run
        request.addfinalizer(lambda: _forget_local_images(engine, secret_registry.host))
    docker_login(secret_registry)
    monkeypatch.setenv("REGISTRY_WIDGETS_REGISTRY", secret_registry.host)
    monkeypatch.setenv("REGISTRY_WIDGETS_CA_BUNDLE", str(secret_registry.ca_file))
    # Defaults (they point at the secret registry now), with widgets: their state is saved.
    # A headless write names its target (the runner refuses it otherwise): the example's.
    named = {key: value.format(host=secret_registry.host) if isinstance(value, str) else value
             for key, value in NAMED_TARGETS.get(name, {}).items()}
    executed, record = execute(name, tmp_path, interactive=True, **named)
    password, user = secret_registry.password, secret_registry.username
    text = (tmp_path / f"{name}.ipynb").read_text()
    journal = Path(os.environ["REGISTRY_WIDGETS_STATE"]) / "journal.jsonl"
    journal_text = journal.read_text() if journal.exists() else ""
    for secret in (password, base64.b64encode(f"{user}:{password}".encode()).decode(),
                   base64.b64encode(password.encode()).decode()):
        assert secret not in text, f"{name}: the executed notebook holds a secret"
        assert secret not in journal_text, f"{name}: the journal of its run holds a secret"
    if name == "00_setup":
        assert record["login"]["username"] == user and record["login"]["auth"] == "basic"


def _forget_local_images(engine, host: str) -> None:
    for image in engine.images.list():
        for name in image.tags:
            if name.startswith(f"{host}/"):
                engine.images.remove(name, force=True)


# -- 11 air gap ----------------------------------------------------------------------------

def test_air_gap_carries_an_index_through_an_archive_with_its_digest(
        registry: LocalRegistry, registry_b: LocalRegistry, unique_repo: str,
        tmp_path: Path) -> None:
    digest = _multiarch(registry, unique_repo)
    archive = tmp_path / "carried" / "multi.tar"
    executed, record = execute("11_air_gap", tmp_path,
                               source=f"{registry.host}/{unique_repo}:1.0",
                               target=f"{registry_b.host}/{unique_repo}:carried",
                               archive=str(archive), feed=str(NOTEBOOKS / "osv-demo"),
                               interactive=False)
    assert get_manifest(registry_b, unique_repo, "carried").digest == digest
    assert record["export"]["digest"] == record["load"]["digest"] == digest
    assert archive.is_file() and sorted(p.name for p in (archive.parent / "feed").iterdir()) \
        == sorted(p.name for p in (NOTEBOOKS / "osv-demo").iterdir())
    assert len(nbformat.writes(executed)) < HEADLESS_MAX_BYTES
# -- 12 and 13: what is inside an image; artifacts -----------------------------------------

def test_inside_an_image_lists_reads_and_diffs(registry: LocalRegistry, unique_repo: str,
                                               tmp_path: Path) -> None:
    from tests.test_contents import layer

    base = layer(("f", "etc/os-release", b"ID=demo\n"), ("f", "app/run.sh", b"echo 1\n"))
    one = push_image(registry, unique_repo, "1.0", layers=[base])
    two = push_image(registry, unique_repo, "1.1", layers=[base, layer(
        ("f", "app/run.sh", b"echo 2\n"), ("f", "app/new.txt", b"new"))],
        labels={"org.opencontainers.image.version": "1.1"})
    _, record = execute("12_inside_an_image", tmp_path, ref=two.reference, path="/app/run.sh",
                        a=one.reference, b=two.reference, exact=True)
    assert record["paths"] == 5 and record["bytes"] == len(b"echo 2\n")
    assert record["diff"]["files"] == {"added": 1, "changed": 1}
    assert record["diff"]["shared_layers"] == 1 and record["diff"]["config"] == 1


def test_artifacts_notebook_pushes_lists_and_pulls(registry: LocalRegistry, unique_repo: str,
                                                   tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(3000))
    ref = f"{registry.host}/{unique_repo}:v2"
    _, record = execute("13_artifacts", tmp_path, ref=ref, files=[str(weights)],
                        folder=str(tmp_path / "back"))
    assert record["push"]["digest"] == get_manifest(registry, unique_repo, "v2").digest
    assert (tmp_path / "back" / "weights.bin").read_bytes() == weights.read_bytes()
    assert record["files"] == ["weights.bin"]
