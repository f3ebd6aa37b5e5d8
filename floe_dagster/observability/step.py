"""The one hook every step runs inside: lineage events and spans for what the step does.

Each asset the step materializes is an OpenLineage job (`<product>.<asset key>`), with a
START when the step begins and a COMPLETE or FAIL when it ends, its parent being the Dagster
run. The step is a span under the run span; each dbt model it builds is a span under it.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property, partial
from typing import Any

from dagster import AssetExecutionContext, AssetKey
from dagster_dbt import DbtCliInvocation
from openlineage.client.facet_v2 import RunFacet, error_message_run, job_type_job, parent_run
from opentelemetry.trace import Span, Status, StatusCode, set_span_in_context

from floe_dagster.loading.plan import ProductPlan
from floe_dagster.names import range_label
from floe_dagster.observability.datasets import AssetLineage, product_lineage
from floe_dagster.observability.dbt_results import ModelResult, model_results
from floe_dagster.observability.guard import quietly
from floe_dagster.observability.lineage import (
    PRODUCER,
    lineage_enabled,
    new_run_id,
    run_event,
    send,
)
from floe_dagster.observability.tracing import Tracing, open_tracing, run_context


class StepObserver:
    """Watches one step. `watch_dbt` streams a dbt invocation's events through unchanged."""

    def __init__(self, context: AssetExecutionContext, plan: ProductPlan) -> None:
        self._context = context
        self._plan = plan
        self._artifacts = plan.files.artifacts
        self._models: dict[str, ModelResult] = {}
        self._assets: list[tuple[AssetKey, AssetLineage, str]] = []
        self._tracing: Tracing | None = None
        self._span: Span | None = None

    def watch_dbt(self, invocation: DbtCliInvocation) -> Iterator[Any]:
        """Pass the invocation's Dagster events through; afterwards read how each model went."""
        try:
            yield from invocation.stream()
        finally:
            quietly("Reading dbt run results", lambda: self._read_dbt(invocation))

    def _start(self) -> None:
        context = self._context
        if lineage_enabled(self._artifacts):
            self._assets = [
                (key, self._lineage.get(key, AssetLineage((), ())), new_run_id())
                for key in sorted(context.selected_asset_keys, key=lambda k: k.path)
            ]
            for key, datasets, ol_run_id in self._assets:
                self._emit("START", key, datasets, ol_run_id)
        self._tracing = open_tracing(self._artifacts, context.run_id)
        if self._tracing is not None:
            self._span = self._tracing.tracer.start_span(
                f"step {context.op_def.name}",
                context=run_context(context.run_id),
                attributes={
                    **self._attributes(),
                    "dagster.step_key": context.op_def.name,
                    "dagster.asset_keys": [k.to_user_string() for k in context.selected_asset_keys],
                    "dagster.retry_number": context.retry_number,
                },
            )

    def _finish(self, error: BaseException | None) -> None:
        for key, datasets, ol_run_id in self._assets:
            model = self._models.get(datasets.dbt_unique_id or "")
            if error is None or (model is not None and model.succeeded):
                self._emit("COMPLETE", key, datasets, ol_run_id)
            else:
                message = (model.message if model else None) or str(error)
                self._emit("FAIL", key, datasets, ol_run_id, error, message)
        if self._span is not None:
            if error is not None:
                self._span.record_exception(error)
                self._span.set_status(Status(StatusCode.ERROR, str(error)[:500]))
            self._span.end()
        if self._tracing is not None:
            self._tracing.close()

    @cached_property
    def _lineage(self) -> dict[AssetKey, AssetLineage]:
        return product_lineage(self._plan)

    def _read_dbt(self, invocation: DbtCliInvocation) -> None:
        try:
            run_results = invocation.get_artifact("run_results.json")
        except FileNotFoundError:  # dbt stopped before running anything (e.g. a parse error)
            return
        self._models = model_results(run_results)
        if self._tracing is None or self._span is None:
            return
        keys = {d.dbt_unique_id: k for k, d in self._lineage.items() if d.dbt_unique_id}
        parent = set_span_in_context(self._span)
        nodes = self._plan.manifest["nodes"]
        for uid, model in self._models.items():
            attributes: dict[str, Any] = {
                **self._attributes(),
                "dbt.unique_id": uid,
                "dbt.status": model.status,
            }
            if uid in keys:
                attributes["dagster.asset_key"] = keys[uid].to_user_string()
            if model.rows_affected is not None:
                attributes["dbt.rows_affected"] = model.rows_affected
            span = self._tracing.tracer.start_span(
                f"model {nodes[uid]['name'] if uid in nodes else uid}",
                context=parent,
                attributes=attributes,
                start_time=_nanos(model.started_at),
            )
            if model.status == "error":
                span.set_status(Status(StatusCode.ERROR, (model.message or model.status)[:500]))
            span.end(end_time=_nanos(model.completed_at or model.started_at))

    def _emit(
        self,
        event_type: str,
        key: AssetKey,
        datasets: AssetLineage,
        ol_run_id: str,
        error: BaseException | None = None,
        message: str | None = None,
    ) -> None:
        facets: dict[str, RunFacet] = {"parent": self._parent_facet()}
        if error is not None:
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=message or str(error),
                programmingLanguage="python",
                stackTrace="".join(traceback.format_exception(error)),
            )
        send(
            self._artifacts,
            run_event(
                self._artifacts,
                event_type,
                self._job_name(key),
                list(datasets.inputs),
                list(datasets.outputs) if event_type != "FAIL" else [],
                ol_run_id,
                run_facets=facets,
                job_facets={
                    "jobType": job_type_job.JobTypeJobFacet(
                        processingType="BATCH",
                        integration="DAGSTER",
                        jobType="ASSET",
                        producer=PRODUCER,
                    )
                },
            ),
        )

    def _job_name(self, key: AssetKey) -> str:
        """`<product>.<asset key without the product prefix>`, e.g. `customer_360.stg_orders`."""
        prefix = self._artifacts.asset_key_prefix
        path = key.path[len(prefix) :] if key.path[: len(prefix)] == prefix else key.path
        return ".".join([self._plan.name, *path])

    def _parent_facet(self) -> parent_run.ParentRunFacet:
        """The Dagster run, as the job `<product>.<dagster job>` in the lineage namespace."""
        namespace = self._artifacts.observability.lineage_namespace
        name = f"{self._plan.name}.{self._context.job_name}"
        run_id = self._context.run_id
        return parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_id),
            job=parent_run.Job(namespace=namespace, name=name),
            root=parent_run.Root(
                run=parent_run.RootRun(runId=run_id),
                job=parent_run.RootJob(namespace=namespace, name=name),
            ),
            producer=PRODUCER,
        )

    def _attributes(self) -> dict[str, Any]:
        attributes = {"floe.product": self._plan.name, "dagster.run_id": self._context.run_id}
        partition = partition_label(self._context)
        if partition:
            attributes["dagster.partition"] = partition
        return attributes


def partition_label(context: AssetExecutionContext) -> str | None:
    """The step's partition key, or `first...last` for a range; None when unpartitioned."""
    if context.assets_def.partitions_def is None:
        return None
    if context.has_partition_key:
        return context.partition_key
    if context.has_partition_key_range:
        keys = context.partition_key_range
        return range_label(keys.start, keys.end)
    return None


@contextmanager
def observed_step(context: AssetExecutionContext, plan: ProductPlan) -> Iterator[StepObserver]:
    """Wraps a step's work; never lets observability fail or stall the step."""
    observer = StepObserver(context, plan)
    quietly("Starting lineage and telemetry for the step", observer._start)
    try:
        yield observer
    except BaseException as error:
        quietly("Finishing lineage and telemetry for the step", partial(observer._finish, error))
        raise
    quietly("Finishing lineage and telemetry for the step", lambda: observer._finish(None))


def _nanos(moment: datetime | None) -> int:
    return int((moment or datetime.now(UTC)).timestamp() * 1e9)
