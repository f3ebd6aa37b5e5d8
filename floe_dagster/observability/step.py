"""The one hook every step runs inside; lineage and telemetry attach here."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from dagster import AssetExecutionContext

from floe_dagster.loading.plan import ProductPlan


class StepObserver:
    """Watches one step. `watch_dbt` passes dbt's event stream through unchanged."""

    def watch_dbt(self, events: Iterable[Any]) -> Iterator[Any]:
        yield from events


@contextmanager
def observed_step(context: AssetExecutionContext, plan: ProductPlan) -> Iterator[StepObserver]:
    """Wraps a step's work; never lets observability fail or stall the step."""
    yield StepObserver()
