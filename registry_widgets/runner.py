"""Run the tour's notebooks headless with papermill, keeping each executed notebook as
the record of what happened (``runs/<UTC time>-<notebook>.ipynb``).

Everything a run was told is checked before a kernel starts, because papermill itself
only warns about a name the notebook does not have and pastes names into the notebook as
code: the names must be parameters of the notebook's ``parameters`` cell (papermill's own
inspection), each value is converted to the type declared there (``name: type = value``)
or refused, a notebook that writes to a registry or deletes needs its target named
explicitly unless it is a dry run, and the output path must be writable and must not be the
notebook itself. A refusal is one :class:`ParameterError` and nothing runs.

Layer 4 beside the widgets: it only drives notebooks, which call the verbs; it imports
``errors`` and ``paths`` (where the notebooks and runs are) and nothing else of the package.
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import json
import keyword
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import paths
from .errors import ParameterError  # noqa: F401  (raised here; part of the runner's API)

# Notebook metadata a notebook that deletes or writes carries (in the .ipynb; JupyterLab edits
# it in the property inspector, Notebook metadata). Each target parameter maps to the form the
# refusal suggests; "dry_run" names the bool parameter that, True, makes the run write nothing:
# {"registry_widgets": {"destructive": {"targets": {"ref": "REGISTRY/NAMESPACE/REPO:TAG"},
#                                       "dry_run": "dry_run"}}}
# {"registry_widgets": {"writes": {"targets": {"target": "REGISTRY/NAMESPACE/REPO:TAG"}}}}
# The runner only runs headless (papermill), so these apply to every run it makes, whatever
# the notebook's `interactive` says; in JupyterLab a person runs the example with its defaults.
METADATA_KEY = "registry_widgets"
KINDS = {"destructive": "deletes", "writes": "writes to a registry"}
TARGET_FORM = "REGISTRY/NAMESPACE/REPOSITORY:TAG"  # for metadata that lists bare names

TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")
NONE_WORDS = ("none", "null")
_INT = re.compile(r"[+-]?\d+")


def notebook_path(name: str) -> Path:
    """``copy``, ``03_copy`` or ``03_copy.ipynb`` (or a path) -> the notebook file."""
    candidate = Path(name)
    if candidate.suffix == ".ipynb" and candidate.exists():
        return candidate
    stem = candidate.stem if candidate.suffix == ".ipynb" else name
    folder = paths.notebooks_dir()
    for path in sorted(folder.glob("*.ipynb")):
        if path.stem == stem or path.stem.split("_", 1)[-1] == stem:
            return path
    known = ", ".join(p.stem.split("_", 1)[-1] for p in sorted(folder.glob("*.ipynb")))
    raise FileNotFoundError(f"no notebook named {name!r} in {folder}; known: {known}")


# -- declared types ------------------------------------------------------------------------

@dataclass(frozen=True)
class Declared:
    """A parameter's declared type as a union of simple kinds: ``str``, ``int``, ``float``,
    ``bool``, ``list``, ``dict``, ``none``, or ``any`` (no annotation, or one we do not know).
    ``items`` is the element type of a subscripted list (``list[str]``), else None."""

    kinds: tuple[str, ...]
    items: "Declared | None" = None
    text: str = ""

    def allows(self, kind: str) -> bool:
        return kind in self.kinds or "any" in self.kinds


_NAMES = {"str": "str", "int": "int", "float": "float", "bool": "bool", "list": "list",
          "List": "list", "tuple": "list", "Tuple": "list", "Sequence": "list", "dict": "dict",
          "Dict": "dict", "Mapping": "dict", "None": "none", "NoneType": "none"}


def declared_type(text: str | None) -> Declared:
    """``"Optional[str]"``, ``"Union[str, list]"``, ``"list[str]"``, ``"bool"``... as
    papermill's inspection reports them (``"None"`` when the cell has no annotation)."""
    if not text or text == "None":  # papermill: "None" means no annotation
        return Declared(("any",), text=text or "")
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError:
        return Declared(("any",), text=text)
    kinds, items = _kinds(tree)
    return Declared(tuple(dict.fromkeys(kinds)), items, text)


def _kinds(node: ast.AST) -> tuple[list[str], Declared | None]:
    if isinstance(node, ast.Constant) and node.value is None:
        return ["none"], None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # str | None
        left, left_items = _kinds(node.left)
        right, right_items = _kinds(node.right)
        return left + right, left_items or right_items
    name = node.value if isinstance(node, ast.Subscript) else node
    name = name.attr if isinstance(name, ast.Attribute) else getattr(name, "id", None)
    if isinstance(node, ast.Subscript):
        args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if name in ("Optional", "Union"):
            kinds: list[str] = ["none"] if name == "Optional" else []
            items = None
            for arg in args:
                more, more_items = _kinds(arg)
                kinds, items = kinds + more, items or more_items
            return kinds, items
        kind = _NAMES.get(name or "", "any")
        if kind == "list" and len(args) == 1:
            element, element_items = _kinds(args[0])
            return ["list"], Declared(tuple(element), element_items, ast.unparse(args[0]))
        return [kind], None
    return [_NAMES.get(name or "", "any")], None


# -- values --------------------------------------------------------------------------------

def papermill_value(text: str) -> Any:
    """What papermill's own CLI makes of ``-p NAME TEXT`` (``papermill.cli._resolve_type``):
    used for parameters the notebook declares no type for."""
    from papermill.cli import _resolve_type

    return _resolve_type(text)


def _from_text(text: str, declared: Declared) -> Any:
    """Text (``-p`` on the command line) -> a value of the declared type, or ValueError."""
    lowered = text.strip().lower()
    if declared.allows("none") and "any" not in declared.kinds and lowered in NONE_WORDS:
        return None
    if "bool" in declared.kinds:
        if lowered in TRUE_WORDS:
            return True
        if lowered in FALSE_WORDS:
            return False
    if "int" in declared.kinds and _INT.fullmatch(text.strip()):
        return int(text)
    if "float" in declared.kinds:
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
    for kind, opener, kind_type in (("list", "[", list), ("dict", "{", dict)):
        if kind in declared.kinds and text.lstrip()[:1] == opener:
            try:
                value = json.loads(text)
            except ValueError as e:
                raise ValueError(f"it is not valid JSON ({e})") from None
            if isinstance(value, kind_type):
                return _from_python(value, declared)
    if "str" in declared.kinds:
        return text
    if "any" in declared.kinds:
        return papermill_value(text)
    raise ValueError(_expected(declared))


def _expected(declared: Declared) -> str:
    words = {"bool": "true/false/yes/no/1/0 (any case)", "int": "a whole number",
             "float": "a number", "list": "a JSON list such as [\"a\", \"b\"]",
             "dict": "a JSON object such as {\"KEY\": \"value\"}", "none": "None",
             "str": "text"}
    return "expected " + " or ".join(words[k] for k in declared.kinds if k in words)


def convert(value: Any, declared: Declared, *, text: bool = False) -> Any:
    """``value`` as the declared type, or ValueError saying what was expected.

    ``text=True``: the value was typed on a command line (``-p NAME TEXT``), so text is read
    for the declared type, and as papermill's CLI reads it where no type is declared.
    Otherwise it is a Python value (``run_notebook``) that must fit; text is still read for
    a declared non-text type (``"no"`` for a bool is False), never guessed where none is.
    """
    if text and isinstance(value, str):
        return _from_text(value, declared)
    return _from_python(value, declared)


def _from_python(value: Any, declared: Declared) -> Any:
    """A Python value (``run_notebook``'s dict, or parsed JSON) that must already be of the
    declared type; text is converted as the command line's would be."""
    if "any" in declared.kinds:
        return value
    if value is None:
        if declared.allows("none"):
            return None
        raise ValueError(f"None is not allowed here; {_expected(declared)}")
    if isinstance(value, os.PathLike) and declared.allows("str"):
        value = os.fspath(value)  # a folder or file name given as a Path
    if isinstance(value, str):
        return _from_text(value, declared)
    if isinstance(value, bool):
        if declared.allows("bool"):
            return value
    elif isinstance(value, int):
        if declared.allows("int"):
            return value
        if declared.allows("float"):
            return float(value)
    elif isinstance(value, float):
        if declared.allows("float") and math.isfinite(value):
            return value
    elif isinstance(value, (list, tuple)):
        if declared.allows("list"):
            if declared.items is None:
                return list(value)
            return [_from_python(v, declared.items) for v in value]
    elif isinstance(value, dict):
        if declared.allows("dict") and all(isinstance(k, str) for k in value):
            return dict(value)
    raise ValueError(f"{value!r} ({type(value).__name__}) does not fit; {_expected(declared)}")


def _as_data(value: Any) -> bool:
    """Whether papermill will write ``value`` as a literal (``ast.literal_eval`` reads it
    back unchanged): a value is data, never code."""
    from papermill.translators import PythonTranslator

    try:
        return ast.literal_eval(PythonTranslator.translate(value)) == value
    except (ValueError, SyntaxError, TypeError, RecursionError):
        return False


# -- the checks ----------------------------------------------------------------------------

def inspect(notebook: Path) -> dict[str, dict[str, Any]]:
    """The notebook's parameters as papermill reads them (name -> name, inferred_type_name,
    default, help)."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def check_parameters(notebook: Path, given: Iterable[tuple[str, Any]] | Mapping[str, Any], *,
                     text: bool = False, headless: bool = True) -> dict[str, Any]:
    """The parameters a run may pass to ``notebook``, typed; ParameterError otherwise.

    ``given``: (name, value) pairs in the order they were given (a name twice is refused), or
    a mapping. ``text=True``: the values come from a command line (see :func:`convert`).
    """
    pairs = list(given.items() if isinstance(given, Mapping) else given)
    declared = inspect(notebook)
    valid = ", ".join(declared) or "none"
    where = notebook.name
    seen: set[str] = set()
    out: dict[str, Any] = {}
    for name, value in pairs:
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ParameterError(f"{where}: parameter name {name!r} is not a Python identifier. "
                                 f"Its parameters: {valid}. Nothing was run")
        if name in seen:
            raise ParameterError(f"{where}: parameter {name} is given twice; give it once. "
                                 "Nothing was run")
        seen.add(name)
        if name not in declared:
            close = difflib.get_close_matches(name, list(declared), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ParameterError(f"{where} has no parameter {name}; {hint}its parameters are: "
                                 f"{valid}. Nothing was run (see papermill --help-notebook "
                                 f"{notebook})")
        kind = declared_type(declared[name].get("inferred_type_name"))
        try:
            typed = convert(value, kind, text=text)
        except ValueError as e:
            raise ParameterError(f"{where}: parameter {name} ({kind.text or 'untyped'}) cannot "
                                 f"be {value!r}: {e}. Nothing was run") from None
        if not _as_data(typed):
            raise ParameterError(f"{where}: parameter {name} cannot be {value!r}: it cannot be "
                                 "written into the notebook as a plain value. Nothing was run")
        out[name] = typed
    if headless:
        _check_targets(notebook, declared, out)
    return out


def guarded(notebook: Path) -> dict[str, dict[str, Any]]:
    """What the notebook's metadata says it changes: ``{"destructive"|"writes": {"targets":
    {name: form}, "dry_run": name or None}}``, each kind present only when declared."""
    meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    found = {}
    for kind in KINDS:
        info = (meta.get(METADATA_KEY) or {}).get(kind)
        if not info:
            continue
        targets = info.get("targets") or {}
        if not isinstance(targets, dict):  # ["ref"]: bare names, the generic form
            targets = {name: TARGET_FORM for name in targets}
        default_switch = "dry_run" if kind == "destructive" else None
        found[kind] = {"targets": targets, "dry_run": info.get("dry_run", default_switch)}
    return found


def destructive(notebook: Path) -> dict[str, Any] | None:
    """``{"targets": {...}, "dry_run": name}`` for a notebook that deletes, else None."""
    return guarded(notebook).get("destructive")


def _is_dry_run(switch: str | None, declared: Mapping[str, Mapping[str, Any]],
                given: Mapping[str, Any]) -> bool:
    if switch is None:  # no dry-run switch: every run writes
        return False
    if switch in given:
        return given[switch] is True
    try:
        return ast.literal_eval(str(declared.get(switch, {}).get("default", "False"))) is True
    except (ValueError, SyntaxError):
        return False  # a default we cannot read counts as "it writes"


def _check_targets(notebook: Path, declared: Mapping[str, Mapping[str, Any]],
                   given: Mapping[str, Any]) -> None:
    """A notebook that deletes or writes has no default target headless: unless the run is a
    dry run, each target must be named on the command line. A headless run is a batch job
    (CI, cron); a forgotten -p must not send it to the tour's example."""
    for kind, info in guarded(notebook).items():
        switch = info["dry_run"]
        if _is_dry_run(switch, declared, given):
            continue
        missing = [t for t in info["targets"] if given.get(t) in (None, "")]
        if not missing:
            continue
        names = ", ".join(missing)
        example = " ".join(f"-p {t} {info['targets'][t]}" for t in missing)
        dry = f" with {switch} False" if switch else ""
        verb = "deletes only what it is told" if kind == "destructive" \
            else "writes only where it is told"
        default = " (its default)" if _is_dry_run(switch, declared, {}) else ""
        plan = (f", or run with -p {switch} True{default} to see the plan of its example"
                if switch else "")
        raise ParameterError(f"{notebook.name} {KINDS[kind]}, and a headless run{dry} {verb}: "
                             f"pass {names} explicitly (e.g. {example}){plan}. Nothing was run")


def output_path(notebook: Path, output_dir: str | Path | None = None) -> Path:
    """``<output_dir>/<UTC time>-<notebook>.ipynb``; no ``output_dir``: ``paths.runs_dir()``."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    folder = paths.runs_dir() if output_dir is None else Path(output_dir)
    return folder / f"{stamp}-{notebook.stem}.ipynb"


def check_output(target: Path) -> None:
    """Make the output's folder and make sure a file can be written there, before the run
    (papermill would only fail when it saves, after the notebook ran)."""
    if target.is_dir():
        raise ParameterError(f"the output {target} is a directory; give a file name ending in "
                             ".ipynb. Nothing was run")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        probe = target.parent / f".{target.name}.probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ParameterError(f"cannot write the executed notebook to {target}: {e.strerror or e} "
                             f"({target.parent}). Choose another --output-dir. Nothing was "
                             "run") from None


def check_not_the_notebook(target: Path, notebook: Path, *, option: str = "--output") -> None:
    """Refuse an output that is the notebook being run (the same file by any path, a symlink or
    a hard link): papermill would overwrite the source with the executed copy."""
    same = target.resolve() == notebook.resolve()
    if not same and target.exists():
        try:
            same = os.path.samefile(target, notebook)
        except OSError:
            same = False
    if same:
        raise ParameterError(f"{option} {target} is {notebook} itself, the notebook being run: "
                             "its executed copy would overwrite it. Give another file name, or "
                             "leave the output out (a timestamped record under runs/). Nothing "
                             "was run")


def prepare(name: str, parameters: Iterable[tuple[str, Any]] | Mapping[str, Any] | None = None,
            *, output_dir: str | Path | None = None, output: str | Path | None = None,
            text: bool = False) -> tuple[Path, dict[str, Any], Path]:
    """Every check of a run, nothing executed: (notebook, typed parameters, output path)."""
    try:
        notebook = notebook_path(name)
    except FileNotFoundError as e:
        raise ParameterError(f"{e}. Nothing was run") from None
    typed = check_parameters(notebook, parameters or {}, text=text)
    # Headless runs keep their record small: no widgets unless asked for.
    if "interactive" in inspect(notebook):
        typed.setdefault("interactive", False)
    target = Path(output) if output else output_path(notebook, output_dir)
    check_not_the_notebook(target, notebook, option="--output" if text else "output=")
    check_output(target)
    return notebook, typed, target


def run_notebook(name: str,
                 parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None, *,
                 output_dir: str | Path | None = None, output: str | Path | None = None,
                 kernel_name: str | None = None, log_output: bool = False) -> Path:
    """Execute a notebook with parameters; return the executed notebook's path.

    Raises ParameterError, before any kernel starts, when the parameters do not fit the
    notebook (see :func:`check_parameters`). Raises papermill's ``PapermillExecutionError``
    when a cell fails; the executed notebook is still written, with the error at its top.
    ``interactive`` defaults to False here (plain text and tables instead of widgets),
    unlike in JupyterLab.
    """
    notebook, typed, target = prepare(name, parameters, output_dir=output_dir, output=output)
    return execute(notebook, typed, target, kernel_name=kernel_name, log_output=log_output)


def execute(notebook: Path, parameters: Mapping[str, Any], target: Path, *,
            kernel_name: str | None = None, log_output: bool = False) -> Path:
    """Run what :func:`prepare` checked."""
    import papermill

    papermill.execute_notebook(str(notebook), str(target), parameters=dict(parameters),
                               kernel_name=kernel_name, log_output=log_output,
                               progress_bar=False, cwd=str(notebook.parent))
    return target
