"""Step-level execution settings from the artifacts: retries and the executor."""

from __future__ import annotations

from dagster import Backoff, ExecutorDefinition, RetryPolicy, multiprocess_executor

from floe_dagster.contract.dagster_section import ExecutionConfig


def retry_policy(execution: ExecutionConfig) -> RetryPolicy | None:
    retries = execution.retries
    if retries.max_retries == 0:
        return None
    return RetryPolicy(
        max_retries=retries.max_retries,
        delay=retries.delay_seconds,
        backoff=Backoff.EXPONENTIAL if retries.backoff == "exponential" else Backoff.LINEAR,
    )


def step_op_tags(execution: ExecutionConfig, workload_size: str, labels: dict[str, str]) -> dict:
    """Op tags for one step; on Kubernetes they carry the step Job's `dagster-k8s/config`."""
    return {}


def build_executor(execution: ExecutionConfig, single_writer: bool) -> ExecutorDefinition:
    """Multiprocess locally; one step at a time when the warehouse allows only one writer (DuckDB)."""
    max_concurrent = 1 if single_writer else execution.max_concurrent_steps
    return multiprocess_executor.configured({"max_concurrent": max_concurrent})
