"""The compiled-artifacts contract: floe's files validate, the schema is exported and kept."""

import json

import pytest

from floe_dagster import FloeConfigError, load_product_definitions
from floe_dagster.contract import CompiledArtifacts
from floe_dagster.contract.artifacts import json_schema, json_schema_text
from tests.conftest import DEMO, REPO


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


def test_a_floe_compiler_file_without_the_dagster_section_validates_unchanged():
    data = demo_artifacts()
    del data["dagster"]
    data["governance"] = {"pii_encryption": "required", "data_retention_days": 90}
    data["enforcement_result"] = {
        "passed": True,
        "error_count": 0,
        "warning_count": 1,
        "policy_types_checked": ["naming"],
        "models_validated": 9,
        "enforcement_level": "warn",
    }
    data["data_contracts"] = [{"name": "orders", "schema_hash": "abc"}]
    artifacts = CompiledArtifacts.model_validate(data)
    assert artifacts.version == "0.4.0"
    assert artifacts.asset_key_prefix == ["sales", "customer_360"]


def test_inline_otlp_api_key_is_refused_without_echoing_the_secret(edit_artifacts):
    def inline_key(data):
        data["observability"]["telemetry"]["authentication"] = {
            "auth_type": "api_key",
            "api_key": "dd-secret-value",
        }

    project = edit_artifacts(inline_key)
    with pytest.raises(FloeConfigError) as info:
        load_product_definitions("customer_360", project)
    message = str(info.value)
    assert "observability.telemetry.authentication" in message
    assert "credential_env" in message
    assert "dd-secret-value" not in message


def test_otlp_credentials_by_env_var_name_are_accepted():
    data = demo_artifacts()
    data["observability"]["telemetry"]["authentication"] = {
        "auth_type": "api_key",
        "credential_env": "OTLP_API_KEY",
        "header_name": "DD-API-KEY",
    }
    assert CompiledArtifacts.model_validate(data).observability.telemetry.authentication
