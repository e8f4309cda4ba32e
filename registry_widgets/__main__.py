"""``python -m registry_widgets``: run the notebooks headless (papermill) for CI or cron.

    python -m registry_widgets run copy -p source A -p target B
    python -m registry_widgets list

Exit codes: 0 done; 1 the notebook ran and a cell failed (the executed notebook says why,
at its top); 2 the run was refused before any kernel started (an unknown notebook or
parameter, a value of the wrong type, a delete or a registry write without an explicit
target, an output that cannot be written or that is the notebook itself): nothing was run.
"""

from __future__ import annotations

import argparse
import sys

from . import paths, runner

USAGE_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m registry_widgets",
                                     description="Run registry_widgets notebooks headless.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute a notebook; the output goes under runs/")
    run.add_argument("notebook", help="copy, 03_copy, or a path to a .ipynb")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                     metavar=("NAME", "VALUE"),
                     help="a parameter of the notebook, converted to the type its parameters "
                          "cell declares (repeatable; see papermill --help-notebook)")
    run.add_argument("--output-dir", default=None)  # None: paths.runs_dir(), ./runs
    run.add_argument("--output", help="exact output path instead of a timestamped one")
    run.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")
    run.add_argument("--log-output", action="store_true", help="echo cell output while running")
    commands.add_parser("list", help="the notebooks you can run")
    args = parser.parse_args(argv)

    if args.command == "list":
        for path in sorted(paths.notebooks_dir().glob("*.ipynb")):
            print(f"{path.stem.split('_', 1)[-1]:<28} {path.name}")
        return 0

    try:
        # Text values, in the order given: a name given twice is refused, not overwritten.
        notebook, parameters, target = runner.prepare(
            args.notebook, [tuple(pair) for pair in args.parameter],
            output_dir=args.output_dir, output=args.output, text=True)
    except runner.ParameterError as e:
        print(f"error: {e}", file=sys.stderr)
        return USAGE_ERROR
    try:
        runner.execute(notebook, parameters, target, kernel_name=args.kernel,
                       log_output=args.log_output)
    except Exception as e:  # papermill's execution error: show the cell's exception line
        lines = str(e).strip().splitlines()
        print(f"error: {notebook.name} failed: {lines[-1] if lines else type(e).__name__}",
              file=sys.stderr)
        print(f"the executed notebook, with the error at its top: {target}", file=sys.stderr)
        return 1
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
