"""Each step's Kubernetes Job comes from its workload size, with Dagster doing the retries."""

from __future__ import annotations

import json
import shutil

import pytest
from dagster_k8s import construct_dagster_k8s_job
from dagster_k8s.job import DagsterK8sJobConfig, UserDefinedDagsterK8sConfig
from kubernetes.client import ApiClient

from floe_dagster import load_product_definitions
from tests.conftest import DEMO, floe_dagster_settings
from tests.k8s_standin import schema_errors

IMAGE = "registry.example/floe/customer_360:1.0.0"


def k8s_mode(data: dict) -> None:
    floe_dagster_settings(data)["execution"] = {
        "mode": "k8s",
        "retries": {"max_retries": 2},
        "workload_sizes": {
            "large": {
                "cpu_request": "3",
                "cpu_limit": "6",
                "memory_request": "12Gi",
                "memory_limit": "24Gi",
            }
        },
        "k8s": {
            "image": IMAGE,
            "namespace": "analytics",
            "env_secrets": ["warehouse"],
            "ttl_seconds_after_finished": 3600,
        },
    }
    floe_dagster_settings(data)["transforms"].append(
        {"select": "path:models/marts", "workload_size": "large"}
    )
    floe_dagster_settings(data)["ingestion"][1]["workload_size"] = "medium"


@pytest.fixture(scope="module")
def job(tmp_path_factory, demo_manifest):
    product = tmp_path_factory.mktemp("k8s_step") / "customer_360"
    shutil.copytree(
        DEMO, product, ignore=shutil.ignore_patterns("warehouse", "logs", "__pycache__")
    )
    artifacts = json.loads((product / "compiled_artifacts.json").read_text())
    k8s_mode(artifacts)
    (product / "compiled_artifacts.json").write_text(json.dumps(artifacts))
    return (
        load_product_definitions("customer_360", product)
        .get_repository_def()
        .get_job("customer_360_daily_job")
    )


def asset_steps(job) -> list:
    """The dbt and ingestion steps (the ones the artifacts size)."""
    return [n for n in job.graph.nodes if n.name.startswith(("dbt_", "ingest_"))]


def step_config(job, op: str) -> dict:
    return json.loads(job.graph.node_named(op).definition.tags["dagster-k8s/config"])


def test_local_mode_on_duckdb_has_no_kubernetes_config_and_runs_steps_in_the_runs_process(
    product_dir,
):
    job = (
        load_product_definitions("customer_360", product_dir)
        .get_repository_def()
        .get_job("customer_360_daily_job")
    )
    assert job.executor_def.name == "in_process"  # one writer: one step at a time anyway
    assert all("dagster-k8s/config" not in node.definition.tags for node in job.graph.nodes)


def test_k8s_mode_runs_each_step_with_the_k8s_job_executor(job):
    assert job.executor_def.name == "k8s"


def test_step_resources_follow_the_workload_size_of_its_selection(job):
    by_op = {
        n.name: step_config(job, n.name)["container_config"]["resources"] for n in asset_steps(job)
    }
    assert by_op["ingest_shop_orders"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert by_op["ingest_shop_customers"]["limits"] == {
        "cpu": "1",
        "memory": "1Gi",
    }  # small, the default
    large = [op for op in by_op if "large" in op]  # the marts' dbt steps
    assert large and all(by_op[op]["limits"] == {"cpu": "6", "memory": "24Gi"} for op in large)


def test_step_jobs_never_retry_in_kubernetes_and_are_cleaned_up_after_an_hour(job):
    for node in asset_steps(job):
        spec = step_config(job, node.name)["job_spec_config"]
        assert spec == {"backoff_limit": 0, "ttl_seconds_after_finished": 3600}
        assert node.definition.retry_policy.max_retries == 2


def test_step_jobs_are_labelled_with_product_and_step(job):
    config = step_config(job, "ingest_shop_orders")
    labels = {"floe/product": "customer_360", "floe/step": "ingest_shop_orders"}
    assert config["job_metadata"]["labels"] == labels
    assert config["pod_template_spec_metadata"]["labels"] == labels


def test_the_job_dagster_k8s_builds_from_a_step_config_validates_against_the_openapi_schema(job):
    body = construct_dagster_k8s_job(
        job_config=DagsterK8sJobConfig(
            job_image=IMAGE,
            dagster_home="/opt/dagster/dagster_home",
            instance_config_map="dagster-instance",
            env_secrets=["warehouse"],
        ),
        args=["dagster", "api", "execute_step"],
        job_name="dagster-step-0123456789abcdef",
        user_defined_k8s_config=UserDefinedDagsterK8sConfig.from_dict(
            step_config(job, "ingest_shop_orders")
        ),
        component="step_worker",
    )
    assert schema_errors(ApiClient().sanitize_for_serialization(body)) == []


def test_step_pods_inherit_the_trace_context_only_when_telemetry_is_on(product_dir, edit_artifacts):
    from floe_dagster import load_product_definitions

    def k8s(data, telemetry):
        floe_dagster_settings(data)["execution"] = {
            "mode": "k8s",
            "k8s": {"image": "floe/c360:1", "env_vars": ["A"]},
        }
        data["observability"]["telemetry"]["enabled"] = telemetry

    def env_vars(project):
        executor = (
            load_product_definitions("customer_360", project)
            .get_repository_def()
            .get_job("daily_job")
            .executor_def
        )
        return executor.apply_config_mapping({}).value["config"]["env_vars"]

    assert env_vars(edit_artifacts(lambda d: k8s(d, True))) == ["A", "TRACEPARENT"]
    assert env_vars(edit_artifacts(lambda d: k8s(d, False))) == ["A"]
