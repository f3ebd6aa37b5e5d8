"""Cron schedules from the artifacts, each with its own asset job.

A schedule over partitioned assets requests the last complete partition at each tick
(unpartitioned assets in its selection run in the same run). Every tick goes through the
global run-key check (execution/run_keys.py): a partitioned schedule's trigger is
`schedule:<name>`, so a later tick asking for a partition already run is a duplicate; an
unpartitioned schedule's trigger includes the tick time, so each tick is new work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    PartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
)

from floe_dagster.contract.dagster_section import ScheduleSpec
from floe_dagster.execution.run_keys import RunKeyGuard, schedule_owner, skip_reason_text
from floe_dagster.loading.plan import ProductPlan
from floe_dagster.names import PRODUCT_TAG, TRIGGER_TAG, model_key, table_key


def build_schedules(
    plan: ProductPlan, partitions: Mapping[str, PartitionsDefinition]
) -> list[ScheduleDefinition]:
    specs = plan.files.artifacts.dagster.effective_schedules(plan.name)
    return [_schedule(plan, spec, partitions) for spec in specs]


def _schedule(
    plan: ProductPlan, spec: ScheduleSpec, partitions: Mapping[str, PartitionsDefinition]
) -> ScheduleDefinition:
    artifacts = plan.files.artifacts
    prefix = artifacts.asset_key_prefix
    nodes = plan.manifest["nodes"]
    sources = {s.name: s for s in artifacts.dagster.ingestion}
    keys = [
        model_key(prefix, nodes[uid]["name"]) for uid in sorted(plan.schedule_models[spec.name])
    ]
    for name in spec.ingestion:
        keys += [table_key(prefix, sources[name].dbt_source, t) for t in sources[name].tables]
    scheme = plan.schedule_schemes.get(spec.name)
    partitions_def = partitions[scheme] if scheme else None
    job = define_asset_job(
        name=f"{spec.name}_job",
        selection=AssetSelection.assets(*keys),
        tags={PRODUCT_TAG: plan.name, TRIGGER_TAG: f"schedule:{spec.name}"},
    )
    status = (
        DefaultScheduleStatus.RUNNING
        if spec.default_status == "running"
        else DefaultScheduleStatus.STOPPED
    )
    common: dict[str, Any] = dict(
        name=spec.name,
        cron_schedule=spec.cron,
        execution_timezone=spec.timezone,
        job=job,
        description=spec.description,
        default_status=status,
    )
    guard = RunKeyGuard.for_plan(plan)

    def checked_tick(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        tick = context.scheduled_execution_time
        if partitions_def is None:
            planned = guard.plan(keys, trigger=f"schedule:{spec.name}@{tick.isoformat()}")
        else:
            complete = partitions_def.get_partition_keys(current_time=tick)
            if not complete:
                return SkipReason(f"no complete {scheme} partition yet")
            planned = guard.plan(keys, trigger=f"schedule:{spec.name}", partition=complete[-1])
        requests, skipped = guard.request(context, [planned], schedule_owner(spec.name, tick))
        return requests[0] if requests else SkipReason(skip_reason_text(skipped))

    return ScheduleDefinition(**common, execution_fn=checked_tick)
