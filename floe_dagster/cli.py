"""The `floe-dagster` command: validate a product, print the contract's schema, prepare dbt."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from floe_dagster.contract.artifacts import json_schema_text
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

    prepare = commands.add_parser("prepare", help="build target/manifest.json with `dbt parse`")
    prepare.add_argument("project_dir", type=Path)

    args = parser.parse_args(argv)
    return {"validate": _validate, "schema": _schema, "prepare": _prepare}[args.command](args)


def product_name_for(project_dir: Path, given: str | None = None) -> str:
    """The name a product loads under: as given, else the artifacts' own, else the directory's."""
    if given:
        return given
    try:
        return json.loads((project_dir / ARTIFACTS_FILE).read_text())["metadata"]["product_name"]
    except (OSError, ValueError, KeyError, TypeError):
        return project_dir.resolve().name


def _validate(args: argparse.Namespace) -> int:
    from floe_dagster.definitions import load_product_definitions

    name = product_name_for(args.project_dir, args.product)
    try:
        defs = load_product_definitions(name, args.project_dir)
    except FloeConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    print(
        f"{name}: ok: {len(graph.get_all_asset_keys())} assets, "
        f"{len(list(graph.asset_check_keys))} asset checks, {len(repo.schedule_defs)} schedules, "
        f"{len(repo.sensor_defs)} sensors"
    )
    return 0


def _schema(args: argparse.Namespace) -> int:
    if args.output:
        args.output.write_text(json_schema_text())
    else:
        sys.stdout.write(json_schema_text())
    return 0


def _prepare(args: argparse.Namespace) -> int:
    project_dir = args.project_dir.resolve()
    steps = [["deps"]] if (project_dir / "packages.yml").exists() else []
    for step in [*steps, ["parse", "--quiet"]]:
        command = [dbt_executable(), *step, "--project-dir", str(project_dir)]
        done = subprocess.run([*command, "--profiles-dir", str(project_dir)], check=False)
        if done.returncode != 0:
            print(f"floe-dagster prepare: `dbt {step[0]}` failed in {project_dir}", file=sys.stderr)
            return done.returncode
    print(f"{project_dir / 'target/manifest.json'}: written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
