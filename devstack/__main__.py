"""``python -m devstack up [--seed] | down | status`` (see ``services.py``)."""

from __future__ import annotations

import argparse
import sys

from . import services


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="services", description=(
        "Local registries (plain, HTTPS+basic) and a Docker engine for demos and "
        "`make lab`. State: $REGISTRY_WIDGETS_SERVICES (default <repo>/.state/services); "
        "plain registry port: $REGISTRY_WIDGETS_PORT (default 5000); "
        "set $REGISTRY_WIDGETS_NO_ENGINE=1 to leave the Docker engine alone."))
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the services (idempotent)")
    up.add_argument("--seed", action="store_true", help="push the sample images")
    commands.add_parser("down", help="stop what `up` started")
    commands.add_parser("status", help="show what runs and where")
    args = parser.parse_args(argv)
    if args.command == "up":
        return services.up(seed=args.seed)
    if args.command == "down":
        return services.down()
    return services.status()


if __name__ == "__main__":
    sys.exit(main())
