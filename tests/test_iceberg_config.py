"""floe's catalog and storage bindings become one Iceberg outputs config, credentials by reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey

from floe_dagster.contract.artifacts import CompiledArtifacts
from floe_dagster.definitions import load_plan
from floe_dagster.errors import FloeConfigError
from floe_dagster.loading.iceberg_outputs import iceberg_outputs
from floe_dagster.observability.datasets import product_lineage
from floe_dagster.observability.lineage import Dataset
from tests.iceberg_services import CATALOG_URI_ENV, iceberg_deployment

FIXTURES = Path(__file__).parent / "fixtures" / "floe_contract"
WHERE = "/products/p/compiled_artifacts.json"
OAUTH2_ENV = {
    "POLARIS_CLIENT_ID": "the-client",
    "POLARIS_CLIENT_SECRET": "s3cr3t-value",
    "POLARIS_OAUTH2_SERVER_URI": "http://polaris:8181/api/catalog/v1/oauth/tokens",
}


def floe_file(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def artifacts(data: dict[str, Any]) -> CompiledArtifacts:
    return CompiledArtifacts.model_validate(data)


def test_polaris_as_floe_writes_it_is_a_rest_catalog_on_the_minio_endpoint():
    config = iceberg_outputs(artifacts(floe_file("v0_16_0_polaris.json")), WHERE)
    assert config is not None
    assert (config.catalog_type, config.catalog_name) == ("rest", "polaris")
    assert (config.uri, config.warehouse) == ("http://polaris:8181/api/catalog", "floe-warehouse")
    assert (config.s3_endpoint, config.s3_region, config.s3_path_style) == (
        "http://minio:9000",
        "us-east-1",
        True,
    )
    assert config.oauth2 is not None
    assert (config.oauth2.client_id_env, config.oauth2.client_secret_env) == (
        "POLARIS_CLIENT_ID",
        "POLARIS_CLIENT_SECRET",
    )


def test_the_oauth2_secret_is_read_from_its_env_var_only_when_the_catalog_is_opened():
    config = iceberg_outputs(artifacts(floe_file("v0_16_0_polaris.json")), WHERE)
    assert config is not None
    assert "s3cr3t-value" not in repr(config)
    props = config.catalog_properties(OAUTH2_ENV)
    assert props["credential"] == "the-client:s3cr3t-value"
    assert props["oauth2-server-uri"] == OAUTH2_ENV["POLARIS_OAUTH2_SERVER_URI"]
    assert props["scope"] == "PRINCIPAL_ROLE:ALL"  # floe's default when POLARIS_SCOPE is unset
    assert props["header.X-Iceberg-Access-Delegation"] == "vended-credentials"


def test_an_unset_oauth2_env_var_is_an_error_naming_the_variable_and_field():
    config = iceberg_outputs(artifacts(floe_file("v0_16_0_polaris.json")), WHERE)
    assert config is not None
    env = {k: v for k, v in OAUTH2_ENV.items() if k != "POLARIS_CLIENT_SECRET"}
    with pytest.raises(FloeConfigError) as error:
        config.catalog_properties(env)
    assert "deployment.catalog.iceberg_rest.oauth2.client_secret_env" in str(error.value)
    assert "'POLARIS_CLIENT_SECRET'" in str(error.value)


def test_a_sql_catalog_takes_its_uri_from_the_env_var_the_storage_binding_names():
    data = floe_file("v0_16_0_polaris.json")
    data["deployment"] = iceberg_deployment("http://127.0.0.1:9000")
    config = iceberg_outputs(artifacts(data), WHERE)
    assert config is not None
    assert (config.catalog_type, config.warehouse) == ("sql", "s3://floe-warehouse/customer_360")
    props = config.catalog_properties(
        {CATALOG_URI_ENV: "postgresql+psycopg2://u@db/x", "FLOE_TEST_S3_ACCESS_KEY": "k"}
    )
    assert props["uri"] == "postgresql+psycopg2://u@db/x"
    assert props["s3.access-key-id"] == "k"


def test_storage_without_a_catalog_is_an_error_naming_the_missing_binding():
    data = floe_file("v0_16_0_polaris.json")
    data["deployment"]["catalog"] = None
    with pytest.raises(FloeConfigError) as error:
        iceberg_outputs(artifacts(data), WHERE)
    assert f"{WHERE}: deployment.catalog: deployment.storage is set but" in str(error.value)


def test_a_sql_catalog_without_its_uri_is_an_error_saying_where_to_set_it():
    data = floe_file("v0_16_0_polaris.json")
    data["deployment"] = iceberg_deployment("http://127.0.0.1:9000")
    data["deployment"]["storage"]["runtime"]["env_refs"] = {}
    with pytest.raises(FloeConfigError) as error:
        iceberg_outputs(artifacts(data), WHERE)
    assert "deployment.storage.runtime.env_refs.catalog_uri" in str(error.value)


def test_no_deployment_bindings_means_no_iceberg_outputs():
    assert iceberg_outputs(artifacts(floe_file("v0_9_0.json")), WHERE) is None


def test_lineage_outputs_name_the_iceberg_tables_namespace_catalog_name_table(edit_artifacts):
    product = edit_artifacts(lambda data: data.update(deployment=iceberg_deployment("http://s3")))
    lineage = product_lineage(load_plan("customer_360", product))
    prefix = ["sales", "customer_360"]
    assert (
        Dataset("iceberg", "main.fct_orders") in lineage[AssetKey([*prefix, "fct_orders"])].outputs
    )
    assert (
        Dataset("iceberg", "raw.orders") in lineage[AssetKey([*prefix, "shop", "orders"])].outputs
    )
    views = lineage[AssetKey([*prefix, "stg_orders"])].outputs
    assert views and all(d.namespace != "iceberg" for d in views)  # a view is not written
