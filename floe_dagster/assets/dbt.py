"""dbt models as Dagster assets: one @dbt_assets step per group of models that run alike."""


import json
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    PartitionsDefinition,
)
from dagster_dbt import DbtCliResource, dbt_assets

from floe_dagster.assets.translator import FloeDbtTranslator
from floe_dagster.contract.dagster_section import PartitionScheme
from floe_dagster.execution.policies import retry_policy, step_op_tags
from floe_dagster.execution.resources import Warehouse
from floe_dagster.loading.plan import DbtAssetGroup, ProductPlan
from floe_dagster.observability import observed_step


def build_dbt_assets(
    plan: ProductPlan, partitions: Mapping[str, PartitionsDefinition]
) -> list[AssetsDefinition]:
    translator = FloeDbtTranslator(plan, partitions)
    all_models = len(plan.dbt_groups) == 1
    return [
        _group_assets(plan, group, translator, partitions, select_all=all_models)
        for group in plan.dbt_groups
    ]


def _group_assets(
    plan: ProductPlan,
    group: DbtAssetGroup,
    translator: FloeDbtTranslator,
    partitions: Mapping[str, PartitionsDefinition],
    select_all: bool,
) -> AssetsDefinition:
    nodes = plan.manifest["nodes"]
    select = "fqn:*" if select_all else " ".join(sorted(nodes[u]["name"] for u in group.unique_ids))
    scheme = plan.schemes.get(group.partition_scheme) if group.partition_scheme else None

    @dbt_assets(
        manifest=plan.manifest,
        select=select,
        name=group.name,
        dagster_dbt_translator=translator,
        partitions_def=partitions.get(group.partition_scheme) if group.partition_scheme else None,
        backfill_policy=_backfill_policy(group),
        retry_policy=retry_policy(plan.files.artifacts.dagster.execution),
        pool=group.pool,
        op_tags=step_op_tags(
            plan.files.artifacts.dagster.execution,
            group.workload_size,
            {"floe/product": plan.name, "floe/step": group.name},
        ),
    )
    def _dbt_group(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse
    ) -> Iterator[Any]:
        warehouse.export_for_dbt()
        args = ["build", *window_vars_args(context, scheme)]
        with observed_step(context, plan) as step:
            yield from step.watch_dbt(dbt.cli(args, context=context).stream())

    return _dbt_group


def window_vars_args(context: AssetExecutionContext, scheme: PartitionScheme | None) -> list[str]:
    """`--vars` with the run's partition window (one partition or a whole range)."""
    if scheme is None or not (context.has_partition_key or context.has_partition_key_range):
        return []
    window = context.partition_time_window
    fmt = "%Y-%m-%d %H:%M:%S"
    bounds = {scheme.vars.min: window.start.strftime(fmt), scheme.vars.max: window.end.strftime(fmt)}
    return ["--vars", json.dumps(bounds)]


def _backfill_policy(group: DbtAssetGroup) -> BackfillPolicy:
    """Coalesced unless the artifacts ask for chunks: one dbt invocation covers any range."""
    if group.backfill is not None and group.backfill.policy == "chunked":
        return BackfillPolicy.multi_run(group.backfill.chunk_size or 1)
    return BackfillPolicy.single_run()
