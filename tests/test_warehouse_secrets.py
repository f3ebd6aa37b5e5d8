"""The warehouse password exists only as a reference: env_var() in the profile, secretKeyRef on
Kubernetes (step Jobs and the Helm code server); its value is read inside the step, never rendered.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from dagster_k8s import construct_dagster_k8s_job
from dagster_k8s.job import DagsterK8sJobConfig, UserDefinedDagsterK8sConfig
from floe_core.schemas.compiled_artifacts import CompiledArtifacts as FloeCompiledArtifacts
from kubernetes.client import ApiClient

from floe_dagster import FloeConfigError, load_product_definitions
from floe_dagster.execution.resources import build_warehouse
from floe_dagster.loading.plan import build_plan
from floe_dagster.loading.project import read_product_files
from floe_dagster.plugin import DagsterOrchestratorPlugin
from tests.conftest import REPO, VENV_BIN, floe_dagster_settings
from tests.k8s_standin import schema_errors
from tests.test_helm import CHART, RELEASE, helm_binary

PRODUCT = REPO / "products" / "customer_360_postgres"
IMAGE = "registry.example/floe/customer_360:1.0.0"
PASSWORD = f"pw-{uuid.uuid4().hex}"
SECRET_REF = {"name": "WAREHOUSE_PASSWORD", "secret_name": "warehouse", "key": "password"}


@pytest.fixture(autouse=True)
def known_password(monkeypatch) -> None:
    """The password is in the environment of everything these tests build or render."""
    monkeypatch.setenv("WAREHOUSE_PASSWORD", PASSWORD)


def postgres_copy(root: Path, change=None) -> Path:
    """A copy of customer_360_postgres (links followed), its artifacts changed by `change`."""
    if not (PRODUCT / "target" / "manifest.json").exists():
        subprocess.run([VENV_BIN / "floe-dagster", "prepare", str(PRODUCT)], check=True)
    product = root / "customer_360_postgres"
    shutil.copytree(PRODUCT, product, ignore=shutil.ignore_patterns("logs", "__pycache__"))
    path = product / "compiled_artifacts.json"
    data = json.loads(path.read_text())
    if change:
        change(data)
    path.write_text(json.dumps(data, indent=1))
    return product


def on_kubernetes(data: dict) -> None:
    floe_dagster_settings(data)["execution"] = {
        "mode": "k8s",
        "k8s": {"image": IMAGE, "namespace": "analytics", "secret_env": [SECRET_REF]},
    }


@pytest.fixture(scope="module")
def k8s_product(tmp_path_factory) -> Path:
    return postgres_copy(tmp_path_factory.mktemp("pg_k8s"), on_kubernetes)


def test_the_postgres_artifacts_validate_under_floes_own_model(k8s_product):
    for product in (PRODUCT, k8s_product):
        data = json.loads((product / "compiled_artifacts.json").read_text())
        assert FloeCompiledArtifacts.model_validate(data).plugins.compute.type == "postgres"


def test_a_step_job_carries_the_password_only_as_a_secret_key_ref(k8s_product):
    job = (
        load_product_definitions("customer_360", k8s_product)
        .get_repository_def()
        .get_job("daily_job")
    )
    tags = job.graph.node_named("ingest_shop_orders").definition.tags
    body = ApiClient().sanitize_for_serialization(
        construct_dagster_k8s_job(
            job_config=DagsterK8sJobConfig(
                job_image=IMAGE,
                dagster_home="/opt/dagster/dagster_home",
                instance_config_map="dagster-instance",
            ),
            args=["dagster", "api", "execute_step"],
            job_name="dagster-step-0123456789abcdef",
            user_defined_k8s_config=UserDefinedDagsterK8sConfig.from_dict(
                json.loads(tags["dagster-k8s/config"])
            ),
            component="step_worker",
        )
    )
    assert schema_errors(body) == []
    (container,) = body["spec"]["template"]["spec"]["containers"]
    (env,) = [e for e in container["env"] if e["name"] == "WAREHOUSE_PASSWORD"]
    assert env == {
        "name": "WAREHOUSE_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "warehouse", "key": "password"}},
    }
    executor_config = job.executor_def.apply_config_mapping({}).value
    assert PASSWORD not in json.dumps(body) + json.dumps(tags) + json.dumps(executor_config)


def test_the_helm_code_server_gets_the_password_only_as_a_secret_key_ref(k8s_product, tmp_path):
    values = DagsterOrchestratorPlugin.for_product(k8s_product).get_helm_values()
    (values_file := tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    done = subprocess.run(
        [helm_binary(), "template", RELEASE, str(CHART), "-f", str(values_file)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    objects = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    assert all(schema_errors(o) == [] for o in objects)
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "WAREHOUSE_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "warehouse", "key": "password"}}} in env  # fmt: skip
    assert PASSWORD not in done.stdout + json.dumps(values)


def test_the_password_reaches_dlt_only_inside_the_step(k8s_product):
    warehouse = build_warehouse(build_plan(read_product_files("customer_360", k8s_product)))
    assert PASSWORD not in warehouse.model_dump_json()
    credentials = warehouse.dlt_destination().config_params["credentials"]
    assert credentials["password"] == PASSWORD


def test_a_literal_password_in_a_server_profile_is_named_with_the_fix(tmp_path):
    def own_profiles(data: dict) -> None:
        data["dbt_profiles"] = None

    product = postgres_copy(tmp_path, own_profiles)
    output = {"type": "postgres", "host": "db", "port": 5432, "user": "floe"}
    profile = {"target": "dev", "outputs": {"dev": {**output, "dbname": "x", "schema": "main"}}}
    profile["outputs"]["dev"]["password"] = "hunter2"
    (product / "profiles.yml").write_text(yaml.safe_dump({"customer_360": profile}))
    with pytest.raises(FloeConfigError) as raised:
        load_product_definitions("customer_360", product)
    message = str(raised.value)
    assert "profiles.yml: customer_360.outputs.dev.password: is not an env var reference" in message
    assert "env_var('WAREHOUSE_PASSWORD')" in message
    assert "hunter2" not in message
