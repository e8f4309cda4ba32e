"""The package imports only downward, layer by layer (like go-containerregistry's depcheck).

Every module under registry_widgets/ is parsed (never imported), and each import of
registry_widgets.* it makes, absolute or relative, anywhere in the file, must go to a lower
layer, or to the same layer when SAME_LAYER_ALLOWED says so. To add a module, give it a
layer in LAYERS (or a pattern in LAYER_PATTERNS).
"""

from __future__ import annotations

import ast
import re
from fnmatch import fnmatch
from pathlib import Path

import pytest

PACKAGE = "registry_widgets"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE

# A unit is a top-level module (errors.py -> "errors"), a subpackage with everything in it
# (widgets/table.py -> "widgets"), or, inside operations/, one of its subpackages
# (operations/images/copy.py -> "operations.images"). README's "How it is built" table shows
# the same list.
LAYERS = {
    "errors": 0,
    "progress": 0,
    "paths": 0,
    "reference": 1,
    "manifest": 1,
    "credentials": 2,
    "transport": 2,  # a package: session, auth, pool, tls, cancel, errors, ...
    "registry": 2,
    "engine": 2,
    "vendors": 2,  # Harbor, Docker Hub and IBM Cloud listing APIs, beside the OCI client
    "operations": 3,  # operations/__init__.py: a docstring only
    "operations.core": 3,
    "operations.images": 4,
    "operations.security": 4,
    "operations.cleanup": 5,
    "operations.mirror": 5,
    "operations.contents": 5,
    "widgets": 6,
    "__main__": 6,
    "runner": 6,
    "notebook_support": 6,
}
# Subpackages whose files form units of their own (see unit_of_file).
SPLIT = {"operations"}
LAYER_PATTERNS = {  # for units not named in LAYERS
    "registry_*": 2,
}
# The package's __init__ re-exports the public API: it may import any library unit.
TOP = "__init__"
# (importer, imported) pairs allowed within one layer; a unit may always import itself.
# Siblings not named here (images and security; cleanup and mirror) may not import each other.
SAME_LAYER_ALLOWED = {
    # layer 2 is a small stack of its own: credentials <- transport (all of HTTP, auth
    # included) <- registry
    ("transport", "credentials"),
    ("registry", "transport"),
    ("registry", "credentials"),
    ("engine", "credentials"),
    ("vendors", "transport"),
    ("vendors", "credentials"),
    ("vendors", "registry"),
    ("__main__", "runner"),
    ("notebook_support", "widgets"),
}
# Lower units that a unit may not import although the layers would allow it: the verbs reach
# the network only through ``registry`` (HTTP lives below it, in one place).
FORBIDDEN = {
    (verbs, http)
    for verbs in ("operations.core", "operations.images", "operations.security",
                  "operations.cleanup", "operations.mirror", "widgets", "runner",
                  "notebook_support", "__main__")
    for http in ("transport",)
}


def layer_of(unit: str) -> int | None:
    if unit in LAYERS:
        return LAYERS[unit]
    for pattern, layer in LAYER_PATTERNS.items():
        if fnmatch(unit, pattern):
            return layer
    return None


def is_unit(name: str) -> bool:
    """Is registry_widgets.<name> a module or subpackage (rather than a name in __init__)?"""
    path = PACKAGE_DIR / name
    return (
        layer_of(name) is not None
        or path.with_suffix(".py").is_file()
        or (path / "__init__.py").is_file()
    )


def unit_of_file(relpath: Path) -> str:
    """errors.py -> errors; widgets/table.py -> widgets; operations/images/copy.py ->
    operations.images; operations/__init__.py -> operations; __init__.py -> __init__."""
    if len(relpath.parts) > 2 and relpath.parts[0] in SPLIT:
        return ".".join(relpath.parts[:2])
    return relpath.parts[0] if len(relpath.parts) > 1 else relpath.stem


def unit_of_module(dotted: list[str]) -> str:
    """[registry_widgets, operations, images, copy] -> operations.images (as unit_of_file)."""
    if len(dotted) > 2 and dotted[1] in SPLIT and (PACKAGE_DIR / dotted[1] / dotted[2]).is_dir():
        return ".".join(dotted[1:3])
    return dotted[1] if len(dotted) > 1 else TOP


def imported_units(relpath: Path, source: str) -> list[tuple[int, str, str]]:
    """(line, import as written, unit) for each registry_widgets import in the source."""
    # The package a relative import starts from: for pkg/__init__.py it is pkg itself.
    module_parts = [PACKAGE, *relpath.with_suffix("").parts]
    package = module_parts[:-1]
    found = []

    def add(node: ast.AST, written: str, dotted: list[str]) -> None:
        if dotted[:1] != [PACKAGE]:
            return
        found.append((node.lineno, written, unit_of_module(dotted)))

    for node in ast.walk(ast.parse(source, filename=str(relpath))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node, f"import {alias.name}", alias.name.split("."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
            else:
                base = []
            dotted = base + (node.module.split(".") if node.module else [])
            names = ", ".join(a.name for a in node.names)
            written = f"from {'.' * node.level}{node.module or ''} import {names}"
            if dotted == [PACKAGE]:
                # `from registry_widgets import errors` imports the errors module;
                # `from registry_widgets import Reference` goes through __init__.
                for alias in node.names:
                    add(node, written, dotted + ([alias.name] if is_unit(alias.name) else []))
            else:
                add(node, written, dotted)
    return found


def violations(relpath: Path, source: str) -> list[str]:
    """Why each of this file's registry_widgets imports breaks the layering, if it does."""
    unit = unit_of_file(relpath)
    where = f"{PACKAGE}/{relpath.as_posix()}"
    problems = []
    for line, written, target in imported_units(relpath, source):
        here = f"{where}:{line}: `{written}`"
        if unit == TOP or target == unit:
            continue
        if unit == "operations" and target.startswith("operations."):
            continue  # operations/__init__ registers what every verb needs (the guards)
        if target == TOP:
            problems.append(
                f"{here} imports the package root; import from the module that defines the name"
            )
            continue
        mine, theirs = layer_of(unit), layer_of(target)
        if theirs is None:
            problems.append(f"{here}: {target!r} has no layer; add it to LAYERS in {__name__}")
        elif (unit, target) in FORBIDDEN:
            problems.append(
                f"{here}: {unit} may not import {target}: verbs, widgets and runners reach the "
                "network through registry (HTTP lives below it, in one place)"
            )
        elif mine is not None and (
            theirs > mine or (theirs == mine and (unit, target) not in SAME_LAYER_ALLOWED)
        ):
            problems.append(
                f"{here}: {unit} (layer {mine}) may not import {target} (layer {theirs}); "
                "imports go only downward (same layer: see SAME_LAYER_ALLOWED)"
            )
    return problems


MODULE_FILES = sorted(
    p.relative_to(PACKAGE_DIR) for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts
)


def test_every_layered_unit_exists():
    # A renamed or deleted module leaves a stale row that would classify nothing.
    def exists(unit: str) -> bool:
        path = PACKAGE_DIR.joinpath(*unit.split("."))
        return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()

    stale = [unit for unit in LAYERS if not exists(unit)]
    assert stale == [], f"LAYERS names units that do not exist: {stale}"


def absolute_imports(source: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every absolute import in the source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_shipped_package_never_imports_the_tests():
    # Test tooling lives in tests/support and the services it starts in devstack/, both outside
    # the package: an installed package has neither to import.
    bad = [f"{PACKAGE}/{relpath}:{line}: {name}" for relpath in MODULE_FILES
           for line, name in absolute_imports((PACKAGE_DIR / relpath).read_text())
           if name.split(".")[0] in ("tests", "benchmarks", "conftest", "devstack")]
    assert bad == [], f"the package imports test tooling: {bad}"


DEVSTACK_DIR = PACKAGE_DIR.parent / "devstack"


def test_devstack_imports_nothing_of_the_package():
    # What starts the tests' services must not lean on the package it tests, or a bug there
    # could hide itself (cf. go-containerregistry's internal/depcheck).
    files = sorted(DEVSTACK_DIR.glob("*.py"))
    assert {"registry.py", "engine.py", "services.py"} <= {f.name for f in files}
    bad = [f"devstack/{path.name}:{line}: {name}" for path in files
           for line, name in absolute_imports(path.read_text())
           if name.split(".")[0] == PACKAGE]
    assert bad == [], f"devstack imports the library under test: {bad}"


SUPPORT_DIR = PACKAGE_DIR.parent / "tests" / "support"


def test_test_support_uses_the_stack_not_the_package():
    # The oracle, fault proxy and token server must not lean on the library they judge; they
    # may use devstack, which starts the services and imports nothing of the library either.
    files = sorted(SUPPORT_DIR.glob("*.py"))
    assert {"oracle.py", "faultproxy.py", "token_server.py"} <= {f.name for f in files}
    bad = [f"tests/support/{path.name}:{line}: {name}" for path in files
           for line, name in absolute_imports(path.read_text())
           if name.split(".")[0] == PACKAGE]
    assert bad == [], f"tests/support imports the library under test: {bad}"


@pytest.mark.parametrize("relpath", MODULE_FILES, ids=str)
def test_module_is_classified(relpath):
    unit = unit_of_file(relpath)
    assert unit == TOP or layer_of(unit) is not None, (
        f"{PACKAGE}/{relpath} ({unit!r}) has no layer: classify it in LAYERS or LAYER_PATTERNS "
        f"at the top of tests/test_layers.py"
    )


@pytest.mark.parametrize("relpath", MODULE_FILES, ids=str)
def test_imports_go_only_downward(relpath):
    problems = violations(relpath, (PACKAGE_DIR / relpath).read_text())
    assert not problems, "\n".join(problems)


# The checker itself, on made-up files: each row is (file, source, allowed?).
CASES = [
    ("reference.py", "from .errors import InvalidReference", True),
    ("reference.py", "from registry_widgets.progress import Event", True),
    ("registry.py", "from . import reference, transport", True),
    ("registry.py", "from .engine import Engine", False),
    ("engine.py", "from .credentials import load", True),
    ("transport/auth.py", "from ..registry import Client", False),
    ("reference.py", "import registry_widgets.registry", False),
    ("operations/images/pull.py", "from ...registry import Client\nfrom ..core.result import R",
     True),
    ("operations/images/pull.py", "from ...widgets.table import images", False),
    ("operations/images/pull.py", "def f():\n    from registry_widgets import widgets", False),
    ("operations/images/pull.py", "from .copy import copy", True),
    ("operations/images/pull.py", "from ...transport import Transport", False),
    ("operations/images/pull.py", "from ..security.scan import scan", False),
    ("operations/security/scan.py", "from ..images.copy import copy", False),
    ("operations/core/result.py", "from ..images.copy import copy", False),
    ("operations/cleanup/gc.py", "from ..images.remove import remove\nfrom ..core import journal",
     True),
    ("operations/cleanup/gc.py", "from ..mirror.sync import sync", False),
    ("operations/mirror/sync.py", "from registry_widgets.operations.images.copy import copy", True),
    ("operations/mirror/sync.py", "from ..cleanup.retention import retention", False),
    ("operations/images/copy.py", "from ..mirror import sync", False),
    ("widgets/table.py", "from ..operations.images import copy\nfrom . import common", True),
    ("widgets/table.py", "from ..transport import Transport", False),
    ("widgets/table.py", "from .. import Reference", False),
    ("registry_http.py", "from .transport.auth import Token", False),
    ("registry_http.py", "from .reference import Reference", True),
    ("__init__.py", "from .widgets import ImageTable\nfrom .operations import pull", True),
    ("engine.py", "from registry_widgets.stack import dockerd", False),  # gone: no layer
    ("engine.py", "import docker\nfrom registry_widgetsx import y", True),
]


@pytest.mark.parametrize("relpath, source, allowed", CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_checker(relpath, source, allowed):
    assert (violations(Path(relpath), source) == []) == allowed


# -- writes to a registry go through the change engine ------------------------------------------

ENGINE = "operations/core/changes.py"
# untag.py (a tag removal: tag DELETE or the 2.x placeholder method) decides how a tag comes
# off and sends through the writes ENGINE hands it; only ENGINE calls its untag() (below).
# The registry client defines the calls; it is the layer below the engine, not a writer.
WRITE_CALLS = {"put_manifest", "delete_manifest"}


def manifest_writers() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for relpath in MODULE_FILES:
        if relpath.parts[0] in ("registry.py", "transport") or relpath.name == "registry.py":
            continue
        tree = ast.parse((PACKAGE_DIR / relpath).read_text())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in WRITE_CALLS):
                found.setdefault(relpath.as_posix(), []).append(node.lineno)
    return found


def test_only_the_engine_writes_manifests():
    writers = manifest_writers()
    assert set(writers) == {ENGINE}, (
        f"manifest PUT or DELETE sent from {sorted(set(writers) - {ENGINE})}: plan the change "
        f"and apply it with {ENGINE} (plan, re-check, back up, apply, verify, journal)")
    callers = {relpath.as_posix() for relpath in MODULE_FILES
               for node in ast.walk(ast.parse((PACKAGE_DIR / relpath).read_text()))
               if isinstance(node, ast.Attribute) and node.attr == "untag"
               and isinstance(node.value, ast.Name) and node.value.id == "untag"}
    assert callers <= {ENGINE}, f"only {ENGINE} may call untag.untag(), not {callers - {ENGINE}}"


# -- README's "How it is built" table tells the same story -------------------------------------

README = PACKAGE_DIR.parent / "README.md"


def readme_layers() -> dict[str, int]:
    text = README.read_text()
    section = text[text.index("## How it is built"):]
    section = section[:section.index("\n## ", 1)]
    found: dict[str, int] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].isdigit():
            for unit in re.findall(r"`([^`]+)`", cells[1]):
                found[unit] = int(cells[0])
    return found


def test_readme_table_matches_the_layers():
    # operations/__init__.py is a docstring only: the table shows its subpackages instead.
    expected = {unit: layer for unit, layer in LAYERS.items() if unit != "operations"}
    assert readme_layers() == expected, (
        "README's 'How it is built' table and LAYERS disagree; change both together")
