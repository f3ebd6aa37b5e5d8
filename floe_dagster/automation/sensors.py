"""The product's sensors."""

from __future__ import annotations

from collections.abc import Sequence

from dagster import SensorDefinition

from floe_dagster.automation.backfills import build_backfill_sensor
from floe_dagster.automation.healing import build_staleness_sensor
from floe_dagster.loading.plan import ProductPlan


def build_sensors(plan: ProductPlan, partitioned_jobs: Sequence) -> list[SensorDefinition]:
    sensors = (build_backfill_sensor(plan, partitioned_jobs), build_staleness_sensor(plan))
    return [s for s in sensors if s is not None]
