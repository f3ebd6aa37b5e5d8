"""The run span, owned by the executor: the one part of Dagster that lives exactly as long as a run.

Wrapping whichever executor the product uses (multiprocess locally, one Job per step on
Kubernetes) puts the run span in the run worker, from before the first step starts until
after the last one ends, with no daemon, sensor or "last step" guesswork. While the run
executes, the run worker's environment carries `TRACEPARENT`, which step subprocesses
inherit and step Jobs can copy (dagster-k8s `env_vars: ["TRACEPARENT"]`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from dagster import DagsterRun, Executor, ExecutorDefinition, InitExecutorContext
from opentelemetry.context import Context
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Status, StatusCode

from floe_dagster.contract import CompiledArtifacts
from floe_dagster.loading.plan import ProductPlan
from floe_dagster.names import (
    PARTITION_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    range_label,
)
from floe_dagster.observability.guard import quietly
from floe_dagster.observability.tracing import (
    TRACEPARENT,
    open_tracing,
    run_span_id,
    trace_env,
    trace_id,
)

_NO_PARENT = "00-00000000000000000000000000000000-0000000000000000-00"  # W3C: invalid, so ignored


def traced_executor(plan: ProductPlan, executor_def: ExecutorDefinition) -> ExecutorDefinition:
    """`executor_def` with a run span around each run; unchanged when telemetry is off."""
    artifacts = plan.files.artifacts
    if not artifacts.observability.telemetry.enabled:
        return executor_def
    create = executor_def.executor_creation_fn
    if create is None:
        return executor_def

    def create_traced(init_context: InitExecutorContext) -> Executor:
        return _RunSpanExecutor(lambda: create(init_context), artifacts, plan.name)

    return ExecutorDefinition(
        name=executor_def.name,
        description=executor_def.description,
        # the configured schema itself (it carries `configured()`'s mapping); typed narrower
        config_schema=executor_def.config_schema,  # type: ignore[arg-type]
        requirements=executor_def.get_requirements,
        executor_creation_fn=create_traced,
    )


class _RunSpanExecutor(Executor):
    """Runs the product's executor inside the run span.

    The inner executor is made again once the run's `TRACEPARENT` is exported, because
    executors read the variables they pass on when they are made (dagster-k8s resolves
    `env_vars` then). Before that, a stand-in value lets Dagster ask for the retry mode.
    """

    def __init__(
        self, create: Callable[[], Executor], artifacts: CompiledArtifacts, product: str
    ) -> None:
        self._create = create
        with _exported({TRACEPARENT: os.environ.get(TRACEPARENT, _NO_PARENT)}):
            self._inner = create()
        self._artifacts = artifacts
        self._product = product

    @property
    def retries(self) -> Any:
        return self._inner.retries

    @property
    def step_dependency_config(self) -> Any:
        return self._inner.step_dependency_config

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[Any]:
        with _run_span(self._artifacts, self._product, plan_context.dagster_run) as failed_steps:
            for event in self._create().execute(plan_context, execution_plan):
                if event.is_step_failure:
                    failed_steps.append(str(event.step_key))
                yield event


class _RunIds(IdGenerator):
    """Gives the run span the ids every step derives for its parent."""

    def __init__(self, run_id: str) -> None:
        self._trace_id = trace_id(run_id)
        self._span_id = run_span_id(run_id)

    def generate_trace_id(self) -> int:
        return self._trace_id

    def generate_span_id(self) -> int:
        return self._span_id


@contextmanager
def _run_span(artifacts: CompiledArtifacts, product: str, run: DagsterRun) -> Iterator[list[str]]:
    """Yields the list the caller fills with failed step keys; the span ends when the run does."""
    failed_steps: list[str] = []
    with _exported(trace_env(artifacts, run.run_id)):
        tracing = open_tracing(artifacts, run.run_id, _RunIds(run.run_id))
        if tracing is None:
            yield failed_steps
            return
        span = tracing.tracer.start_span(
            f"run {product}", context=Context(), attributes=_run_attributes(product, run)
        )
        try:
            yield failed_steps
        except BaseException as error:
            span.record_exception(error)
            failed_steps.append(type(error).__name__)
            raise
        finally:
            if failed_steps:
                span.set_status(Status(StatusCode.ERROR, f"failed: {', '.join(failed_steps)}"))
            span.end()
            quietly("Sending the run span", tracing.close)


@contextmanager
def _exported(env: dict[str, str]) -> Iterator[None]:
    """`env` in this process's environment (so in every process it starts) while the run runs."""
    previous = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_attributes(product: str, run: DagsterRun) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "floe.product": product,
        "dagster.run_id": run.run_id,
        "dagster.job": run.job_name,
    }
    if run.asset_selection:
        attributes["dagster.asset_keys"] = sorted(k.to_user_string() for k in run.asset_selection)
    start, end = run.tags.get(RANGE_START_TAG), run.tags.get(RANGE_END_TAG)
    partition = run.tags.get(PARTITION_TAG) or (range_label(start, end) if start and end else None)
    if partition:
        attributes["dagster.partition"] = partition
    return attributes
