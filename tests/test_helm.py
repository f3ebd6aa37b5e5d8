"""helm/floe-dagster: lints, renders valid Kubernetes objects, and meets the deployment policy.

Runs the real `helm` (scripts/test_services.sh puts it in .tools/). Every rendered object is
validated offline against the Kubernetes OpenAPI schema.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import IN_CI, REPO
from tests.k8s_standin import schema_errors
from tests.k8s_standin.policy import violations

CHART = REPO / "helm" / "floe-dagster"
RELEASE = "floe"

PRODUCTS = {
    "image": "registry.example/floe/products:1.0.0",
    "products": [
        {
            "name": "customer_360",
            "env": {"DBT_TARGET": "prod"},
            "secretEnv": [
                {"name": "WAREHOUSE_PASSWORD", "secretName": "warehouse", "key": "password"}
            ],
            "envFromSecrets": ["customer-360-env"],
            "envFromConfigMaps": ["customer-360-settings"],
            "volumes": [{"name": "certs", "secret": {"secretName": "warehouse-ca"}}],
            "volumeMounts": [{"name": "certs", "mountPath": "/etc/floe/certs", "readOnly": True}],
            "serviceAccountName": "customer-360",
            "imagePullSecrets": [{"name": "customer-360-registry"}],
        },
        {
            "name": "orders_mart",
            "image": "registry.example/floe/orders_mart:2.1.0",
            "port": 4000,
            "includeConfigInLaunchedRuns": {"enabled": False},
        },
    ],
    "serviceAccountName": "floe-products",
    "imagePullSecrets": [{"name": "registry-credentials"}],
}


def helm_binary() -> str:
    """.tools/helm from scripts/test_services.sh, else helm on PATH; fails under CI without it."""
    found = REPO / ".tools" / "helm"
    if found.exists():
        return str(found)
    on_path = shutil.which("helm")
    if on_path:
        return on_path
    if IN_CI:
        pytest.fail("helm is missing: scripts/test_services.sh extracts it into .tools/helm")
    pytest.skip("helm is missing: run `bash scripts/test_services.sh` to extract it into .tools/")


def helm(*args: str, values: dict[str, Any], tmp: Path) -> subprocess.CompletedProcess:
    values_file = tmp / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    return subprocess.run(
        [helm_binary(), *args, "-f", str(values_file)], capture_output=True, text=True, timeout=60
    )


def render(values: dict[str, Any], tmp: Path) -> list[dict[str, Any]]:
    done = helm("template", RELEASE, str(CHART), values=values, tmp=tmp)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def deployment(objects: list[dict], name: str) -> dict:
    return next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == name)


def test_chart_passes_helm_lint(tmp_path):
    done = helm("lint", str(CHART), "--strict", values=PRODUCTS, tmp=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_product_gets_a_deployment_and_a_service(tmp_path):
    objects = render(PRODUCTS, tmp_path)
    names = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    assert names == [
        ("Deployment", "floe-customer-360"),
        ("Deployment", "floe-orders-mart"),
        ("NetworkPolicy", "floe-customer-360"),
        ("NetworkPolicy", "floe-orders-mart"),
        ("Service", "floe-customer-360"),
        ("Service", "floe-orders-mart"),
    ]


def test_every_rendered_object_validates_against_the_kubernetes_openapi_schema(tmp_path):
    for obj in render(PRODUCTS, tmp_path):
        assert schema_errors(obj) == [], obj["metadata"]["name"]


def test_rendered_chart_meets_the_policy(tmp_path):
    assert violations(render(PRODUCTS, tmp_path)) == []


def test_code_server_runs_the_products_definitions_and_probes_its_health_check(tmp_path):
    container = deployment(render(PRODUCTS, tmp_path), "floe-orders-mart")["spec"]["template"][
        "spec"
    ]["containers"][0]
    assert container["command"][:3] == ["dagster", "code-server", "start"]
    assert "/opt/floe/products/orders_mart/definitions.py" in container["command"]
    assert container["image"] == "registry.example/floe/orders_mart:2.1.0"
    health = {"exec": {"command": ["dagster", "api", "grpc-health-check", "-p", "4000"]}}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe].items() >= health.items()


def test_secrets_are_rendered_only_as_references(tmp_path):
    container = deployment(render(PRODUCTS, tmp_path), "floe-customer-360")["spec"]["template"][
        "spec"
    ]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["WAREHOUSE_PASSWORD"] == {
        "name": "WAREHOUSE_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "warehouse", "key": "password"}},
    }
    assert env["DBT_TARGET"]["value"] == "prod"
    assert container["envFrom"] == [
        {"secretRef": {"name": "customer-360-env"}},
        {"configMapRef": {"name": "customer-360-settings"}},
    ]


def test_values_schema_rejects_a_secret_as_a_plain_env_var(tmp_path):
    values = copy.deepcopy(PRODUCTS)
    values["products"][0]["env"]["WAREHOUSE_PASSWORD"] = "hunter2"
    done = helm("template", RELEASE, str(CHART), values=values, tmp=tmp_path)
    assert done.returncode != 0
    assert "invalid propertyName 'WAREHOUSE_PASSWORD'" in done.stderr


def test_values_schema_rejects_a_root_container(tmp_path):
    values = {
        **PRODUCTS,
        "securityContext": {"runAsNonRoot": False, "readOnlyRootFilesystem": True},
    }
    assert helm("template", RELEASE, str(CHART), values=values, tmp=tmp_path).returncode != 0


def test_policy_flags_an_inline_secret(tmp_path):
    objects = render(PRODUCTS, tmp_path)
    container = deployment(objects, "floe-customer-360")["spec"]["template"]["spec"]["containers"][
        0
    ]
    container["env"].append({"name": "WAREHOUSE_PASSWORD", "value": "hunter2"})
    objects.append(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pg"}, "stringData": {"p": "x"}}
    )
    found = violations(objects)
    assert any("WAREHOUSE_PASSWORD carries a secret inline" in v for v in found)
    assert any(v.startswith("Secret/pg: carries secret data inline") for v in found)


def test_policy_flags_a_missing_resource_limit(tmp_path):
    objects = render(PRODUCTS, tmp_path)
    container = deployment(objects, "floe-orders-mart")["spec"]["template"]["spec"]["containers"][0]
    del container["resources"]["limits"]["memory"]
    assert violations(objects) == [
        "Deployment/floe-orders-mart container code-server: no memory limit: set resources.limits.memory"
    ]


def test_policy_flags_a_root_container(tmp_path):
    objects = render(PRODUCTS, tmp_path)
    pod = deployment(objects, "floe-orders-mart")["spec"]["template"]["spec"]
    pod["securityContext"]["runAsUser"] = 0
    pod["containers"][0]["securityContext"].pop("runAsNonRoot")
    pod["securityContext"].pop("runAsNonRoot")
    assert violations(objects) == [
        "Deployment/floe-orders-mart container code-server: may run as root: set securityContext.runAsNonRoot: true"
    ]


def network_policy(objects: list[dict], name: str) -> dict:
    return next(
        o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == name
    )


def test_only_the_dagster_webserver_daemon_and_run_and_step_pods_reach_a_code_server(tmp_path):
    objects = render(
        {**PRODUCTS, "networkPolicy": {"enabled": True, "dagsterRelease": "ops"}}, tmp_path
    )
    policy = network_policy(objects, "floe-orders-mart")["spec"]
    assert (
        policy["podSelector"]["matchLabels"]
        == deployment(objects, "floe-orders-mart")["spec"]["selector"]["matchLabels"]
    )
    assert policy["policyTypes"] == ["Ingress"]
    [rule] = policy["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 4000}]
    assert [peer["podSelector"]["matchLabels"] for peer in rule["from"]] == [
        {
            "app.kubernetes.io/name": "dagster",
            "app.kubernetes.io/instance": "ops",
            "component": "dagster-webserver",
        },
        {
            "app.kubernetes.io/name": "dagster",
            "app.kubernetes.io/instance": "ops",
            "component": "dagster-daemon",
        },
        {"app.kubernetes.io/part-of": "dagster", "app.kubernetes.io/component": "run_worker"},
        {"app.kubernetes.io/part-of": "dagster", "app.kubernetes.io/component": "step_worker"},
    ]


def test_policy_flags_a_code_server_without_a_network_policy(tmp_path):
    objects = render(
        {**PRODUCTS, "networkPolicy": {"enabled": False, "dagsterRelease": "dagster"}}, tmp_path
    )
    assert violations(objects) == [
        "Service/floe-customer-360: no NetworkPolicy restricts who reaches its pods: set networkPolicy.enabled: true",
        "Service/floe-orders-mart: no NetworkPolicy restricts who reaches its pods: set networkPolicy.enabled: true",
    ]


def test_policy_flags_a_network_policy_open_to_every_source(tmp_path):
    objects = render(PRODUCTS, tmp_path)
    del network_policy(objects, "floe-orders-mart")["spec"]["ingress"][0]["from"]
    assert violations(objects) == [
        "NetworkPolicy/floe-orders-mart: an ingress rule admits every source: name the pods in `from`"
    ]


def pod(objects: list[dict], name: str) -> dict:
    return deployment(objects, name)["spec"]["template"]["spec"]


def test_a_product_names_its_own_service_account_pull_secrets_and_volumes(tmp_path):
    objects = render(PRODUCTS, tmp_path)
    own, default = pod(objects, "floe-customer-360"), pod(objects, "floe-orders-mart")
    assert (own["serviceAccountName"], own["imagePullSecrets"]) == (
        "customer-360",
        [{"name": "customer-360-registry"}],
    )
    assert (default["serviceAccountName"], default["imagePullSecrets"]) == (
        "floe-products",
        [{"name": "registry-credentials"}],
    )
    assert own["volumes"] == [
        {"name": "tmp", "emptyDir": {}},
        {"name": "certs", "secret": {"secretName": "warehouse-ca"}},
    ]
    assert own["containers"][0]["volumeMounts"][1] == {
        "name": "certs",
        "mountPath": "/etc/floe/certs",
        "readOnly": True,
    }


def test_code_servers_get_the_instances_postgresql_settings_and_its_password_by_reference(tmp_path):
    values = {
        **PRODUCTS,
        "instance": {
            "postgresql": {
                "host": "pg.data",
                "port": 6432,
                "username": "dagster_app",
                "database": "dagster_prod",
                "passwordSecret": {"name": "dagster-pg", "key": "password"},
            }
        },
    }
    env = {
        e["name"]: e
        for e in pod(render(values, tmp_path), "floe-orders-mart")["containers"][0]["env"]
    }
    assert {
        n: env[n]["value"]
        for n in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_DB")
    } == {
        "DAGSTER_PG_HOST": "pg.data",
        "DAGSTER_PG_PORT": "6432",
        "DAGSTER_PG_USER": "dagster_app",
        "DAGSTER_PG_DB": "dagster_prod",
    }
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "dagster-pg", "key": "password"}
    }


def test_runs_launched_from_a_product_get_its_env_secrets_and_volumes(tmp_path):
    objects = render(PRODUCTS, tmp_path)
    env = {e["name"]: e for e in pod(objects, "floe-customer-360")["containers"][0]["env"]}
    assert json.loads(env["DAGSTER_CONTAINER_CONTEXT"]["value"]) == {
        "k8s": {
            "image_pull_policy": "IfNotPresent",
            "image_pull_secrets": [{"name": "customer-360-registry"}],
            "service_account_name": "customer-360",
            "env": [
                {"name": "DBT_TARGET", "value": "prod"},
                {
                    "name": "WAREHOUSE_PASSWORD",
                    "valueFrom": {"secretKeyRef": {"name": "warehouse", "key": "password"}},
                },
            ],
            "env_secrets": ["customer-360-env"],
            "env_config_maps": ["customer-360-settings"],
            "volumes": [{"name": "certs", "secret": {"secretName": "warehouse-ca"}}],
            "volume_mounts": [{"name": "certs", "mountPath": "/etc/floe/certs", "readOnly": True}],
        }
    }
    switched_off = pod(objects, "floe-orders-mart")["containers"][0]["env"]
    assert "DAGSTER_CONTAINER_CONTEXT" not in {e["name"] for e in switched_off}


@pytest.mark.parametrize(
    "change, complaint",
    [
        (lambda v: v["instance"]["postgresql"].update(password="hunter2"), "password"),
        (
            lambda v: v["instance"]["postgresql"].update(passwordSecret=None),
            "passwordSecret",
        ),  # null deletes a default
        (lambda v: v["products"][0].update(envFromConfigMaps=["Not_A_Name"]), "envFromConfigMaps"),
        (lambda v: v["products"][0].update(volumes=[{"name": "tmp", "emptyDir": {}}]), "volumes"),
        (
            lambda v: v["products"][0].update(
                volumeMounts=[{"name": "certs", "mountPath": "/tmp"}]
            ),
            "volumeMounts",
        ),
        (
            lambda v: v["products"][0].update(serviceAccountName="Customer 360"),
            "serviceAccountName",
        ),
        (
            lambda v: v["products"][0].update(imagePullSecrets=["registry-credentials"]),
            "imagePullSecrets",
        ),
        (
            lambda v: v["products"][0].update(includeConfigInLaunchedRuns={"enable": True}),
            "includeConfigInLaunchedRuns",
        ),
        (
            lambda v: v.update(networkPolicy={"enabled": True, "dagsterRelease": "Dagster Prod"}),
            "dagsterRelease",
        ),
    ],
)
def test_values_schema_rejects_a_malformed_deployment_option(tmp_path, change, complaint):
    values = {
        **copy.deepcopy(PRODUCTS),
        "instance": yaml.safe_load((CHART / "values.yaml").read_text())["instance"],
    }
    change(values)
    done = helm("template", RELEASE, str(CHART), values=values, tmp=tmp_path)
    assert done.returncode != 0
    assert complaint in done.stderr
