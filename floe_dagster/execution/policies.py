"""Step-level execution settings from the artifacts: retries, per-step Job config and the executor."""

from __future__ import annotations

from dagster import (
    Backoff,
    ExecutorDefinition,
    RetryPolicy,
    in_process_executor,
    multiprocess_executor,
)

from floe_dagster.contract.dagster_section import ExecutionConfig
from floe_dagster.execution.k8s import k8s_executor, step_k8s_config, workload_resources
from floe_dagster.names import STEP_CONFIG_TAG


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
    if execution.mode != "k8s" or execution.k8s is None:
        return {}
    resources = workload_resources(execution, workload_size)
    return {STEP_CONFIG_TAG: step_k8s_config(execution.k8s, resources, labels)}


def build_executor(
    execution: ExecutionConfig, single_writer: bool, pass_env: tuple[str, ...] = ()
) -> ExecutorDefinition:
    """A Job per step on Kubernetes, a process per step locally; one step at a time when the
    warehouse allows only one writer (DuckDB). Locally that is the run's own process: the
    steps go one by one anyway, and a process per step would pay a Python start and a
    definitions load each (2.5x a demo run's CPU). `pass_env`: run-worker variables step
    pods inherit (local step processes inherit the whole environment anyway)."""
    max_concurrent = 1 if single_writer else execution.max_concurrent_steps
    if execution.mode == "k8s" and execution.k8s is not None:
        return k8s_executor(execution.k8s, max_concurrent, pass_env)
    if single_writer:
        return in_process_executor
    return multiprocess_executor.configured({"max_concurrent": max_concurrent})
