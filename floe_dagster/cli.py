"""The `floe-dagster` command: validate a product, print the contract's schema, prepare dbt."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from floe_dagster.contract.artifacts import json_schema, json_schema_text, safe_name
from floe_dagster.contract.reference import markdown
from floe_dagster.errors import FloeConfigError
from floe_dagster.execution.resources import dbt_executable
from floe_dagster.loading.project import ARTIFACTS_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="floe-dagster", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check a product directory; exit 1 on errors")
    validate.add_argument("project_dir", type=Path)
    validate.add_argument("--product", help="product name (default: from the artifacts)")

    schema = commands.add_parser("schema", help="print the JSON Schema of compiled_artifacts.json")
    schema.add_argument("--output", type=Path, help="write to this file instead of stdout")
    schema.add_argument(
        "--markdown", action="store_true", help="the contract reference (docs/contract.md) instead"
    )

    prepare = commands.add_parser(
        "prepare",
        help="`dbt deps` (if packages.yml), place the floe_dagster dbt package, `dbt parse`",
    )
    prepare.add_argument("project_dir", type=Path)

    init = commands.add_parser(
        "init", help="write a minimal product around a dbt project, then prepare and validate"
    )
    init.add_argument("project_dir", type=Path, metavar="DBT_PROJECT_DIR")
    init.add_argument("--name", help="floe product name (default: dbt_project.yml's name)")
    init.add_argument("--domain", help="owning domain (default: a TODO placeholder)")
    init.add_argument("--force", action="store_true", help="overwrite the files init writes")

    launch = commands.add_parser(
        "launch", help="submit a run of a selection through the global run-key check"
    )
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

    conflicts = commands.add_parser("conflicts", help="list recorded run-key conflicts")
    conflicts.add_argument("--product", help="only this product's")
    conflicts.add_argument("--json", action="store_true", help="print JSON")

    status = commands.add_parser("status", help="print each partition's staleness with its reason")
    status.add_argument("project_dir", type=Path)
    status.add_argument("--product", help="product name (default: from the artifacts)")
    status.add_argument("--json", action="store_true", help="print JSON")

    args = parser.parse_args(argv)
    command = {
        "validate": _validate,
        "schema": _schema,
        "prepare": _prepare,
        "init": _init,
        "launch": _launch,
        "conflicts": _conflicts,
        "status": _status,
    }[args.command]
    try:
        return command(args)
    except FloeConfigError as exc:  # bad product input: the listed problems, exit 1
        print(exc, file=sys.stderr)
        return 1


def product_name_for(project_dir: Path, given: str | None = None) -> str:
    """The name a product loads under: as given, else the artifacts' own, else the directory's."""
    if given:
        return given
    try:
        return json.loads((project_dir / ARTIFACTS_FILE).read_text())["metadata"]["product_name"]
    except (OSError, ValueError, KeyError, TypeError):
        return project_dir.resolve().name


def _validate(args: argparse.Namespace) -> int:
    from floe_dagster.definitions import load_plan, product_warnings, resolved_definitions

    name = product_name_for(args.project_dir, args.product)
    plan = load_plan(name, args.project_dir)
    for warning in product_warnings(plan):
        print(f"warning: {warning}", file=sys.stderr)
    repo = resolved_definitions(plan).get_repository_def()
    graph = repo.asset_graph
    print(
        f"{safe_name(name)}: ok: {len(graph.get_all_asset_keys())} assets, "
        f"{len(list(graph.asset_check_keys))} asset checks, {len(repo.schedule_defs)} schedules, "
        f"{len(repo.sensor_defs)} sensors"
    )
    return 0


def _schema(args: argparse.Namespace) -> int:
    text = markdown(json_schema()) if args.markdown else json_schema_text()
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from floe_dagster.loading.profiles import profiles_dir_for
    from floe_dagster.loading.window_package import install_window_package

    project_dir = args.project_dir.resolve()
    profiles_dir = profiles_dir_for(project_dir)
    has_packages = any((project_dir / f).exists() for f in ("packages.yml", "dependencies.yml"))

    def dbt(step: list[str]) -> int:
        command = [dbt_executable(), *step, "--project-dir", str(project_dir)]
        done = subprocess.run([*command, "--profiles-dir", str(profiles_dir)], check=False)
        if done.returncode != 0:
            print(f"floe-dagster prepare: `dbt {step[0]}` failed in {project_dir}", file=sys.stderr)
        return done.returncode

    if has_packages and (failed := dbt(["deps"])):
        return failed
    install_window_package(project_dir)  # after `dbt deps`, which empties dbt_packages/
    if failed := dbt(["parse", "--quiet"]):
        return failed
    print(f"{project_dir / 'target/manifest.json'}: written")
    return 0


def _init(args: argparse.Namespace) -> int:
    from floe_dagster.loading.init_product import init_product

    result = init_product(args.project_dir, args.name, args.domain, args.force)
    for name in result.written:
        print(f"{result.project_dir / name}: written")
    for name in result.kept:
        print(f"{result.project_dir / name}: kept (it exists)")
    if result.placeholders:
        print("decide these placeholders (marked TODO) in compiled_artifacts.json:")
        for path, what in result.placeholders.items():
            print(f"  - {path}: {what}")
    project = argparse.Namespace(project_dir=result.project_dir, product=result.name)
    return _prepare(project) or _validate(project)


def _launch(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance

    from floe_dagster.automation.launch import launch
    from floe_dagster.names import parse_range_label

    bounds = parse_range_label(args.partition_range) if args.partition_range else None
    if args.partition_range and bounds is None:
        print("floe-dagster launch: --partition-range is FIRST...LAST", file=sys.stderr)
        return 2
    name = product_name_for(args.project_dir, args.product)
    with DagsterInstance.get() as instance:
        result = launch(
            instance, name, args.project_dir, args.select, args.trigger,
            args.partition, bounds, args.location,
        )
    if isinstance(result, str):
        print(f"submitted run {result}")
        return 0
    print(result.message, file=sys.stderr)
    return 3 if result.cause == "conflict" else 0


def _conflicts(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance

    from floe_dagster.automation.launch import conflicts_text

    with DagsterInstance.get() as instance:
        print(conflicts_text(instance, args.product, args.json))
    return 0


def _status(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance

    from floe_dagster.automation.status_report import status_text
    from floe_dagster.definitions import load_plan

    plan = load_plan(product_name_for(args.project_dir, args.product), args.project_dir)
    with DagsterInstance.get() as instance:
        print(status_text(instance, plan, args.json))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
