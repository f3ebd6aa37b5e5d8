"""A run on Kubernetes: K8sRunLauncher makes a run Job, k8s_job_executor a Job per step.

There is no cluster here: tests/k8s_standin answers the Kubernetes API on loopback and
runs each Job's container command as a local process. Everything else is real: the
instance is deploy/dagster-instance.k8s.yaml on PostgreSQL (cluster access pointed at the
stand-in), the run is launched with `dagster job launch`, and dbt and dlt write the
production shape's warehouse: customer_360_postgres, on a database and role of its own,
the role's password reaching the step pods only through a Secret. With a server warehouse
the steps go in parallel. One ingestion step's process dies on its first attempt, as an
OOM-killed pod would.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import kubernetes
import psycopg2
import pytest
import yaml
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

from floe_dagster import load_product_definitions
from tests.conftest import REPO, cli_env, floe_dagster_settings, new_postgres_database
from tests.k8s_standin import KubernetesStandIn, schema_errors
from tests.test_postgres_warehouse import (
    JOB,
    PRODUCT,
    Warehouse,
    overlapping,
    prepared,  # noqa: F401 (autouse: the product's dbt-postgres manifest)
    step_intervals,
    warehouse,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

NAMESPACE = "floe-e2e"
IMAGE = "registry.example/floe/customer_360:e2e"
PARTITION = "2026-01-05"
WAREHOUSE_SECRET = {"name": "WAREHOUSE_PASSWORD", "secret_name": "warehouse", "key": "password"}

FLAKY_SOURCE = '''
"""The shop source, except that the first attempt's process dies (exit 137, like an OOM kill)."""
import importlib.util
import os
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location("flaky_shop", Path(__file__).with_name("shop.py"))
_shop = sys.modules["flaky_shop"] = importlib.util.module_from_spec(_spec)  # dlt looks its module up
_spec.loader.exec_module(_shop)
CRASHED = Path(__file__).with_name("crashed-once")


def shop_source(**window):
    if not CRASHED.exists():
        CRASHED.touch()
        os._exit(137)
    return _shop.shop_source(**window)
'''


@dataclass
class K8sRun:
    status: DagsterRunStatus
    jobs: list[dict]
    rejected: list
    warehouse: Warehouse
    logs: str
    steps: set[str]
    step_intervals: dict[str, tuple[float, float]]


def _product(root: Path, wh: Warehouse) -> Path:
    """customer_360_postgres (links followed), on Kubernetes: the warehouse's address in the
    step pods' env, its password from the Secret `warehouse`."""
    product = root / "customer_360"
    shutil.copytree(PRODUCT, product, ignore=shutil.ignore_patterns("logs", "__pycache__"))
    (product / "ingestion" / "flaky.py").write_text(FLAKY_SOURCE)
    path = product / "compiled_artifacts.json"
    artifacts = json.loads(path.read_text())
    section = floe_dagster_settings(artifacts)
    section["ingestion"][0]["source"] = "ingestion.flaky:shop_source"
    section["transforms"].append({"select": "country_revenue", "workload_size": "medium"})
    section["execution"] = {
        "mode": "k8s",
        "retries": {"max_retries": 1, "delay_seconds": 0},
        "k8s": {
            "image": IMAGE,
            "namespace": NAMESPACE,
            "env_vars": [
                f"{name}={value}" for name, value in wh.env.items() if name != "WAREHOUSE_PASSWORD"
            ],
            "secret_env": [WAREHOUSE_SECRET],
        },
    }
    path.write_text(json.dumps(artifacts, indent=1))
    return product


def _instance_home(root: Path, kubeconfig: Path) -> Path:
    """deploy/dagster-instance.k8s.yaml, its cluster access pointed at the stand-in and runs
    launched straight away (no daemon here to dequeue them)."""
    home = root / "dagster_home"
    home.mkdir()
    instance = yaml.safe_load((REPO / "deploy" / "dagster-instance.k8s.yaml").read_text())
    instance["run_coordinator"] = {
        "module": "dagster.core.run_coordinator",
        "class": "DefaultRunCoordinator",
    }
    launcher = instance["run_launcher"]["config"]
    launcher.update(
        load_incluster_config=False,
        kubeconfig_file=str(kubeconfig),
        dagster_home=str(home),
        job_namespace=NAMESPACE,
    )
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    return home


@pytest.fixture(scope="module")
def k8s_run(tmp_path_factory, demo_manifest) -> K8sRun:
    root = tmp_path_factory.mktemp("k8s")
    with new_postgres_database() as database, warehouse() as wh:
        yield from _run_on_the_standin(root, database, wh)


def _run_on_the_standin(root: Path, database: str, wh: Warehouse) -> Iterator[K8sRun]:
    standin = KubernetesStandIn().start()
    try:
        product = _product(root, wh)
        kubeconfig = standin.write_kubeconfig(root / "kubeconfig")
        home = _instance_home(root, kubeconfig)
        pg = urlparse(database)
        password = pg.password or "unused-with-trust-auth"
        env = cli_env(
            DAGSTER_HOME=str(home),
            DAGSTER_PG_HOST=pg.hostname,
            DAGSTER_PG_PORT=str(pg.port or 5432),
            DAGSTER_PG_USER=pg.username or "postgres",
            DAGSTER_PG_DB=pg.path.lstrip("/"),
            DAGSTER_PG_PASSWORD=password,  # the webserver's and daemon's, from the same secret
            DAGSTER_CURRENT_IMAGE=IMAGE,  # what the chart's code server sets
        )
        core = kubernetes.client.CoreV1Api(
            kubernetes.config.new_client_from_config(str(kubeconfig))
        )
        core.create_namespaced_secret(
            NAMESPACE,
            {
                "metadata": {"name": "dagster-postgresql-secret"},
                "stringData": {"postgresql-password": password},
            },
        )
        core.create_namespaced_secret(
            NAMESPACE,
            {
                "metadata": {"name": WAREHOUSE_SECRET["secret_name"]},
                "stringData": {WAREHOUSE_SECRET["key"]: wh.password},
            },
        )
        launched = subprocess.run(
            [
                "dagster",
                "job",
                "launch",
                "-f",
                str(product / "definitions.py"),
                "-d",
                str(product),
                "-j",
                JOB,
                "--tags",
                json.dumps({"dagster/partition": PARTITION}),
            ],
            cwd=product,
            env=env,
            capture_output=True,
            text=True,
            timeout=420,  # the CLI loads the product, under a loaded CI machine
        )
        assert launched.returncode == 0, launched.stdout + launched.stderr

        with pytest.MonkeyPatch.context() as patch:
            for name in (
                "DAGSTER_PG_HOST",
                "DAGSTER_PG_PORT",
                "DAGSTER_PG_USER",
                "DAGSTER_PG_DB",
                "DAGSTER_PG_PASSWORD",
            ):
                patch.setenv(name, env[name])
            run, events, records = _wait_for_run(home)
        logs = events + "\n".join(
            f"--- {j['metadata']['name']}\n{standin.pod_log(j['metadata']['name'])[-3000:]}"
            for j in standin.created
        )
        jobs = [
            standin.jobs[(NAMESPACE, b["metadata"]["name"])].to_json()
            for b in standin.created
            if (NAMESPACE, b["metadata"]["name"]) in standin.jobs
        ]
        job = load_product_definitions("customer_360", product).get_repository_def().get_job(JOB)
        yield K8sRun(
            run.status,
            jobs,
            list(standin.rejected),
            wh,
            logs,
            {n.name for n in job.graph.nodes},
            step_intervals(records),
        )
    finally:
        standin.stop()


def _wait_for_run(home: Path) -> tuple[DagsterRun, str, list]:
    """The finished run, its event log as text for failure messages, and its records."""
    with DagsterInstance.from_config(str(home)) as instance:
        deadline = time.monotonic() + 900
        while True:
            run = instance.get_runs()[0]
            if run.is_finished or time.monotonic() > deadline:
                records = list(instance.all_logs(run.run_id))
                events = "\n".join(
                    f"{e.dagster_event_type}: {e.message} {e.dagster_event.event_specific_data if e.dagster_event else ''}"
                    for e in records
                )
                return run, events[-20000:], records
            time.sleep(2)


def _component(job: dict) -> str:
    return job["metadata"]["labels"]["app.kubernetes.io/component"]


def _step_jobs(run: K8sRun) -> list[dict]:
    return [j for j in run.jobs if _component(j) == "step_worker"]


def test_the_run_succeeds_and_postgres_has_the_partition_and_the_customers(k8s_run):
    assert k8s_run.status == DagsterRunStatus.SUCCESS, k8s_run.logs
    with psycopg2.connect(k8s_run.warehouse.url) as db, db.cursor() as cur:
        cur.execute("select count(*) from raw.customers")
        assert cur.fetchone() == (1000,)
        cur.execute(
            "select count(*) from main.fct_orders where cast(ordered_at as date) = %s", (PARTITION,)
        )
        assert cur.fetchone()[0] > 0


def test_step_pods_run_at_the_same_time_on_a_server_warehouse(k8s_run):
    assert overlapping(k8s_run.step_intervals), k8s_run.step_intervals


def test_k8s_run_launcher_creates_one_run_job(k8s_run):
    runs = [j for j in k8s_run.jobs if _component(j) == "run_worker"]
    assert len(runs) == 1
    assert runs[0]["spec"]["template"]["spec"]["containers"][0]["args"][:3] == [
        "dagster",
        "api",
        "execute_run",
    ]


def test_every_step_runs_as_its_own_job(k8s_run):
    ops = [j["metadata"]["labels"]["dagster/op"] for j in _step_jobs(k8s_run)]
    assert set(ops) == k8s_run.steps
    assert {"ingest_shop_customers", "dbt_daily_coalesced", "dbt_unpartitioned_medium"} <= set(ops)


def test_a_step_whose_pod_dies_fails_its_job_and_dagster_retries_it_in_a_new_job(k8s_run):
    attempts = [
        j
        for j in _step_jobs(k8s_run)
        if j["metadata"]["labels"]["dagster/op"] == "ingest_shop_customers"
    ]
    assert [bool(j["status"].get("failed")) for j in attempts] == [True, False]
    assert attempts[1]["status"]["succeeded"] == 1
    assert attempts[1]["metadata"]["name"] == attempts[0]["metadata"]["name"] + "-1"


def test_step_jobs_carry_workload_resources_no_kubernetes_retries_a_ttl_and_floe_labels(k8s_run):
    by_op = {j["metadata"]["labels"]["dagster/op"]: j for j in _step_jobs(k8s_run)}
    marts = by_op["dbt_unpartitioned_medium"]
    container = marts["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert container["image"] == IMAGE
    assert by_op["ingest_shop_orders"]["spec"]["template"]["spec"]["containers"][0]["resources"][
        "limits"
    ] == {"cpu": "1", "memory": "1Gi"}
    for job in by_op.values():
        assert (job["spec"]["backoffLimit"], job["spec"]["ttlSecondsAfterFinished"]) == (0, 3600)
    for op in [
        op for op in by_op if op.startswith(("dbt_", "ingest_"))
    ]:  # the steps the artifacts label
        job = by_op[op]
        assert job["metadata"]["labels"]["floe/product"] == "customer_360"
        assert (
            job["spec"]["template"]["metadata"]["labels"]["floe/step"]
            == job["metadata"]["labels"]["dagster/op"]
        )


def test_every_job_body_the_api_received_validates_against_the_openapi_schema(k8s_run):
    assert k8s_run.rejected == []
    assert all(schema_errors(job) == [] for job in k8s_run.jobs)


def test_the_warehouse_password_reaches_step_jobs_only_by_reference(k8s_run):
    assert all(k8s_run.warehouse.password not in json.dumps(job) for job in k8s_run.jobs)
    for job in _step_jobs(k8s_run):
        env = job["spec"]["template"]["spec"]["containers"][0]["env"]
        assert {
            "name": "WAREHOUSE_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "warehouse", "key": "password"}},
        } in env


def test_secrets_reach_jobs_only_by_reference(k8s_run):
    for job in k8s_run.jobs:
        env = job["spec"]["template"]["spec"]["containers"][0]["env"]
        password = next(e for e in env if e["name"] == "DAGSTER_PG_PASSWORD")
        assert password == {
            "name": "DAGSTER_PG_PASSWORD",
            "valueFrom": {
                "secretKeyRef": {"name": "dagster-postgresql-secret", "key": "postgresql-password"}
            },
        }
