"""Run the tour's notebooks headless with papermill, keeping each executed notebook as
the record of what happened (``runs/<UTC time>-<notebook>.ipynb``).

Layer 4 beside the widgets: it only drives notebooks, which call the verbs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(os.environ.get("REGISTRY_WIDGETS_NOTEBOOKS")
                 or Path(__file__).resolve().parent.parent / "notebooks")


def notebook_path(name: str) -> Path:
    """``copy``, ``03_copy`` or ``03_copy.ipynb`` (or a path) -> the notebook file."""
    candidate = Path(name)
    if candidate.suffix == ".ipynb" and candidate.exists():
        return candidate
    stem = candidate.stem if candidate.suffix == ".ipynb" else name
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        if path.stem == stem or path.stem.split("_", 1)[-1] == stem:
            return path
    known = ", ".join(p.stem.split("_", 1)[-1] for p in sorted(NOTEBOOKS.glob("*.ipynb")))
    raise FileNotFoundError(f"no notebook named {name!r} in {NOTEBOOKS}; known: {known}")


def parse_value(text: str) -> Any:
    """``-p`` values as papermill's CLI reads them: numbers, booleans, None and JSON lists
    or objects are typed; anything else stays a string."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def output_path(notebook: Path, output_dir: str | Path = "runs") -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    return Path(output_dir) / f"{stamp}-{notebook.stem}.ipynb"


def run_notebook(name: str, parameters: dict[str, Any] | None = None, *,
                 output_dir: str | Path = "runs", output: str | Path | None = None,
                 kernel_name: str | None = None, log_output: bool = False) -> Path:
    """Execute a notebook with parameters; return the executed notebook's path.

    Raises papermill's ``PapermillExecutionError`` when a cell fails; the executed notebook
    is still written, with the error at its top. ``interactive`` defaults to False here
    (plain text and tables instead of widgets), unlike in JupyterLab.
    """
    import papermill

    notebook = notebook_path(name)
    parameters = dict(parameters or {})
    # Headless runs keep their record small: no widgets unless asked for.
    if "interactive" in papermill.inspect_notebook(str(notebook)):
        parameters.setdefault("interactive", False)
    target = Path(output) if output else output_path(notebook, output_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(str(notebook), str(target), parameters=parameters,
                               kernel_name=kernel_name, log_output=log_output,
                               progress_bar=False, cwd=str(notebook.parent))
    return target
