"""DagsterOrchestratorPlugin: floe's OrchestratorPlugin interface, answered by this package."""

from __future__ import annotations

import inspect
import json
import os
import signal
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from importlib.metadata import entry_points
from typing import Any

import jsonschema
import pytest
from dagster import AssetKey

from floe_dagster.errors import FloeConfigError
from floe_dagster.plugin import DagsterOrchestratorPlugin, ResourceSpec
from tests.conftest import REPO, cli_env, free_port

CHART_SCHEMA = json.loads((REPO / "helm" / "floe-dagster" / "values.schema.json").read_text())


class OrchestratorPlugin(ABC):
    """The interface as floe-core's seed document defines it (test copy)."""

    @abstractmethod
    def create_definitions(self, artifacts): ...
    @abstractmethod
    def create_assets_from_transforms(self, transforms): ...
    @abstractmethod
    def get_helm_values(self): ...
    @abstractmethod
    def validate_connection(self): ...
    @abstractmethod
    def get_resource_requirements(self, workload_size): ...
    @abstractmethod
    def emit_lineage_event(self, event_type, job, inputs, outputs): ...
    @abstractmethod
    def schedule_job(self, job_name, cron, timezone): ...


def k8s(data: dict[str, Any]) -> None:
    data["dagster"]["execution"] = {
        "mode": "k8s",
        "default_workload_size": "medium",
        "workload_sizes": {"medium": {"cpu_request": "500m", "cpu_limit": "1500m", "memory_request": "1Gi", "memory_limit": "3Gi"}},
        "k8s": {"image": "registry.example/floe/customer_360:1.0.0", "env_secrets": ["customer-360-env"]},
    }


@pytest.fixture
def plugin(edit_artifacts) -> DagsterOrchestratorPlugin:
    return DagsterOrchestratorPlugin.for_product(edit_artifacts(k8s))


def test_plugin_is_registered_under_floe_orchestrators():
    (entry,) = [e for e in entry_points(group="floe.orchestrators") if e.name == "dagster"]
    assert entry.load() is DagsterOrchestratorPlugin


def test_plugin_implements_every_method_of_the_interface_with_its_parameters():
    for name, method in inspect.getmembers(OrchestratorPlugin, inspect.isfunction):
        ours = getattr(DagsterOrchestratorPlugin, name)
        assert list(inspect.signature(ours).parameters) == list(inspect.signature(method).parameters), name
    assert DagsterOrchestratorPlugin.name == "dagster"
    assert DagsterOrchestratorPlugin.version and DagsterOrchestratorPlugin.floe_api_version


def test_create_definitions_validates_the_artifacts_and_loads_the_product(plugin):
    defs = plugin.create_definitions(plugin.artifacts)
    keys = defs.get_repository_def().asset_graph.get_all_asset_keys()
    assert AssetKey(["sales", "customer_360", "fct_orders"]) in keys


def test_create_definitions_rejects_invalid_artifacts_naming_the_field(plugin):
    data = json.loads(plugin.artifacts.model_dump_json())
    data["dagster"]["execution"]["mode"] = "yarn"
    with pytest.raises(FloeConfigError, match=r"dagster\.execution\.mode"):
        plugin.create_definitions(data)


def test_create_definitions_without_a_product_directory_says_how_to_get_one(plugin):
    with pytest.raises(FloeConfigError, match="project_dir"):
        DagsterOrchestratorPlugin().create_definitions(plugin.artifacts)


def test_assets_from_transforms_are_the_dbt_steps_that_build_those_models(plugin):
    models = [m for m in plugin.artifacts.transforms.models if m.name == "dim_customers"]
    (step,) = plugin.create_assets_from_transforms(models)
    assert AssetKey(["sales", "customer_360", "dim_customers"]) in step.keys


def test_helm_values_validate_against_the_chart_schema(plugin):
    values = plugin.get_helm_values()
    jsonschema.validate(values, CHART_SCHEMA)
    (product,) = values["products"]
    assert product["name"] == "customer_360"
    assert product["image"] == "registry.example/floe/customer_360:1.0.0"
    assert product["envFromSecrets"] == ["customer-360-env"]


def test_resource_requirements_come_from_the_artifacts_workload_table(plugin):
    assert plugin.get_resource_requirements("medium") == ResourceSpec("500m", "1500m", "1Gi", "3Gi")
    assert plugin.get_resource_requirements("large") == ResourceSpec("2", "4", "8Gi", "16Gi")
    with pytest.raises(ValueError, match="small, medium, large"):
        plugin.get_resource_requirements("huge")


def test_schedule_job_adds_a_schedule_in_its_timezone(plugin):
    plugin.schedule_job("customer_360_daily_job", "0 7 * * 1", "America/New_York")
    repo = plugin.create_definitions(plugin.artifacts).get_repository_def()
    schedule = repo.get_schedule_def("customer_360_daily_job_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 7 * * 1", "America/New_York")


def test_schedule_job_rejects_a_bad_cron_or_timezone(plugin):
    with pytest.raises(ValueError, match="malformed cron"):
        plugin.schedule_job("customer_360_daily_job", "every day", "UTC")
    with pytest.raises(ValueError, match="IANA"):
        plugin.schedule_job("customer_360_daily_job", "0 7 * * *", "Mars/Olympus")


def test_validate_connection_to_an_unreachable_webserver_fails_with_what_to_do(plugin):
    plugin.webserver_url = f"http://127.0.0.1:{free_port()}"
    result = plugin.validate_connection()
    assert not result.success
    assert "cannot reach the Dagster webserver" in result.errors[0]
    assert "DAGSTER_WEBSERVER_URL" in result.errors[0]


def test_validate_connection_gives_up_on_a_silent_server_in_under_ten_seconds(plugin):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()  # accepts the connection, never answers
        plugin.webserver_url = f"http://127.0.0.1:{server.getsockname()[1]}"
        answered = threading.Event()
        results = []
        thread = threading.Thread(target=lambda: (results.append(plugin.validate_connection()), answered.set()))
        thread.start()
        assert answered.wait(10), "validate_connection did not answer within 10 s"
    assert not results[0].success and "timed out" in results[0].errors[0]


@pytest.mark.slow
def test_validate_connection_succeeds_against_a_running_webserver(plugin, dagster_home):
    port = free_port()
    webserver = subprocess.Popen(
        ["dagster-webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env=cli_env(DAGSTER_HOME=str(dagster_home)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        plugin.webserver_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while not (result := plugin.validate_connection()).success:
            assert webserver.poll() is None and time.monotonic() < deadline, result.errors
            time.sleep(1)
        assert result.details["dagster_version"]
    finally:
        os.killpg(webserver.pid, signal.SIGTERM)
        webserver.wait(timeout=60)


def test_emit_lineage_event_goes_through_the_artifacts_transport(edit_artifacts, tmp_path):
    from floe_dagster.observability.lineage import Dataset

    events = tmp_path / "lineage.jsonl"

    def file_transport(data: dict[str, Any]) -> None:
        k8s(data)
        data["observability"]["lineage"] = True
        data["dagster"]["lineage"] = {"type": "file", "path": str(events)}

    plugin = DagsterOrchestratorPlugin.for_product(edit_artifacts(file_transport))
    plugin.emit_lineage_event("START", "dbt_run", [Dataset("duckdb://warehouse", "raw.orders")],
                              [Dataset("duckdb://warehouse", "main.fct_orders")])
    (event,) = [json.loads(line) for line in events.read_text().splitlines()]
    assert (event["eventType"], event["job"]["name"]) == ("START", "dbt_run")
    assert [d["name"] for d in event["inputs"]] == ["raw.orders"]
    assert [d["name"] for d in event["outputs"]] == ["main.fct_orders"]
