"""``python -m registry_widgets``: run the notebooks headless (papermill) for CI or cron.

    python -m registry_widgets run copy -p source A -p target B
    python -m registry_widgets list
"""

from __future__ import annotations

import argparse
import sys

from . import runner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m registry_widgets",
                                     description="Run registry_widgets notebooks headless.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute a notebook; the output goes under runs/")
    run.add_argument("notebook", help="copy, 03_copy, or a path to a .ipynb")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                     metavar=("NAME", "VALUE"), help="a parameter (repeatable)")
    run.add_argument("--output-dir", default="runs")
    run.add_argument("--output", help="exact output path instead of a timestamped one")
    run.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")
    run.add_argument("--log-output", action="store_true", help="echo cell output while running")
    commands.add_parser("list", help="the notebooks you can run")
    args = parser.parse_args(argv)

    if args.command == "list":
        for path in sorted(runner.NOTEBOOKS.glob("*.ipynb")):
            print(f"{path.stem.split('_', 1)[-1]:<28} {path.name}")
        return 0

    parameters = {name: runner.parse_value(value) for name, value in args.parameter}
    try:
        notebook = runner.notebook_path(args.notebook)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    target = args.output or runner.output_path(notebook, args.output_dir)
    try:
        path = runner.run_notebook(str(notebook), parameters, output=target,
                                   kernel_name=args.kernel, log_output=args.log_output)
    except Exception as e:  # papermill's execution error: show the cell's exception line
        lines = str(e).strip().splitlines()
        print(f"error: {notebook.name} failed: {lines[-1] if lines else type(e).__name__}",
              file=sys.stderr)
        print(f"the executed notebook, with the error at its top: {target}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
