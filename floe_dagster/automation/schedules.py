"""Cron schedules from the artifacts, each with its own asset job."""

from __future__ import annotations

from dagster import AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job

from floe_dagster.assets.keys import model_key, table_key
from floe_dagster.loading.plan import ProductPlan


def build_schedules(plan: ProductPlan) -> list[ScheduleDefinition]:
    artifacts = plan.files.artifacts
    prefix = artifacts.asset_key_prefix
    nodes = plan.manifest["nodes"]
    sources = {s.name: s for s in artifacts.dagster.ingestion}
    schedules = []
    for spec in artifacts.dagster.schedules:
        keys = [model_key(prefix, nodes[uid]["name"]) for uid in sorted(plan.schedule_models[spec.name])]
        for name in spec.ingestion:
            keys += [table_key(prefix, sources[name].dbt_source, t) for t in sources[name].tables]
        job = define_asset_job(
            name=f"{spec.name}_job",
            selection=AssetSelection.assets(*keys),
            tags={"floe/product": plan.name, "floe/trigger": f"schedule:{spec.name}"},
        )
        schedules.append(
            ScheduleDefinition(
                name=spec.name,
                cron_schedule=spec.cron,
                execution_timezone=spec.timezone,
                job=job,
                description=spec.description,
                default_status=DefaultScheduleStatus.RUNNING
                if spec.default_status == "running"
                else DefaultScheduleStatus.STOPPED,
            )
        )
    return schedules
