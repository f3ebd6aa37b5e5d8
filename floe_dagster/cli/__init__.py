"""The `floe-dagster` command: validate a product, print the contract's schema, prepare dbt."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from floe_dagster.cli import commands
from floe_dagster.errors import FloeConfigError


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except FloeConfigError as exc:  # bad product input: the listed problems, exit 1
        print(exc, file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    """Each subcommand, with the function in commands.py that runs it (`run`)."""
    parser = argparse.ArgumentParser(prog="floe-dagster", description=__doc__)
    subcommands = parser.add_subparsers(dest="command", required=True)

    validate = subcommands.add_parser(
        "validate", help="check a product directory; exit 1 on errors"
    )
    validate.set_defaults(run=commands.validate)
    validate.add_argument("project_dir", type=Path)
    validate.add_argument("--product", help="product name (default: from the artifacts)")

    schema = subcommands.add_parser(
        "schema", help="print the JSON Schema of compiled_artifacts.json"
    )
    schema.set_defaults(run=commands.schema)
    schema.add_argument("--output", type=Path, help="write to this file instead of stdout")
    schema.add_argument(
        "--markdown", action="store_true", help="the contract reference (docs/contract.md) instead"
    )

    prepare = subcommands.add_parser(
        "prepare",
        help="`dbt deps` (if packages.yml), place the floe_dagster dbt package, `dbt parse`",
    )
    prepare.set_defaults(run=commands.prepare)
    prepare.add_argument("project_dir", type=Path)

    init = subcommands.add_parser(
        "init", help="write a minimal product around a dbt project, then prepare and validate"
    )
    init.set_defaults(run=commands.init)
    init.add_argument("project_dir", type=Path, metavar="DBT_PROJECT_DIR")
    init.add_argument("--name", help="floe product name (default: dbt_project.yml's name)")
    init.add_argument("--domain", help="owning domain (default: a TODO placeholder)")
    init.add_argument("--force", action="store_true", help="overwrite the files init writes")

    launch = subcommands.add_parser(
        "launch", help="submit a run of a selection through the global run-key check"
    )
    launch.set_defaults(run=commands.launch)
    launch.add_argument("project_dir", type=Path)
    launch.add_argument("--product", help="product name (default: from the artifacts)")
    launch.add_argument("--select", default="*", help="Dagster asset selection (default: all)")
    where = launch.add_mutually_exclusive_group()
    where.add_argument("--partition", help="one partition key")
    where.add_argument("--partition-range", help="FIRST...LAST, one run for the whole range")
    launch.add_argument(
        "--trigger", default="manual", help="cause in the run key; a new cause runs again"
    )
    launch.add_argument("--location", help="code location name (default: the product name)")

    conflicts = subcommands.add_parser("conflicts", help="list recorded run-key conflicts")
    conflicts.set_defaults(run=commands.conflicts)
    conflicts.add_argument("--product", help="only this product's")
    conflicts.add_argument("--json", action="store_true", help="print JSON")

    refused = subcommands.add_parser(
        "refused", help="list runs the run coordinator refused as duplicates of in-flight work"
    )
    refused.set_defaults(run=commands.refused)
    refused.add_argument("--product", help="only this product's")
    refused.add_argument("--json", action="store_true", help="print JSON")

    status = subcommands.add_parser(
        "status", help="print each partition's staleness with its reason"
    )
    status.set_defaults(run=commands.status)
    status.add_argument("project_dir", type=Path)
    status.add_argument("--product", help="product name (default: from the artifacts)")
    status.add_argument("--json", action="store_true", help="print JSON")

    return parser
