"""What each `floe-dagster` command does, given its parsed arguments; returns the exit code.

Commands that build whole definitions live in this package, the top layer, so that nothing
under automation/ or below imports definitions.py (tests/test_layers.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from floe_dagster.contract.artifacts import json_schema, json_schema_text, safe_name
from floe_dagster.contract.reference import markdown
from floe_dagster.execution.resources import dbt_executable
from floe_dagster.loading.project import ARTIFACTS_FILE

if TYPE_CHECKING:
    from floe_dagster.loading.init_product import InitResult


def product_name_for(project_dir: Path, given: str | None = None) -> str:
    """The name a product loads under: as given, else the artifacts' own, else the directory's."""
    if given:
        return given
    try:
        return json.loads((project_dir / ARTIFACTS_FILE).read_text())["metadata"]["product_name"]
    except (OSError, ValueError, KeyError, TypeError):
        return project_dir.resolve().name


def validate(args: argparse.Namespace) -> int:
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


def schema(args: argparse.Namespace) -> int:
    text = markdown(json_schema()) if args.markdown else json_schema_text()
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def prepare(args: argparse.Namespace) -> int:
    if failed := prepare_product(args.project_dir):
        return failed
    if (args.project_dir / ARTIFACTS_FILE).exists():  # a bare dbt project has no selections yet
        cache_selections(args.project_dir, product_name_for(args.project_dir))
    return 0


def cache_selections(project_dir: Path, product_name: str) -> None:
    """Resolve the product's dbt selections into target/'s cache: a later load runs no `dbt ls`.

    Raises FloeConfigError for invalid product files, as a load would.
    """
    from floe_dagster.definitions import load_plan

    load_plan(product_name, project_dir)


def prepare_product(project_dir: Path) -> int:
    """`dbt deps` if needed, the window package, `dbt parse`: the manifest a load reads."""
    from floe_dagster.loading.profiles import profiles_dir_for
    from floe_dagster.loading.window_package import install_window_package

    project_dir = project_dir.resolve()
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


def init(args: argparse.Namespace) -> int:
    from floe_dagster.loading.init_product import init_product

    result = init_product(args.project_dir, args.name, args.domain, args.force)
    report_init(result)
    project = argparse.Namespace(project_dir=result.project_dir, product=result.name)
    return prepare_product(result.project_dir) or validate(project)


def report_init(result: InitResult) -> None:
    """What init wrote and kept, and the placeholders only a person can decide."""
    for name in result.written:
        print(f"{result.project_dir / name}: written")
    for name in result.kept:
        print(f"{result.project_dir / name}: kept (it exists)")
    if result.placeholders:
        print("decide these placeholders (marked TODO) in compiled_artifacts.json:")
        for path, what in result.placeholders.items():
            print(f"  - {path}: {what}")


def launch(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance

    from floe_dagster.cli.launch import Refused, launch_run
    from floe_dagster.names import parse_range_label

    bounds = parse_range_label(args.partition_range) if args.partition_range else None
    if args.partition_range and bounds is None:
        print("floe-dagster launch: --partition-range is FIRST...LAST", file=sys.stderr)
        return 2
    name = product_name_for(args.project_dir, args.product)
    with DagsterInstance.get() as instance:
        result = launch_run(
            instance,
            name,
            args.project_dir,
            args.select,
            args.trigger,
            args.partition,
            bounds,
            args.location,
        )
    if isinstance(result, str):
        print(f"submitted run {result}")
        return 0
    print(result.message, file=sys.stderr)
    if result.cause == "conflict":
        return 3
    if isinstance(result, Refused) and result.cause != "duplicate":
        return 4  # another run (another cause) holds the work: this launch did not run
    return 0


def conflicts(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance

    from floe_dagster.cli.launch import conflicts_text

    with DagsterInstance.get() as instance:
        print(conflicts_text(instance, args.product, args.json))
    return 0


def refused(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance

    from floe_dagster.cli.refused import refused_text

    with DagsterInstance.get() as instance:
        print(refused_text(instance, args.product, args.json))
    return 0


def status(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance

    from floe_dagster.automation.status_report import status_text
    from floe_dagster.definitions import build_definitions, load_plan

    plan = load_plan(product_name_for(args.project_dir, args.product), args.project_dir)
    graph = build_definitions(plan).get_repository_def().asset_graph
    with DagsterInstance.get() as instance:
        print(status_text(instance, plan, graph, args.json))
    return 0
