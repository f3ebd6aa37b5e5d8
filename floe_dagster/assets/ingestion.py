"""dlt ingestion as Dagster assets, keyed like the dbt sources they feed so lineage joins up.

Plain dlt rather than dagster-dlt: the contract already names each table, so the assets
are built without importing the dlt source at load time, and the run's partition window
goes straight into the source function.
"""

import importlib.util
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

import dlt
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    PartitionsDefinition,
    multi_asset,
)

from floe_dagster.assets.iceberg import ingested_table_metadata
from floe_dagster.contract.dagster_section import IngestionSource, PartitionScheme
from floe_dagster.execution.policies import retry_policy, step_op_tags
from floe_dagster.execution.resources import Warehouse
from floe_dagster.loading.plan import ProductPlan
from floe_dagster.names import (
    PRODUCT_TAG,
    ROW_COUNT_KEY,
    SCHEME_TAG,
    SIZE_TAG,
    partition_window,
    step_labels,
    table_key,
)
from floe_dagster.observability import observed_step


def build_ingestion_assets(
    plan: ProductPlan, partitions: Mapping[str, PartitionsDefinition]
) -> list[AssetsDefinition]:
    schemas = {n["source_name"]: n["schema"] for n in plan.manifest["sources"].values()}
    return [
        _source_assets(plan, source, schemas[source.dbt_source], partitions)
        for source in plan.files.artifacts.dagster.ingestion
    ]


def _source_assets(
    plan: ProductPlan,
    source: IngestionSource,
    dataset: str,
    partitions: Mapping[str, PartitionsDefinition],
) -> AssetsDefinition:
    section = plan.files.artifacts.dagster
    prefix = plan.files.artifacts.asset_key_prefix
    size = source.workload_size or section.execution.default_workload_size
    partitions_def = partitions.get(source.partition_scheme) if source.partition_scheme else None
    scheme = plan.schemes.get(source.partition_scheme) if source.partition_scheme else None
    step = f"ingest_{source.name}"
    specs = [
        AssetSpec(
            key=table_key(prefix, source.dbt_source, table),
            group_name=source.group,
            owners=section.owners or None,
            description=f"`{dataset}.{table}`, loaded by dlt source `{source.source}`.",
            tags={
                PRODUCT_TAG: plan.name,
                SIZE_TAG: size,
                **({SCHEME_TAG: source.partition_scheme} if source.partition_scheme else {}),
            },
            kinds={"dlt", plan.files.artifacts.plugins.compute.type},
            skippable=True,
        )
        for table in source.tables
    ]

    @multi_asset(
        name=step,
        specs=specs,
        can_subset=True,
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),  # dlt loads any window in one go
        retry_policy=retry_policy(section.execution),
        pool=source.pool,
        op_tags=step_op_tags(section.execution, size, step_labels(plan.name, step)),
    )
    def _ingest(
        context: AssetExecutionContext, warehouse: Warehouse
    ) -> Iterator[MaterializeResult]:
        tables = [key.path[-1] for key in context.selected_asset_keys]
        window = _window_kwargs(context, scheme)
        with observed_step(context, plan):
            counts = run_dlt_source(plan, source, dataset, tables, window, warehouse)
        for table in tables:
            key = table_key(prefix, source.dbt_source, table)
            yield MaterializeResult(
                asset_key=key,
                metadata={
                    ROW_COUNT_KEY: counts.get(table, 0),
                    **ingested_table_metadata(context, plan, key, dataset, table),
                },
            )

    return _ingest


def _window_kwargs(context: AssetExecutionContext, scheme: PartitionScheme | None) -> dict:
    """The source function's window arguments, naive datetimes as dlt sources take them."""
    if scheme is None or (window := partition_window(context)) is None:
        return {}
    start, end = window
    return {scheme.vars.min: start.replace(tzinfo=None), scheme.vars.max: end.replace(tzinfo=None)}


def run_dlt_source(
    plan: ProductPlan,
    source: IngestionSource,
    dataset: str,
    tables: list[str],
    window: dict,
    warehouse: Warehouse,
) -> dict[str, int]:
    """Run the dlt source for `tables` into the warehouse; return rows loaded per table."""
    module_name, function_name = source.source.split(":")
    factory = getattr(
        _import_product_module(plan.name, plan.project_dir, module_name), function_name
    )
    with tempfile.TemporaryDirectory(prefix="floe-dlt-") as pipelines_dir:
        pipeline = dlt.pipeline(
            pipeline_name=f"{plan.name}_{source.name}",
            destination=warehouse.dlt_destination(repr(sorted(window.items())) if window else None),
            dataset_name=dataset,
            pipelines_dir=pipelines_dir,
        )
        pipeline.run(factory(**window).with_resources(*tables))
        normalized = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
        row_counts = normalized.row_counts if normalized else {}
    return {table: int(row_counts.get(table, 0)) for table in tables}


def _import_product_module(product: str, project_dir: Path, dotted: str) -> ModuleType:
    """Import `dotted` from the product dir under a private name, so products never collide."""
    name = f"floe_product_{product}.{dotted}"
    if name in sys.modules:
        return sys.modules[name]
    path = project_dir.joinpath(*dotted.split(".")).with_suffix(".py")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {dotted!r} from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
