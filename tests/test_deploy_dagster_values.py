"""deploy/dagster-values.yaml, read by the rules of the official Dagster chart (dagster/dagster 1.13).

The official chart cannot be fetched here (no chart repository), and its templates are
another project's code, so these tests apply the rules its templates follow, as read from
helm/dagster in dagster-io/dagster:

- templates/configmap-workspace.yaml: fails with "dagster-user-deployments subchart cannot be
  enabled if workspace.yaml is not created." when `dagster-user-deployments.enabled` is false
  and `enableSubchart` is true (its default); writes workspace.yaml only when `enabled` is
  true; takes `dagsterWebserver.workspace.servers` when `workspace.enabled` (host, port, and
  `name` as the location name) and the subchart's deployments otherwise; refuses `servers`
  together with `externalConfigmap`.
- helpers `dagster.webserver.dagsterWebserverCommand` and `dagster.dagsterDaemon.daemonCommand`:
  `-w /dagster-workspace/workspace.yaml` only when `dagster-user-deployments.enabled`, so
  without it the webserver and the daemon start with no workspace.
- Chart.yaml: the user-deployments subchart renders only when `enableSubchart` is true.
- deployment-daemon.yaml / the webserver: `DAGSTER_PG_PASSWORD` by secretKeyRef to
  `global.postgresqlSecretName`, key `postgresql-password`; secret-postgres.yaml writes that
  Secret (with the password from the values) only when `generatePostgresqlPasswordSecret`.
- configmap-instance.yaml and helpers/instance/*.tpl: the PostgreSQL storages with a literal
  host, port, user and database and `password: {env: DAGSTER_PG_PASSWORD}`; K8sRunLauncher's
  `job_namespace` (default: the release namespace), `image_pull_policy`, `service_account_name`
  (default: the chart's full name), `instance_config_map` (`<fullname>-instance`); the queued
  run coordinator's settings; NoOpComputeLogManager; `run_monitoring` and `run_retries` when
  the daemon and they are enabled (`max_retries` only when non-zero); `sensors`/`schedules`
  threads; `telemetry.enabled`.
- the user-deployments subchart (deployment-user.yaml, helpers): the code server gets
  `DAGSTER_PG_PASSWORD` by secretKeyRef (the code server opens the instance to evaluate
  sensors) and, with `includeConfigInLaunchedRuns`, `DAGSTER_CONTAINER_CONTEXT` (helm/floe-dagster
  does the same; tests/test_helm_code_server.py runs it).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.k8s_standin import schema_errors
from tests.k8s_standin.policy import SECRET_NAME, violations
from tests.test_helm import CHART, render

DAGSTER_VALUES: dict[str, Any] = yaml.safe_load(
    (REPO / "deploy" / "dagster-values.yaml").read_text()
)
K8S_INSTANCE: dict[str, Any] = yaml.safe_load(
    (REPO / "deploy" / "dagster-instance.k8s.yaml").read_text()
)
RELEASE = NAMESPACE = "dagster"  # `helm install dagster dagster/dagster --namespace dagster`
FULLNAME = "dagster"  # the chart's full name for a release whose name contains "dagster"
DAGSTER_HOME = "/opt/dagster/dagster_home"  # the chart's default global.dagsterHome
PG_PASSWORD_KEY = "postgresql-password"  # the key the chart reads the password from
# The products deploy/dagster-values.yaml's workspace is written for, as in the README.
MY_PRODUCTS = {
    "image": "registry.example/floe/customer_360:1.0.0",
    "products": [{"name": "customer_360"}],
}


class ChartRenderError(Exception):
    """`helm template` with the official chart would stop with this message."""


def official_workspace(
    values: dict[str, Any], address: dict[str, tuple[str, int]] | None = None
) -> dict | None:
    """workspace.yaml as the official chart writes it from `values`; None when it writes none.

    `address` replaces a server's host and port (a Service reached from outside the cluster).
    """
    user = {
        "enabled": True,
        "enableSubchart": True,
        "deployments": [],
        **values.get("dagster-user-deployments", {}),
    }
    if not user["enabled"] and user["enableSubchart"]:
        raise ChartRenderError(
            "dagster-user-deployments subchart cannot be enabled if workspace.yaml is not created."
        )
    if not user["enabled"]:
        return None
    workspace = {"enabled": False, **values.get("dagsterWebserver", {}).get("workspace", {})}
    if workspace["enabled"] and workspace.get("servers") and workspace.get("externalConfigmap"):
        raise ChartRenderError(
            "workspace.servers and workspace.externalConfigmap cannot both be set."
        )
    servers = workspace.get("servers") if workspace["enabled"] else user["deployments"]
    load_from = []
    for server in servers or []:
        host = server["host"] if workspace["enabled"] else server["name"]
        grpc = {"host": host, "port": server["port"], "location_name": server.get("name") or host}
        if address and host in address:
            grpc["host"], grpc["port"] = address[host]
        load_from.append({"grpc_server": grpc})
    return {"load_from": load_from}


def official_instance(values: dict[str, Any]) -> dict[str, Any]:
    """The parts of dagster.yaml the official chart writes that deploy/dagster-instance.k8s.yaml must share."""
    daemon = values["dagsterDaemon"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    pg = values["postgresql"]
    instance: dict[str, Any] = {
        "storage_password": {"env": "DAGSTER_PG_PASSWORD"},
        "storage": {
            "hostname": pg["postgresqlHost"],
            "port": pg["service"]["port"],
            "username": pg["postgresqlUsername"],
            "db_name": pg["postgresqlDatabase"],
        },
        "run_launcher": {
            "module": "dagster_k8s",
            "class": "K8sRunLauncher",
            "load_incluster_config": launcher["loadInclusterConfig"],
            "job_namespace": launcher.get("jobNamespace") or NAMESPACE,
            "image_pull_policy": launcher["imagePullPolicy"],
            "service_account_name": values.get("global", {}).get("serviceAccountName") or FULLNAME,
            "dagster_home": values.get("global", {}).get("dagsterHome", DAGSTER_HOME),
            "instance_config_map": f"{FULLNAME}-instance",
            "postgres_password_secret": values["global"]["postgresqlSecretName"],
            "run_k8s_config": _snake(launcher.get("runK8sConfig", {})),
        },
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": queued["maxConcurrentRuns"],
                "dequeue_use_threads": queued["dequeueUseThreads"],
                "dequeue_num_workers": queued["dequeueNumWorkers"],
            },
        },
        "compute_logs": {
            "module": "dagster.core.storage.noop_compute_log_manager",
            "class": "NoOpComputeLogManager",
        },
        "sensors": {
            "use_threads": daemon["sensors"]["useThreads"],
            "num_workers": daemon["sensors"]["numWorkers"],
        },
        "schedules": {
            "use_threads": daemon["schedules"]["useThreads"],
            "num_workers": daemon["schedules"]["numWorkers"],
        },
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
    }
    assert values["computeLogManager"]["type"] == "NoOpComputeLogManager"
    monitoring = daemon["runMonitoring"]
    if daemon["enabled"] and monitoring["enabled"]:
        instance["run_monitoring"] = {
            "enabled": True,
            "start_timeout_seconds": monitoring["startTimeoutSeconds"],
            "poll_interval_seconds": monitoring["pollIntervalSeconds"],
            "max_resume_run_attempts": monitoring["maxResumeRunAttempts"],
            "free_slots_after_run_end_seconds": monitoring["freeSlotsAfterRunEndSeconds"],
        }
    retries = daemon["runRetries"]
    if daemon["enabled"] and retries["enabled"]:
        instance["run_retries"] = {
            "enabled": True,
            **({"max_retries": retries["maxRetries"]} if retries["maxRetries"] else {}),
        }
    return instance


def _snake(value: Any) -> Any:
    """runK8sConfig as K8sRunLauncher's run_k8s_config spells it (dagster-k8s accepts both)."""
    if isinstance(value, dict):
        return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): _snake(v) for k, v in value.items()}
    return value


def _k8s_instance_view() -> dict[str, Any]:
    """deploy/dagster-instance.k8s.yaml in official_instance's shape."""
    launcher = K8S_INSTANCE["run_launcher"]
    db = K8S_INSTANCE["storage"]["postgres"]["postgres_db"]
    view = {k: v for k, v in K8S_INSTANCE.items() if k not in ("storage", "run_launcher")}
    view["storage_password"] = db["password"]
    view["storage"] = {k: v for k, v in db.items() if k != "password"}
    view["run_launcher"] = {
        "module": launcher["module"],
        "class": launcher["class"],
        **{k: v for k, v in launcher["config"].items() if k != "env_vars"},
    }
    return view


def test_the_values_render_a_workspace_by_the_official_charts_rules():
    assert official_workspace(DAGSTER_VALUES) == {
        "load_from": [
            {
                "grpc_server": {
                    "host": "floe-customer-360",
                    "port": 3030,
                    "location_name": "customer_360",
                }
            }
        ]
    }
    assert (
        DAGSTER_VALUES["dagster-user-deployments"]["enableSubchart"] is False
    )  # no code servers of the chart's own


def test_user_deployments_switched_off_fail_to_render_or_drop_the_workspace():
    values = {**DAGSTER_VALUES, "dagster-user-deployments": {"enabled": False}}
    with pytest.raises(
        ChartRenderError,
        match=re.escape("subchart cannot be enabled if workspace.yaml is not created"),
    ):
        official_workspace(values)
    values["dagster-user-deployments"]["enableSubchart"] = False
    assert official_workspace(values) is None  # renders, but webserver and daemon get no -w


def test_workspace_servers_are_exactly_the_code_server_services(tmp_path):
    services = {
        (
            o["metadata"]["name"],
            o["spec"]["ports"][0]["port"],
            o["metadata"]["labels"]["floe/product"],
        )
        for o in render(MY_PRODUCTS, tmp_path)
        if o["kind"] == "Service"
    }
    servers = {
        (s["grpc_server"]["host"], s["grpc_server"]["port"], s["grpc_server"]["location_name"])
        for s in official_workspace(DAGSTER_VALUES)["load_from"]
    }
    assert servers == services


def test_no_password_is_written_in_the_values():
    def literals(node: Any, path: str = "") -> list[str]:
        if isinstance(node, dict):
            return [p for k, v in node.items() for p in literals(v, f"{path}.{k}")]
        if isinstance(node, list):
            return [p for i, v in enumerate(node) for p in literals(v, f"{path}[{i}]")]
        leaf = path.rsplit(".", 1)[-1]
        return (
            [path]
            if SECRET_NAME.search(leaf) and not leaf.endswith(("SecretName", "Secret"))
            else []
        )

    assert literals(DAGSTER_VALUES) == []
    # the chart would otherwise write a Secret holding postgresql.postgresqlPassword (default "test")
    assert DAGSTER_VALUES["generatePostgresqlPasswordSecret"] is False
    assert DAGSTER_VALUES["global"]["postgresqlSecretName"]


def test_every_object_the_values_make_validates_against_the_kubernetes_schema(tmp_path):
    launcher = DAGSTER_VALUES["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    objects = [
        *render(MY_PRODUCTS, tmp_path),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{FULLNAME}-workspace-yaml"},
            "data": {"workspace.yaml": yaml.safe_dump(official_workspace(DAGSTER_VALUES))},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{FULLNAME}-instance"},
            "data": {"dagster.yaml": yaml.safe_dump(official_instance(DAGSTER_VALUES))},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "dagster-run"},
            "spec": {
                **launcher["jobSpecConfig"],
                "template": {
                    "spec": {
                        **launcher["podSpecConfig"],
                        "restartPolicy": "Never",
                        "containers": [
                            {
                                "name": "dagster",
                                "image": "registry.example/floe/customer_360:1.0.0",
                                **launcher["containerConfig"],
                            }
                        ],
                    }
                },
            },
        },
        *(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": "docker.io/dagster/dagster-celery-k8s:1.13.27",
                            "resources": DAGSTER_VALUES[key]["resources"],
                        }
                    ]
                },
            }
            for name, key in (("webserver", "dagsterWebserver"), ("daemon", "dagsterDaemon"))
        ),
    ]
    for obj in objects:
        assert schema_errors(obj) == [], f"{obj['kind']}/{obj['metadata']['name']}"
    assert violations(render(MY_PRODUCTS, tmp_path)) == []


def test_the_k8s_instance_config_is_what_the_chart_renders_from_the_values():
    official = official_instance(DAGSTER_VALUES)
    mine = _k8s_instance_view()
    assert set(mine) == set(official)
    for part in official:
        if part == "storage":
            continue  # documented: literal in the chart's ConfigMap, from DAGSTER_PG_* here
        assert mine[part] == official[part], part
    assert K8S_INSTANCE["run_launcher"]["config"]["env_vars"] == [
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_USER",
        "DAGSTER_PG_DB",
    ]


def test_code_servers_open_the_same_instance_the_chart_configures():
    chart_defaults = yaml.safe_load((CHART / "values.yaml").read_text())["instance"]["postgresql"]
    official = official_instance(DAGSTER_VALUES)["storage"]
    assert (
        chart_defaults["host"],
        chart_defaults["port"],
        chart_defaults["username"],
        chart_defaults["database"],
    ) == (official["hostname"], official["port"], official["username"], official["db_name"])
    assert chart_defaults["passwordSecret"] == {
        "name": DAGSTER_VALUES["global"]["postgresqlSecretName"],
        "key": PG_PASSWORD_KEY,
    }


def test_the_readme_creates_every_secret_the_deployment_names(tmp_path):
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Deploy with Helm\n") :]
    section = section[: section.index("\n## ")].replace("\\\n", " ")
    created: dict[str, set[str]] = {}
    for kind, name, args in re.findall(
        r"create secret (generic|docker-registry) (\S+)([^\n]*)", section
    ):
        keys = (
            re.findall(r"--from-literal=([^=\s]+)=", args)
            if kind == "generic"
            else [".dockerconfigjson"]
        )
        created[name] = set(keys)
    my_products = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1))

    needed = {(DAGSTER_VALUES["global"]["postgresqlSecretName"], PG_PASSWORD_KEY)}
    needed |= {
        (s["name"], None)
        for s in DAGSTER_VALUES["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]
    }
    for obj in render(my_products, tmp_path):
        pod = obj["spec"].get("template", {}).get("spec")
        if not pod:
            continue
        needed |= {(s["name"], ".dockerconfigjson") for s in pod.get("imagePullSecrets", [])}
        for container in pod["containers"]:
            needed |= {
                (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
                for e in container["env"]
                if "valueFrom" in e
            }
            needed |= {
                (e["secretRef"]["name"], None)
                for e in container.get("envFrom", [])
                if "secretRef" in e
            }
    missing = [
        (name, key)
        for name, key in needed
        if name not in created or (key and key not in created[name])
    ]
    assert missing == []
    assert (
        len(needed) == 3
    )  # the instance's password, the pull secret, the product's warehouse password
