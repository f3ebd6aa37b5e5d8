"""`load_product_definitions`: a product directory in, one `dagster.Definitions` out."""

from __future__ import annotations

import logging
from pathlib import Path

from dagster import DagsterError, Definitions

from floe_dagster.assets.dbt import build_dbt_assets
from floe_dagster.assets.floe_quality_checks import build_floe_quality_checks, check_warnings
from floe_dagster.assets.ingestion import build_ingestion_assets
from floe_dagster.assets.partitions import build_partitions
from floe_dagster.automation.healing import build_staleness_checks
from floe_dagster.automation.jobs import build_partitioned_jobs
from floe_dagster.automation.schedules import build_schedules
from floe_dagster.automation.sensors import build_sensors
from floe_dagster.compat import checks_surviving_metadata_rewrite
from floe_dagster.contract.artifacts import SETTINGS_PATH
from floe_dagster.errors import FloeConfigError, Problem
from floe_dagster.execution.policies import build_executor
from floe_dagster.execution.resources import build_resources
from floe_dagster.loading.collector import collection_paused, exempt_while_alive
from floe_dagster.loading.plan import ProductPlan, build_plan
from floe_dagster.loading.project import ARTIFACTS_FILE, read_product_files
from floe_dagster.observability import TRACEPARENT, traced_executor

logger = logging.getLogger("floe_dagster")


def load_product_definitions(product_name: str, project_dir: Path | str) -> Definitions:
    """Validate the product directory and build its assets, checks, schedules and resources.

    Raises FloeConfigError, naming file, field and fix, for any bad input; a code location
    never loads half-way. Python's garbage collector is paused while loading and leaves
    what the load built out of its full passes while the repository lives
    (loading/collector.py).
    """
    with collection_paused():
        plan = load_plan(product_name, project_dir)
        for warning in product_warnings(plan):
            logger.warning("%s", warning)
        defs = resolved_definitions(plan)
        exempt_while_alive(defs.get_repository_def())
        return defs


def product_warnings(plan: ProductPlan) -> list[Problem]:
    """What loads but deserves a look: unfiltered partitions, quality gaps, checks not built."""
    return [*plan.warnings, *check_warnings(plan.files)]


def resolved_definitions(plan: ProductPlan) -> Definitions:
    """The definitions with the repository resolved now: a code location never loads half-way."""
    try:
        defs = build_definitions(plan)
        defs.get_repository_def()
    except DagsterError as exc:
        raise FloeConfigError.single(
            plan.name, str(plan.project_dir / ARTIFACTS_FILE), SETTINGS_PATH, str(exc)
        ) from exc
    return defs


def load_plan(product_name: str, project_dir: Path | str) -> ProductPlan:
    """The validated, cross-checked product, before anything Dagster is built."""
    return build_plan(read_product_files(product_name, Path(project_dir)))


def build_definitions(plan: ProductPlan) -> Definitions:
    artifacts = plan.files.artifacts
    partitions = build_partitions(artifacts.dagster.partition_schemes)
    jobs = build_partitioned_jobs(plan)
    return Definitions(
        assets=[*build_ingestion_assets(plan, partitions), *build_dbt_assets(plan, partitions)],
        # kept AssetChecksDefinitions through dg's metadata rewrite: see the wrapper's docstring
        asset_checks=[
            checks_surviving_metadata_rewrite(checks)
            for checks in [*build_staleness_checks(plan), *build_floe_quality_checks(plan)]
        ],
        jobs=jobs,
        schedules=build_schedules(plan, partitions),
        sensors=build_sensors(plan, jobs),
        resources=build_resources(plan),
        executor=traced_executor(
            plan,
            build_executor(
                artifacts.dagster.execution,
                single_writer=artifacts.plugins.compute.type == "duckdb",
                pass_env=(TRACEPARENT,) if artifacts.observability.telemetry.enabled else (),
            ),
        ),
    )
