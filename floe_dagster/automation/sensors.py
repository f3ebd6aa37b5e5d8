"""The product's sensors."""

from __future__ import annotations

from dagster import SensorDefinition

from floe_dagster.loading.plan import ProductPlan


def build_sensors(plan: ProductPlan) -> list[SensorDefinition]:
    return []
