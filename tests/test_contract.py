"""The compiled-artifacts contract: floe's files validate here and ours under floe's model."""

import json
import logging

import pytest
from floe_core.schemas.compiled_artifacts import CompiledArtifacts as FloeCompiledArtifacts

from floe_dagster import FloeConfigError, load_product_definitions
from floe_dagster.contract import CompiledArtifacts, DagsterSection
from floe_dagster.contract.artifacts import json_schema, json_schema_text, safe_name
from tests.conftest import DEMO, REPO, floe_dagster_settings

MASK = "**********"  # how floe's compiler writes a SecretStr into compiled_artifacts.json


def demo_artifacts() -> dict:
    return json.loads((DEMO / "compiled_artifacts.json").read_text())


def test_schema_file_in_repo_matches_the_exported_schema():
    assert (REPO / "schema" / "compiled_artifacts.schema.json").read_text() == json_schema_text()


def test_schema_forbids_unknown_fields_everywhere():
    schema = json_schema()
    objects = [schema, *schema["$defs"].values()]
    assert all(o.get("additionalProperties") is False for o in objects if "properties" in o)


def test_every_field_is_documented():
    for name, definition in json_schema()["$defs"].items():
        for field, prop in definition.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{field} has no description"


def test_the_demo_artifacts_validate_unchanged_under_floes_own_model():
    data = demo_artifacts()
    floe = FloeCompiledArtifacts.model_validate(data)
    assert floe.plugins.orchestrator.config == floe_dagster_settings(data)


def test_this_packages_settings_live_in_the_orchestrator_plugins_config():
    artifacts = CompiledArtifacts.model_validate(demo_artifacts())
    assert artifacts.dagster.partition_schemes[0].name == "daily"
    assert "dagster" not in artifacts.model_dump()


def test_a_floe_file_without_our_settings_loads_with_defaults():
    data = demo_artifacts()
    data["plugins"]["orchestrator"].pop("config")
    assert CompiledArtifacts.model_validate(data).dagster == DagsterSection()


@pytest.mark.parametrize("version", ["0.17.0", "1.0.0"])
def test_a_newer_contract_version_names_the_field_the_supported_versions_and_the_fix(
    edit_artifacts, version
):
    project = edit_artifacts(lambda d: d.update(version=version))
    with pytest.raises(FloeConfigError) as info:
        load_product_definitions("customer_360", project)
    message = str(info.value)
    assert "compiled_artifacts.json: version" in message
    assert "0.4.0 to 0.16.x" in message
    assert "upgrade floe-dagster" in message


def test_an_orchestrator_other_than_dagster_is_refused_naming_the_field(edit_artifacts):
    project = edit_artifacts(lambda d: d["plugins"]["orchestrator"].update(type="airflow"))
    with pytest.raises(FloeConfigError, match=r"plugins\.orchestrator\.type"):
        load_product_definitions("customer_360", project)


def test_a_settings_error_names_its_path_under_the_orchestrator_config(edit_artifacts):
    project = edit_artifacts(
        lambda d: floe_dagster_settings(d)["partition_schemes"][0].update(cadence="yearly")
    )
    with pytest.raises(FloeConfigError) as info:
        load_product_definitions("customer_360", project)
    assert "plugins.orchestrator.config.partition_schemes[0].cadence" in str(info.value)


def test_a_masked_otlp_api_key_is_accepted_and_never_logged(edit_artifacts, caplog):
    def masked_key(data):
        data["observability"]["telemetry"]["authentication"] = {
            "auth_type": "api_key",
            "api_key": MASK,
            "header_name": "DD-API-KEY",
        }
        floe_dagster_settings(data)["telemetry"] = {"credential_env": "OTLP_API_KEY"}

    with caplog.at_level(logging.DEBUG):
        defs = load_product_definitions("customer_360", edit_artifacts(masked_key))
    assert defs.get_repository_def().asset_graph.get_all_asset_keys()
    assert MASK not in caplog.text


def test_an_unmasked_otlp_api_key_is_refused_naming_the_env_var_alternative(edit_artifacts):
    def inline_key(data):
        data["observability"]["telemetry"]["authentication"] = {
            "auth_type": "api_key",
            "api_key": "dd-secret-value",
        }

    with pytest.raises(FloeConfigError) as info:
        load_product_definitions("customer_360", edit_artifacts(inline_key))
    message = str(info.value)
    assert "observability.telemetry.authentication.api_key" in message
    assert "credential_env" in message
    assert "dd-secret-value" not in message


@pytest.mark.parametrize(
    ("floe_name", "expected"),
    [("customer-360", "customer_360"), ("orders--daily-", "orders__daily"), ("a_b", "a_b")],
)
def test_the_safe_name_is_derived_as_floe_derives_its_dbt_project_name(floe_name, expected):
    from floe_core.compilation.naming import dbt_project_name

    assert safe_name(floe_name) == expected == dbt_project_name(floe_name)
