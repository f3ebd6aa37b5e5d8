"""dbt models as Dagster assets: one @dbt_assets step per group of models that run alike.

Each step is what `@dbt_assets(select=...)` builds, from the unique ids the plan already
resolved: dagster-dbt would resolve the group's list of model names again, term by term
against every node (quadratic in the number of models).
"""

import json
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    PartitionsDefinition,
)
from dagster_dbt import DbtCliResource

from floe_dagster.assets.iceberg import export_dbt_events
from floe_dagster.assets.translator import FloeDbtTranslator
from floe_dagster.compat import dagster_stub_asset, dbt_assets_for_unique_ids
from floe_dagster.contract.dagster_section import PartitionScheme
from floe_dagster.execution.policies import retry_policy, step_op_tags
from floe_dagster.execution.resources import Warehouse
from floe_dagster.loading.plan import DbtAssetGroup, ProductPlan
from floe_dagster.names import TABLE_NAME_KEY, partition_window, step_labels, table_key
from floe_dagster.observability import observed_step


def build_dbt_assets(
    plan: ProductPlan, partitions: Mapping[str, PartitionsDefinition]
) -> list[AssetsDefinition]:
    """One step per group, and the stubs Dagster would add for dbt sources nothing loads."""
    translator = FloeDbtTranslator(plan, partitions)
    all_models = len(plan.dbt_groups) == 1
    steps = [
        _group_assets(plan, group, translator, partitions, select_all=all_models)
        for group in plan.dbt_groups
    ]
    return [*steps, *_source_stubs(plan, steps)]


def _source_stubs(plan: ProductPlan, steps: list[AssetsDefinition]) -> list[AssetsDefinition]:
    """Dagster's own stub for each dependency no asset defines, made once here (see compat).

    Dagster first tries to remap such a dependency to the asset of the same table name
    (`dagster/table_name`); a dependency that could be remapped is left to Dagster.
    """
    specs = [spec for step in steps for spec in step.specs]
    artifacts = plan.files.artifacts
    defined = {spec.key for spec in specs} | {
        table_key(artifacts.asset_key_prefix, source.dbt_source, table)
        for source in artifacts.dagster.ingestion
        for table in source.tables
    }
    tables = {spec.metadata.get(TABLE_NAME_KEY) for spec in specs} - {None}
    missing: dict[AssetKey, Mapping[str, Any]] = {}
    for spec in specs:
        for dep in spec.deps:
            if dep.asset_key not in defined:
                missing.setdefault(dep.asset_key, dep.metadata or {})
    return [
        dagster_stub_asset(key, metadata)
        for key, metadata in missing.items()
        if _table_name(metadata) not in tables
    ]


def _table_name(metadata: Mapping[str, Any]) -> str | None:
    value = metadata.get(TABLE_NAME_KEY)
    return getattr(value, "value", value)


def _group_assets(
    plan: ProductPlan,
    group: DbtAssetGroup,
    translator: FloeDbtTranslator,
    partitions: Mapping[str, PartitionsDefinition],
    select_all: bool,
) -> AssetsDefinition:
    manifest = plan.manifest
    nodes = manifest["nodes"]
    if select_all:
        select, unique_ids = "fqn:*", frozenset(nodes)
    else:
        select = " ".join(sorted(nodes[u]["name"] for u in group.unique_ids))
        unique_ids = group.unique_ids | _tests_of(manifest, group.unique_ids)
    scheme = plan.schemes.get(group.partition_scheme) if group.partition_scheme else None

    @dbt_assets_for_unique_ids(
        manifest=manifest,
        translator=translator,
        unique_ids=unique_ids,
        select=select,
        name=group.name,
        partitions_def=partitions.get(group.partition_scheme) if group.partition_scheme else None,
        backfill_policy=_backfill_policy(group),
        retry_policy=retry_policy(plan.files.artifacts.dagster.execution),
        pool=group.pool,
        op_tags=step_op_tags(
            plan.files.artifacts.dagster.execution,
            group.workload_size,
            step_labels(plan.name, group.name),
        ),
    )
    def _dbt_group(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse
    ) -> Iterator[Any]:
        warehouse.export_for_dbt()
        args = ["build", *window_vars_args(context, scheme)]
        with observed_step(context, plan) as step:
            events = step.watch_dbt(dbt.cli(args, context=context))
            yield from export_dbt_events(context, plan, events, warehouse.duckdb_path)

    return _dbt_group


def _tests_of(manifest: Mapping[str, Any], unique_ids: frozenset[str]) -> set[str]:
    """The tests dbt adds to a selection of these nodes (eager indirect selection)."""
    children = manifest["child_map"]
    return {c for u in unique_ids for c in children.get(u, ()) if c.startswith("test.")}


def window_vars_args(context: AssetExecutionContext, scheme: PartitionScheme | None) -> list[str]:
    """`--vars` with the run's partition window (one partition or a whole range)."""
    if scheme is None or (window := partition_window(context)) is None:
        return []
    fmt = "%Y-%m-%d %H:%M:%S"
    start, end = window
    bounds = {scheme.vars.min: start.strftime(fmt), scheme.vars.max: end.strftime(fmt)}
    return ["--vars", json.dumps(bounds)]


def _backfill_policy(group: DbtAssetGroup) -> BackfillPolicy:
    """Coalesced unless the artifacts ask for chunks: one dbt invocation covers any range."""
    if group.backfill is not None and group.backfill.policy == "chunked":
        return BackfillPolicy.multi_run(group.backfill.chunk_size or 1)
    return BackfillPolicy.single_run()
