"""DagsterOrchestratorPlugin: floe-core 0.1.0a1's OrchestratorPlugin, answered by this package.

floe's own classes are the reference: its registry and loader load the plugin, and its ABC's
members and signatures are compared directly (no test copy of the interface).
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from importlib.metadata import entry_points, version
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from dagster import AssetKey, SensorDefinition
from floe_core.plugin_errors import PluginConfigurationError
from floe_core.plugin_metadata import HealthState, HealthStatus, PluginMetadata
from floe_core.plugin_registry import PluginRegistry, get_registry
from floe_core.plugin_types import PluginType
from floe_core.plugins.discovery import PluginDiscovery
from floe_core.plugins.loader import PluginLoader
from floe_core.plugins.orchestrator import (
    OrchestratorPlugin,
    ResourceSpec,
    TransformConfig,
    ValidationResult,
)
from floe_core.version_compat import FLOE_PLUGIN_API_VERSION, is_compatible

from floe_dagster.errors import FloeConfigError
from floe_dagster.plugin import DagsterOrchestratorPlugin
from tests.conftest import REPO, VENV_BIN, cli_env, floe_dagster_settings, free_port

CHART_SCHEMA = json.loads((REPO / "helm" / "floe-dagster" / "values.schema.json").read_text())
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def k8s(data: dict[str, Any]) -> None:
    floe_dagster_settings(data)["execution"] = {
        "mode": "k8s",
        "default_workload_size": "medium",
        "workload_sizes": {
            "medium": {
                "cpu_request": "500m",
                "cpu_limit": "1500m",
                "memory_request": "1Gi",
                "memory_limit": "3Gi",
            }
        },
        "k8s": {
            "image": "registry.example/floe/customer_360:1.0.0",
            "env_secrets": ["customer-360-env"],
        },
    }


@pytest.fixture
def plugin(edit_artifacts) -> DagsterOrchestratorPlugin:
    return DagsterOrchestratorPlugin.for_product(edit_artifacts(k8s))


def _floe_members(cls: type) -> dict[str, Any]:
    """Every public member floe's ABC defines (own and inherited from PluginMetadata)."""
    members = {}
    for klass in reversed(cls.__mro__):
        if klass in (OrchestratorPlugin, PluginMetadata):
            members.update(
                {
                    n: m
                    for n, m in vars(klass).items()
                    if not n.startswith("_") and (inspect.isfunction(m) or isinstance(m, property))
                }
            )
    return members


def _parameters(function: Any) -> list[tuple[str, Any]]:
    return [(p.name, p.kind) for p in inspect.signature(function).parameters.values()]


# -- floe loads it -------------------------------------------------------------------------


def test_plugin_is_registered_under_floe_orchestrators():
    (entry,) = [e for e in entry_points(group="floe.orchestrators") if e.name == "dagster"]
    assert entry.load() is DagsterOrchestratorPlugin


def test_floe_registry_loads_it_as_its_orchestrator_plugin_with_no_api_version_error():
    plugin = get_registry().get(PluginType.ORCHESTRATOR, "dagster")
    assert isinstance(plugin, OrchestratorPlugin)
    assert isinstance(plugin, DagsterOrchestratorPlugin)


def test_floe_plugin_loader_loads_it_from_the_entry_point():
    discovery = PluginDiscovery()
    discovery.discover_all()
    loader = PluginLoader(discovery)
    plugin = loader.get(PluginType.ORCHESTRATOR, "dagster")
    assert isinstance(plugin, OrchestratorPlugin) and loader.is_loaded(
        PluginType.ORCHESTRATOR, "dagster"
    )


def test_no_abstract_member_of_floes_abc_is_left_unimplemented():
    assert OrchestratorPlugin.__abstractmethods__  # floe's ABC does declare some
    assert DagsterOrchestratorPlugin.__abstractmethods__ == frozenset()
    assert isinstance(
        DagsterOrchestratorPlugin(), OrchestratorPlugin
    )  # as floe creates it: no arguments


def test_every_member_of_floes_abc_exists_with_floes_parameters():
    members = _floe_members(OrchestratorPlugin)
    assert set(OrchestratorPlugin.__abstractmethods__) <= set(members)
    for name, floe_member in members.items():
        ours = inspect.getattr_static(DagsterOrchestratorPlugin, name)
        if isinstance(floe_member, property):
            assert isinstance(ours, property), name
        else:
            assert _parameters(getattr(DagsterOrchestratorPlugin, name)) == _parameters(
                floe_member
            ), name


def test_metadata_is_what_floe_checks_and_reports():
    plugin = DagsterOrchestratorPlugin()
    assert plugin.name == "dagster"
    assert plugin.version == version("floe-dagster")
    assert plugin.floe_api_version == "1.0"
    assert is_compatible(plugin.floe_api_version, FLOE_PLUGIN_API_VERSION)
    assert plugin.tracer_name == "floe_dagster"
    assert plugin.dependencies == [] and plugin.description


def test_floe_registry_validates_orchestrator_config_with_this_packages_settings():
    registry = PluginRegistry()
    registry.discover_all()
    registry.configure(PluginType.ORCHESTRATOR, "dagster", {"execution": {"mode": "local"}})
    with pytest.raises(PluginConfigurationError, match="execution"):
        registry.configure(PluginType.ORCHESTRATOR, "dagster", {"execution": {"mode": "yarn"}})


# -- definitions -----------------------------------------------------------------------------


def test_create_definitions_validates_the_artifacts_and_loads_the_product(plugin):
    defs = plugin.create_definitions(json.loads(plugin.artifacts.model_dump_json()))
    keys = defs.get_repository_def().asset_graph.get_all_asset_keys()
    assert AssetKey(["sales", "customer_360", "fct_orders"]) in keys


def test_create_definitions_rejects_invalid_artifacts_naming_the_field(plugin):
    data = json.loads(plugin.artifacts.model_dump_json())
    floe_dagster_settings(data)["execution"]["mode"] = "yarn"
    with pytest.raises(FloeConfigError, match=r"plugins\.orchestrator\.config\.execution\.mode"):
        plugin.create_definitions(data)


def test_create_definitions_without_a_product_directory_says_how_to_get_one(plugin):
    with pytest.raises(FloeConfigError, match=r"for_product\(project_dir\)"):
        DagsterOrchestratorPlugin().create_definitions(
            json.loads(plugin.artifacts.model_dump_json())
        )


def test_assets_from_floes_transform_configs_are_the_dbt_steps_that_build_those_models(plugin):
    (step,) = plugin.create_assets_from_transforms([TransformConfig(name="dim_customers")])
    assert AssetKey(["sales", "customer_360", "dim_customers"]) in step.keys


def test_sensor_definition_is_the_bound_products_staleness_sensor(plugin):
    sensor = plugin.sensor_definition()
    assert isinstance(sensor, SensorDefinition) and sensor.name == "customer_360_staleness"
    assert DagsterOrchestratorPlugin().sensor_definition() is None


def test_no_floe_lineage_emitter_is_offered():
    assert DagsterOrchestratorPlugin().get_lineage_emitter() is None


# -- the entry point floe's compiler writes --------------------------------------------------


def test_the_entry_point_floes_compiler_writes_through_the_plugin_loads_in_dagster(
    product_dir, dagster_home
):
    from floe_core.cli.platform.compile import _generate_orchestrator_entry_point
    from floe_core.schemas.compiled_artifacts import CompiledArtifacts as FloeCompiledArtifacts

    (product_dir / "definitions.py").unlink()
    artifacts = FloeCompiledArtifacts.model_validate_json(
        (product_dir / "compiled_artifacts.json").read_text()
    )
    assert "-" in artifacts.metadata.product_name  # floe's name, as its compiler passes it
    # floe's `--generate-definitions` step: entry point lookup, plugin_cls(), generate_entry_point_code(...)
    path = _generate_orchestrator_entry_point(artifacts, product_dir)
    assert path == str(product_dir / "definitions.py")
    done = subprocess.run(
        [str(VENV_BIN / "dagster"), "definitions", "validate", "-f", path, "-d", str(product_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=cli_env(DAGSTER_HOME=str(dagster_home)),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_entry_point_is_the_thin_shim_with_floes_name_as_given(tmp_path):
    path = Path(
        DagsterOrchestratorPlugin().generate_entry_point_code("customer-360", str(tmp_path / "out"))
    )
    module = ast.parse(path.read_text())
    (defs,) = [n for n in module.body if isinstance(n, ast.Assign)]
    assert (
        ast.unparse(defs)
        == "defs = load_product_definitions('customer-360', Path(__file__).parent)"
    )
    imports = [ast.unparse(n) for n in module.body if isinstance(n, ast.ImportFrom)]
    assert imports == [
        "from pathlib import Path",
        "from floe_dagster import load_product_definitions",
    ]


def test_generate_entry_point_refuses_a_name_floe_would_not_write(tmp_path):
    with pytest.raises(ValueError, match="invalid product name"):
        DagsterOrchestratorPlugin().generate_entry_point_code('x"); import os; ("', str(tmp_path))
    assert not (tmp_path / "definitions.py").exists()


# -- deployment ------------------------------------------------------------------------------


def test_helm_values_validate_against_the_chart_schema(plugin):
    values = plugin.get_helm_values()
    jsonschema.validate(values, CHART_SCHEMA)
    (product,) = values["products"]
    assert product["name"] == "customer_360"
    assert product["image"] == "registry.example/floe/customer_360:1.0.0"
    assert product["envFromSecrets"] == ["customer-360-env"]
    assert product["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "1500m", "memory": "3Gi"},
    }


def test_a_hyphenated_floe_name_gets_valid_helm_and_kubernetes_names(edit_artifacts):
    def hyphenated(data: dict[str, Any]) -> None:
        k8s(data)
        data["metadata"]["product_name"] = "Customer-360"

    plugin = DagsterOrchestratorPlugin.for_product(edit_artifacts(hyphenated))
    values = plugin.get_helm_values()
    jsonschema.validate(values, CHART_SCHEMA)
    (product,) = values["products"]
    assert product["name"] == "Customer_360"
    assert plugin.helm_release_name == "customer-360"
    assert DNS_1123_LABEL.match(plugin.helm_release_name) and len(plugin.helm_release_name) <= 53
    # The chart's own names: <release>-<product, dashed and lowercased>.
    assert DNS_1123_LABEL.match(
        f"{plugin.helm_release_name}-{product['name'].replace('_', '-').lower()}"
    )


def test_helm_values_without_k8s_settings_name_where_they_go(edit_artifacts):
    plugin = DagsterOrchestratorPlugin.for_product(edit_artifacts(lambda data: None))
    with pytest.raises(
        FloeConfigError, match=r"plugins\.orchestrator\.config\.execution\.k8s: is missing"
    ):
        plugin.get_helm_values()


def test_resource_requirements_are_floes_resource_spec_from_the_artifacts_table(plugin):
    medium = plugin.get_resource_requirements("medium")
    assert type(medium) is ResourceSpec
    assert medium == ResourceSpec("500m", "1500m", "1Gi", "3Gi")
    assert plugin.get_resource_requirements("large") == ResourceSpec("2", "4", "8Gi", "16Gi")
    with pytest.raises(ValueError, match="small, medium, large"):
        plugin.get_resource_requirements("huge")


def test_schedule_job_adds_a_schedule_in_its_timezone(plugin):
    plugin.schedule_job("customer_360_daily_job", "0 7 * * 1", "America/New_York")
    repo = plugin.create_definitions(plugin.artifacts).get_repository_def()
    schedule = repo.get_schedule_def("customer_360_daily_job_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == (
        "0 7 * * 1",
        "America/New_York",
    )


def test_schedule_job_rejects_a_bad_cron_or_timezone(plugin):
    with pytest.raises(ValueError, match="malformed cron"):
        plugin.schedule_job("customer_360_daily_job", "every day", "UTC")
    with pytest.raises(ValueError, match="IANA"):
        plugin.schedule_job("customer_360_daily_job", "0 7 * * *", "Mars/Olympus")


# -- the orchestration service ---------------------------------------------------------------


def test_validate_connection_to_a_closed_port_fails_fast_with_what_to_do():
    plugin = DagsterOrchestratorPlugin(webserver_url=f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    result = plugin.validate_connection()
    assert time.monotonic() - started < 10
    assert type(result) is ValidationResult and not result.success
    assert "cannot reach the Dagster webserver" in result.errors[0]
    assert "dagster dev" in result.errors[0] and "DAGSTER_WEBSERVER_URL" in result.errors[0]


def test_validate_connection_gives_up_on_a_silent_server_in_under_ten_seconds():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()  # accepts the connection, never answers
        plugin = DagsterOrchestratorPlugin(
            webserver_url=f"http://127.0.0.1:{server.getsockname()[1]}"
        )
        answered = threading.Event()
        results = []
        thread = threading.Thread(
            target=lambda: (results.append(plugin.validate_connection()), answered.set())
        )
        thread.start()
        assert answered.wait(10), "validate_connection did not answer within 10 s"
    assert not results[0].success and "timed out" in results[0].errors[0]


def test_health_check_of_an_unreachable_webserver_is_unhealthy_within_its_timeout():
    plugin = DagsterOrchestratorPlugin(webserver_url=f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    status = plugin.health_check(timeout=2.0)
    assert time.monotonic() - started < 2.5
    assert type(status) is HealthStatus and status.state is HealthState.UNHEALTHY
    assert "cannot reach the Dagster webserver" in status.message


@pytest.mark.slow
def test_validate_connection_and_health_check_succeed_against_a_running_webserver(
    dagster_home, demo_manifest
):
    port = free_port()
    webserver = subprocess.Popen(
        [
            str(VENV_BIN / "dagster-webserver"),
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=cli_env(DAGSTER_HOME=str(dagster_home)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        plugin = DagsterOrchestratorPlugin(webserver_url=f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 120
        while not (result := plugin.validate_connection()).success:
            assert webserver.poll() is None and time.monotonic() < deadline, result.errors
            time.sleep(1)
        assert "answered (dagster " in result.message
        status = plugin.health_check()
        assert status.state is HealthState.HEALTHY and status.details["dagster_version"]
    finally:
        os.killpg(webserver.pid, signal.SIGTERM)
        webserver.wait(timeout=60)


# -- without floe-core -----------------------------------------------------------------------

WITHOUT_FLOE_CORE = """
import sys
sys.modules["floe_core"] = None  # floe-core not installed
from pathlib import Path
from floe_dagster import load_product_definitions
defs = load_product_definitions("customer-360", Path(sys.argv[1]))
print("assets:", len(defs.get_repository_def().asset_graph.get_all_asset_keys()))
assert not [m for m in sys.modules if m.startswith("floe_core.")]
try:
    import floe_dagster.plugin
except ImportError as exc:
    print("plugin:", exc)
"""


def test_the_package_works_without_floe_core_and_the_plugin_says_what_it_needs(
    product_dir, dagster_home
):
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_FLOE_CORE, str(product_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=cli_env(DAGSTER_HOME=str(dagster_home)),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^assets: [1-9]", done.stdout, re.M), done.stdout
    (message,) = [line for line in done.stdout.splitlines() if line.startswith("plugin:")]
    assert "needs floe-core" in message and "pip install floe-core" in message
