"""`floe-dagster init`: what it writes is valid for floe and for this package; it refuses bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from floe_dagster.cli import main
from floe_dagster.contract.artifacts import CompiledArtifacts
from floe_dagster.loading.init_product import artifacts_for, init_product
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "products"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    target = tmp_path / "corner_shop"
    shutil.copytree(FIXTURES / "corner_shop", target)
    return target


def test_the_written_artifacts_are_valid_under_floes_model_and_this_packages():
    from floe_core.schemas.compiled_artifacts import CompiledArtifacts as FloeCompiledArtifacts

    data = artifacts_for("corner-shop", "0.3.0", None, "warehouse/corner_shop.duckdb", "sha256:00")
    FloeCompiledArtifacts.model_validate_json(json.dumps(data))
    ours = CompiledArtifacts.model_validate(data)
    assert ours.safe_name == "corner_shop"
    assert ours.asset_key_prefix == ["corner_shop"]
    assert ours.observability.telemetry.enabled is False and ours.observability.lineage is False


def test_telemetry_attributes_are_derived_from_the_name_and_version():
    data = artifacts_for(
        "corner-shop", "0.3.0", "retail", "warehouse/corner_shop.duckdb", "sha256:00"
    )
    attributes = data["observability"]["telemetry"]["resource_attributes"]
    assert attributes["service_name"] == "corner_shop"
    assert attributes["service_version"] == attributes["floe_product_version"] == "0.3.0"
    assert attributes["floe_product_name"] == "corner-shop"
    assert attributes["floe_namespace"] == "retail"
    assert data["identity"]["product_id"] == "retail.corner_shop"


def test_init_writes_the_three_files_with_placeholders_marked(shop):
    result = init_product(shop, name="corner-shop")
    assert result.written == ["compiled_artifacts.json", "definitions.py", "profiles.yml"]
    artifacts = json.loads((shop / "compiled_artifacts.json").read_text())
    assert artifacts["identity"]["repository"] == "TODO"
    assert artifacts["plugins"]["orchestrator"]["config"]["owners"] == ["team:TODO"]
    assert artifacts["plugins"]["compute"]["config"] == {"path": "warehouse/corner_shop.duckdb"}
    assert artifacts["metadata"]["product_version"] == "0.3.0"  # dbt_project.yml's
    assert (
        "load_product_definitions('corner-shop', Path(__file__).parent)"
        in (shop / "definitions.py").read_text()
    )
    profiles = (shop / "profiles.yml").read_text()
    assert profiles.startswith("corner_shop:")
    assert "env_var('FLOE_DUCKDB_PATH', 'warehouse/corner_shop.duckdb')" in profiles
    assert set(result.placeholders) == {
        "identity.domain",
        "identity.repository",
        "plugins.orchestrator.config.owners",
    }


def test_an_existing_profiles_yml_is_kept_and_its_duckdb_path_becomes_the_warehouse(shop):
    (shop / "profiles.yml").write_text(
        "corner_shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        "      path: data/shop.duckdb\n"
    )
    result = init_product(shop)
    assert result.kept == ["profiles.yml"]
    artifacts = json.loads((shop / "compiled_artifacts.json").read_text())
    assert artifacts["plugins"]["compute"]["config"]["path"] == "data/shop.duckdb"
    assert artifacts["metadata"]["product_name"] == "corner_shop"  # dbt_project.yml's name


def test_init_never_overwrites_a_product_file_without_force(shop, capsys):
    (shop / "definitions.py").write_text("# mine\n")
    assert main(["init", str(shop)]) == 1
    err = capsys.readouterr().err
    assert f"{shop / 'definitions.py'}: exists" in err and "--force" in err
    assert (shop / "definitions.py").read_text() == "# mine\n"
    assert not (shop / "compiled_artifacts.json").exists()


def test_force_overwrites(shop):
    (shop / "definitions.py").write_text("# mine\n")
    init_product(shop, force=True)
    assert "load_product_definitions" in (shop / "definitions.py").read_text()


def test_a_directory_without_dbt_project_yml_is_named_in_the_error(tmp_path, capsys):
    assert main(["init", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'dbt_project.yml'}: not found" in err


def test_a_product_name_floe_rejects_is_an_error_naming_the_option(shop, capsys):
    assert main(["init", str(shop), "--name", "9 shops"]) == 1
    err = capsys.readouterr().err
    assert "--name: '9 shops' is not a floe product name" in err
    assert not (shop / "compiled_artifacts.json").exists()
