"""floe's real compiler, with this package as its `dagster` orchestrator, compiles the demo.

One compile (with `--generate-definitions`) of a fresh copy of the demo's floe.yaml and
platform manifest; the tests read what it wrote, then run it through the real CLIs.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from floe_core.plugin_registry import get_registry
from floe_core.plugin_types import PluginType
from floe_core.plugins.orchestrator import OrchestratorPlugin
from floe_core.schemas.compiled_artifacts import CompiledArtifacts as FloeCompiledArtifacts

from floe_dagster import load_product_definitions
from floe_dagster.contract import CompiledArtifacts
from tests.conftest import DEMO, VENV_BIN, cli_env

pytestmark = pytest.mark.slow

PROVENANCE = ("compiled_at",)  # the only field that differs between two compiles


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, demo_manifest) -> Path:
    """A copy of the demo, compiled by `floe platform compile --generate-definitions`."""
    product = tmp_path_factory.mktemp("floe") / "customer_360"
    shutil.copytree(
        DEMO, product, ignore=shutil.ignore_patterns("target", "warehouse", "logs", "__pycache__")
    )
    (product / "compiled_artifacts.json").unlink()
    (product / "definitions.py").unlink()
    (product / "target").mkdir()
    shutil.copy(demo_manifest, product / "target" / "manifest.json")
    done = subprocess.run(
        [VENV_BIN / "floe", "platform", "compile", "--spec", "floe.yaml", "--manifest",
         "manifest.yaml", "--output", "compiled_artifacts.json", "--generate-definitions",
         "--no-lineage-emission"],
        cwd=product, env=cli_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return product


def written(product: Path) -> dict:
    return json.loads((product / "compiled_artifacts.json").read_text())


def test_floes_registry_loads_this_package_as_the_dagster_orchestrator():
    plugin = get_registry().get(PluginType.ORCHESTRATOR, "dagster")
    assert isinstance(plugin, OrchestratorPlugin)
    assert plugin.floe_api_version == "1.0"


def test_the_compiled_artifacts_validate_under_floes_model_and_here(compiled):
    data = written(compiled)
    assert FloeCompiledArtifacts.model_validate(data).version == "0.16.0"
    artifacts = CompiledArtifacts.model_validate(data)
    assert artifacts.product_name == "customer-360"
    assert artifacts.dagster.partition_schemes[0].name == "daily"


def test_the_demos_committed_artifacts_are_what_floe_compiles(compiled):
    fresh, committed = written(compiled), json.loads((DEMO / "compiled_artifacts.json").read_text())
    for data in (fresh, committed):
        for field in PROVENANCE:
            data["metadata"].pop(field)
    assert fresh == committed


def test_floe_dagster_validate_passes_on_floes_output(compiled):
    done = subprocess.run(
        [VENV_BIN / "floe-dagster", "validate", compiled],
        env=cli_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "customer_360: ok" in done.stdout


def test_the_definitions_py_floe_generates_through_this_plugin_loads(compiled):
    shim = (compiled / "definitions.py").read_text()
    assert 'load_product_definitions("customer-360", Path(__file__).parent)' in shim
    done = subprocess.run(
        [VENV_BIN / "dagster", "definitions", "validate", "-f", compiled / "definitions.py"],
        env=cli_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_every_asset_of_floes_output_materializes_with_every_check_passing(compiled, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [VENV_BIN / "dagster", "asset", "materialize", "--select", "*",
         "--partition-range", "2026-01-01...2026-04-10", "-f", compiled / "definitions.py"],
        env=cli_env(DAGSTER_HOME=str(home), FLOE_DUCKDB_PATH=str(tmp_path / "wh.duckdb")),
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    graph = load_product_definitions("customer-360", compiled).get_repository_def().asset_graph
    with DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        assert run.status == DagsterRunStatus.SUCCESS
        for key in graph.get_all_asset_keys():
            assert instance.get_latest_materialization_event(key), key
        evaluations = [
            e.dagster_event.event_specific_data
            for e in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
        ]
    assert {(e.asset_key, e.check_name) for e in evaluations} == {
        (c.asset_key, c.name) for c in graph.asset_check_keys
    }
    assert all(e.passed for e in evaluations)
