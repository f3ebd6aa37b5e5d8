"""The chart's code server, run as its pod would run, serves the product and its automation.

The Deployment helm/floe-dagster renders (product directory and port set to local ones) is
started locally with exactly the env its spec declares: plain values as written, secrets
resolved the way the kubelet resolves `secretKeyRef` and `envFrom`, and nothing else but the
image's own PATH. The instance is a private PostgreSQL that checks passwords, so the password
must arrive through the secret. A Dagster webserver and a real `dagster-daemon` then reach it
through a workspace built the way the official chart builds it from deploy/dagster-values.yaml
(the Service name replaced by the local address): the webserver shows the product, and the
daemon's sensor and schedule ticks, evaluated inside that code server against instance storage,
succeed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster_k8s.container_context import (
    K8sContainerContext,  # what K8sRunLauncher builds run pods from
)

from tests.conftest import DEMO, IN_CI, REPO, VENV_BIN, cli_env, floe_dagster_settings, free_port
from tests.serving import serving
from tests.test_deploy_dagster_values import DAGSTER_VALUES, official_workspace
from tests.test_helm import render
from tests.test_webserver import graphql

pytestmark = pytest.mark.slow

NAMESPACE = "dagster"
PG_SECRET, PG_KEY = "dagster-postgresql-secret", "postgresql-password"
# What the image itself provides (its Dockerfile ENV): the only variable not in the pod spec.
IMAGE_ENV = {"PATH": f"{VENV_BIN}{os.pathsep}/usr/local/bin:/usr/bin:/bin"}


class CreateContainerConfigError(Exception):
    """The kubelet cannot build the container's env: the pod never starts."""


def pod_env(
    container: Mapping[str, Any],
    secrets: Mapping[str, Mapping[str, str]],
    config_maps: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, str]:
    """The env the kubelet gives `container`: `envFrom` first, then `env` (later entries win)."""
    config_maps = config_maps or {}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        kind, ref = (
            ("Secret", source["secretRef"])
            if "secretRef" in source
            else ("ConfigMap", source["configMapRef"])
        )
        found = (secrets if kind == "Secret" else config_maps).get(ref["name"])
        if found is None and not ref.get("optional"):
            raise CreateContainerConfigError(
                f'envFrom: {kind} "{ref["name"]}" not found in namespace {NAMESPACE}'
            )
        env.update(found or {})
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
            continue
        ref = var["valueFrom"]["secretKeyRef"]
        value = secrets.get(ref["name"], {}).get(ref["key"])
        if value is None:
            raise CreateContainerConfigError(
                f'env {var["name"]}: key "{ref["key"]}" of Secret "{ref["name"]}" not found in namespace {NAMESPACE}'
            )
        env[var["name"]] = value
    return env


PG_BIN = Path("/usr/lib/postgresql/15/bin")


@contextmanager
def password_postgres() -> Iterator[dict[str, str]]:
    """A private PostgreSQL that checks passwords (scram-sha-256), unlike the shared test server.

    Yields the settings as DAGSTER_PG_* variables, the password included; stopped on exit.
    """
    if not (PG_BIN / "initdb").exists():
        (pytest.fail if IN_CI else pytest.skip)(
            f"PostgreSQL server binaries are missing in {PG_BIN}"
        )
    root = Path(tempfile.mkdtemp(prefix="floe-pg-"))
    password = "code-server-secret-value"
    try:
        shutil.chown(root, "postgres")
        (root / "pw").write_text(password)
        shutil.chown(root / "pw", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [
                *as_postgres,
                PG_BIN / "initdb",
                "-D",
                root / "data",
                "-U",
                "dagster",
                "-E",
                "UTF8",
                "--auth=scram-sha-256",
                f"--pwfile={root / 'pw'}",
            ],
            check=True,
            capture_output=True,
        )
        port = free_port()
        subprocess.run(
            [
                *as_postgres,
                PG_BIN / "pg_ctl",
                "-D",
                root / "data",
                "-l",
                root / "log",
                "-w",
                "start",
                "-o",
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
            ],
            check=True,
            capture_output=True,
        )
        try:
            admin = psycopg2.connect(
                host="127.0.0.1", port=port, user="dagster", password=password, dbname="postgres"
            )
            admin.autocommit = True
            admin.cursor().execute("CREATE DATABASE dagster")
            admin.close()
            yield {
                "DAGSTER_PG_HOST": "127.0.0.1",
                "DAGSTER_PG_PORT": str(port),
                "DAGSTER_PG_USER": "dagster",
                "DAGSTER_PG_DB": "dagster",
                "DAGSTER_PG_PASSWORD": password,
            }
        finally:
            subprocess.run(
                [
                    *as_postgres,
                    PG_BIN / "pg_ctl",
                    "-D",
                    root / "data",
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                capture_output=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Deployed:
    container: dict[str, Any]
    port: int
    workspace: Path
    home: Path
    daemon_env: dict[str, str]
    secrets: dict[str, dict[str, str]]
    config_maps: dict[str, dict[str, str]]
    pid: int


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, demo_manifest) -> Iterator[Deployed]:
    """customer_360 served by the rendered code server; a PostgreSQL instance; the workspace."""
    tmp = tmp_path_factory.mktemp("deployed")
    project = _product_copy(tmp, demo_manifest)
    with password_postgres() as pg:
        password = pg.pop("DAGSTER_PG_PASSWORD")  # reaches the code server only through the secret
        port = free_port()
        values = {
            "image": "registry.example/floe/customer_360:1.0.0",
            "instance": {
                "postgresql": {
                    "host": pg["DAGSTER_PG_HOST"],
                    "port": int(pg["DAGSTER_PG_PORT"]),
                    "username": pg["DAGSTER_PG_USER"],
                    "database": pg["DAGSTER_PG_DB"],
                    "passwordSecret": {"name": PG_SECRET, "key": PG_KEY},
                }
            },
            "products": [
                {
                    "name": "customer_360",
                    "projectDir": str(project),
                    "port": port,
                    "env": {"FLOE_DUCKDB_PATH": str(tmp / "warehouse.duckdb")},
                    "envFromSecrets": ["customer-360-env"],
                    "envFromConfigMaps": ["customer-360-settings"],
                    "volumes": [{"name": "certs", "secret": {"secretName": "warehouse-ca"}}],
                    "volumeMounts": [
                        {"name": "certs", "mountPath": "/etc/floe/certs", "readOnly": True}
                    ],
                    "serviceAccountName": "customer-360",
                }
            ],
        }
        (deployment,) = [o for o in render(values, tmp) if o["kind"] == "Deployment"]
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        secrets = {PG_SECRET: {PG_KEY: password}, "customer-360-env": {"WAREHOUSE_TOKEN": "t0ken"}}
        config_maps = {"customer-360-settings": {"DBT_TARGET": "prod"}}

        home = tmp / "dagster_home"
        home.mkdir()
        instance = yaml.safe_load((REPO / "dagster.postgres.yaml").read_text())
        instance["run_coordinator"]["config"]["max_concurrent_runs"] = (
            0  # hold runs: ticks are the subject
        )
        (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
        workspace = tmp / "workspace.yaml"
        workspace.write_text(
            yaml.safe_dump(
                official_workspace(
                    DAGSTER_VALUES, address={"floe-customer-360": ("127.0.0.1", port)}
                )
            )
        )

        log = tmp / "code-server.log"
        with serving(
            container["command"],
            cwd=Path(container["workingDir"]),
            env={**IMAGE_ENV, **pod_env(container, secrets, config_maps)},
            log=log,
        ) as code_server:
            assert _probe_passes(container, within_seconds=300), (
                f"no health check passed:\n{log.read_text()[-3000:]}"
            )
            yield Deployed(
                container,
                port,
                workspace,
                home,
                cli_env(DAGSTER_HOME=str(home), DAGSTER_PG_PASSWORD=password, **pg),
                secrets,
                config_maps,
                code_server.pid,
            )


def _product_copy(tmp: Path, manifest: Path) -> Path:
    """The demo with its staleness sensor running and its schedule ticking every minute."""
    project = tmp / "customer_360"
    shutil.copytree(
        DEMO, project, ignore=shutil.ignore_patterns("target", "warehouse", "logs", "__pycache__")
    )
    (project / "target").mkdir()
    shutil.copy(manifest, project / "target" / "manifest.json")
    path = project / "compiled_artifacts.json"
    data = json.loads(path.read_text())
    settings = floe_dagster_settings(data)
    settings["schedules"][0].update(cron="* * * * *", default_status="running")
    settings.setdefault("sensors", {}).setdefault("staleness", {})["default_status"] = "running"
    path.write_text(json.dumps(data, indent=1))
    return project


def _probe_passes(container: dict, within_seconds: float) -> bool:
    command = container["readinessProbe"]["exec"]["command"]
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        try:
            if (
                subprocess.run(command, env=cli_env(), capture_output=True, timeout=60).returncode
                == 0
            ):
                return True
        except subprocess.TimeoutExpired:
            pass  # a busy machine: the probe's own timeout, as the kubelet would retry it
        time.sleep(1)
    return False


def test_the_code_server_runs_with_exactly_the_env_its_spec_declares(deployed):
    env = pod_env(deployed.container, deployed.secrets, deployed.config_maps)
    assert set(env) == {
        "DAGSTER_CURRENT_IMAGE",
        "HOME",
        "TMPDIR",
        "PYTHONDONTWRITEBYTECODE",
        "DAGSTER_CONTAINER_CONTEXT",
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_USER",
        "DAGSTER_PG_DB",
        "DAGSTER_PG_PASSWORD",
        "FLOE_DUCKDB_PATH",
        "WAREHOUSE_TOKEN",
        "DBT_TARGET",
    }
    running = Path(f"/proc/{deployed.pid}/environ").read_bytes().split(b"\0")
    assert dict(v.decode().split("=", 1) for v in running if v) == {**IMAGE_ENV, **env}
    declared = {e["name"]: e for e in deployed.container["env"]}
    assert declared["DAGSTER_PG_PASSWORD"] == {
        "name": "DAGSTER_PG_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": PG_SECRET, "key": PG_KEY}},
    }


def test_without_the_password_secret_the_pod_fails_naming_the_secret_and_its_key(deployed):
    secrets = {name: keys for name, keys in deployed.secrets.items() if name != PG_SECRET}
    with pytest.raises(CreateContainerConfigError) as failure:
        pod_env(deployed.container, secrets, deployed.config_maps)
    assert f'key "{PG_KEY}" of Secret "{PG_SECRET}" not found' in str(failure.value)


def test_the_webserver_shows_the_products_assets_through_the_official_workspace(deployed, tmp_path):
    web_port = free_port()
    with serving(
        [
            "dagster-webserver",
            "-w",
            str(deployed.workspace),
            "-h",
            "127.0.0.1",
            "-p",
            str(web_port),
        ],
        cwd=tmp_path,
        env=deployed.daemon_env,
        log=tmp_path / "webserver.log",
        ready_url=f"http://127.0.0.1:{web_port}/server_info",
    ):
        deadline = time.monotonic() + 120
        while not (data := graphql(web_port, "{ assetNodes { assetKey { path } } }"))["assetNodes"]:
            assert time.monotonic() < deadline, "no assets served"
            time.sleep(1)
    assets = {"/".join(n["assetKey"]["path"]) for n in data["assetNodes"]}
    assert "sales/customer_360/fct_orders" in assets
    assert len(assets) == 12


def test_a_daemon_on_postgresql_runs_the_products_sensors_and_schedule_through_the_code_server(
    deployed, tmp_path, monkeypatch
):
    for name, value in deployed.daemon_env.items():
        if name.startswith("DAGSTER_PG_"):
            monkeypatch.setenv(name, value)  # this test reads the ticks from the same instance
    backfill = subprocess.run(
        [
            VENV_BIN / "dagster",
            "job",
            "backfill",
            "-j",
            "daily_job",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-03",
            "--noprompt",
            "-w",
            str(deployed.workspace),
        ],
        env=deployed.daemon_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr

    with (
        serving(
            [VENV_BIN / "dagster-daemon", "run", "-w", str(deployed.workspace)],
            cwd=tmp_path,
            env=deployed.daemon_env,
            log=tmp_path / "daemon.log",
        ),
        DagsterInstance.from_config(str(deployed.home)) as instance,
    ):
        ticks = _wait_for_ticks(
            instance,
            {"customer_360_backfill_policy", "customer_360_staleness", "customer_360_daily"},
            log=tmp_path / "daemon.log",
        )
        runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.QUEUED]))

    for name, tick in ticks.items():
        assert tick.status.value == "SUCCESS", f"{name}: {tick.status} {tick.error}"
        assert tick.run_ids, f"{name} requested no run"
    # the code server reserved the run keys in instance storage, logged in with the secret's password
    env = deployed.daemon_env
    with (
        psycopg2.connect(
            host=env["DAGSTER_PG_HOST"],
            port=env["DAGSTER_PG_PORT"],
            user=env["DAGSTER_PG_USER"],
            password=env["DAGSTER_PG_PASSWORD"],
            dbname=env["DAGSTER_PG_DB"],
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT count(*) FROM floe_run_key_reservations")
        assert cur.fetchone()[0] >= len(ticks["customer_360_staleness"].run_ids)
    (policy_run,) = [r for r in runs if r.run_id in ticks["customer_360_backfill_policy"].run_ids]
    assert (
        policy_run.tags["dagster/asset_partition_range_start"],
        policy_run.tags["dagster/asset_partition_range_end"],
    ) == ("2026-03-01", "2026-03-03")

    # the runs carry the code location's container context: K8sRunLauncher and k8s_job_executor
    # build their pods from it
    context = K8sContainerContext.create_from_config(
        policy_run.job_code_origin.repository_origin.container_context
    )
    container, pod = context.run_k8s_config.container_config, context.run_k8s_config.pod_spec_config
    assert container["env_from"] == [
        {"config_map_ref": {"name": "customer-360-settings"}},
        {"secret_ref": {"name": "customer-360-env"}},
    ]
    assert {
        "name": "FLOE_DUCKDB_PATH",
        "value": str(deployed.workspace.parent / "warehouse.duckdb"),
    } in container["env"]
    assert container["volume_mounts"] == [
        {"name": "certs", "mount_path": "/etc/floe/certs", "read_only": True}
    ]
    assert pod["volumes"] == [{"name": "certs", "secret": {"secret_name": "warehouse-ca"}}]
    assert pod["service_account_name"] == "customer-360"


def _wait_for_ticks(
    instance: DagsterInstance, names: set[str], log: Path, timeout: float = 420
) -> dict:
    """The first finished tick of each named sensor or schedule."""
    deadline = time.monotonic() + timeout
    while True:
        states = {s.name: s for s in instance.all_instigator_state() if s.name in names}
        done = {}
        for name, state in states.items():
            finished = [
                t
                for t in instance.get_ticks(state.instigator_origin_id, state.selector_id)
                if t.status.value != "STARTED"
            ]
            if finished:
                done[name] = finished[-1]
        if set(done) == names:
            return done
        assert time.monotonic() < deadline, (
            f"ticks seen: {sorted(done)}; daemon log:\n{log.read_text()[-3000:]}"
        )
        time.sleep(2)
