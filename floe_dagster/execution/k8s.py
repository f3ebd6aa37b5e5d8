"""Kubernetes execution: one Job per step, sized and labelled from the artifacts.

dagster-k8s does the work; this module only says what each step Job looks like
(`dagster-k8s/config` op tags) and how the run's `k8s_job_executor` is configured. Retries
stay with Dagster's retry policy, so a step Job never retries on its own (`backoffLimit: 0`).
"""

from __future__ import annotations

import re
from typing import Any, cast

from dagster import ExecutorDefinition
from dagster_k8s import k8s_job_executor

from floe_dagster.contract.dagster_section import (
    DEFAULT_WORKLOAD_SIZES,
    ExecutionConfig,
    KubernetesConfig,
    WorkloadSizeName,
)


def workload_resources(execution: ExecutionConfig, workload_size: str) -> dict[str, dict[str, str]]:
    """Kubernetes `resources` for a size: the artifacts' table, else the documented default."""
    name = cast(WorkloadSizeName, workload_size)  # callers check it against the three sizes
    size = execution.workload_sizes.get(name) or DEFAULT_WORKLOAD_SIZES[name]
    return {
        "requests": {"cpu": size.cpu_request, "memory": size.memory_request},
        "limits": {"cpu": size.cpu_limit, "memory": size.memory_limit},
    }


def step_k8s_config(
    k8s: KubernetesConfig, resources: dict[str, dict[str, str]], labels: dict[str, str]
) -> dict[str, Any]:
    """The `dagster-k8s/config` of one step's Job (snake_case, as dagster-k8s reads it)."""
    safe_labels = {key: label_value(value) for key, value in labels.items()}
    container: dict[str, Any] = {"resources": resources}
    if k8s.secret_env:
        container["env"] = [
            {
                "name": ref.name,
                "value_from": {"secret_key_ref": {"name": ref.secret_name, "key": ref.key}},
            }
            for ref in k8s.secret_env
        ]
    return {
        "container_config": container,
        "pod_template_spec_metadata": {"labels": safe_labels},
        "job_metadata": {"labels": safe_labels},
        "job_spec_config": {
            "backoff_limit": 0,
            "ttl_seconds_after_finished": k8s.ttl_seconds_after_finished,
        },
    }


def k8s_executor(
    k8s: KubernetesConfig, max_concurrent: int, pass_env: tuple[str, ...] = ()
) -> ExecutorDefinition:
    """`k8s_job_executor` for the artifacts' image and namespace.

    Cluster access (in-cluster or a kubeconfig) is left to the instance's K8sRunLauncher,
    which the executor inherits it from, so the same definitions run in any cluster.
    `pass_env` names run-worker variables every step pod gets too (the trace context).
    """
    config: dict[str, Any] = {
        "job_image": k8s.image,
        "job_namespace": k8s.namespace,
        "image_pull_policy": k8s.image_pull_policy,
        "env_secrets": list(k8s.env_secrets),
        "env_vars": [*k8s.env_vars, *pass_env],
        "max_concurrent": max_concurrent,
    }
    if k8s.service_account_name:
        config["service_account_name"] = k8s.service_account_name
    return k8s_job_executor.configured(config, name="k8s")


def label_value(value: str) -> str:
    """A valid Kubernetes label value: at most 63 of [A-Za-z0-9._-], alphanumeric at both ends."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", value)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)
