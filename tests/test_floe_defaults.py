"""A floe-compiled file with none of this package's settings loads with what floe put in it."""

import json
import re

import pytest
from dagster import AssetKey

from floe_dagster import load_product_definitions
from floe_dagster.contract import CompiledArtifacts
from floe_dagster.definitions import load_plan
from floe_dagster.observability.lineage import lineage_transport
from floe_dagster.plugin import DagsterOrchestratorPlugin
from tests.conftest import DEMO, floe_dagster_settings

DAGSTER_NAME = re.compile(r"^[A-Za-z0-9_]+$")
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def demo_artifacts() -> dict:
    return json.loads((DEMO / "compiled_artifacts.json").read_text())


def without_settings(data: dict) -> None:
    data["plugins"]["orchestrator"]["config"] = None


def test_floes_dbt_profiles_are_used_with_placeholders_expanded_and_the_project_name_aliased(
    edit_artifacts,
):
    def compiled_profile(data):
        output = {"type": "duckdb", "path": "warehouse/{product_slug}.duckdb", "threads": 1}
        data["dbt_profiles"] = {"customer-360": {"target": "dev", "outputs": {"dev": output}}}

    files = load_plan("customer-360", edit_artifacts(compiled_profile)).files
    profile = files.profiles["customer_360"]  # the name dbt_project.yml uses
    assert "warehouse/customer_360.duckdb" in profile["outputs"]["dev"]["path"]
    assert (files.profiles_dir / "profiles.yml").is_file()
    assert files.profiles_dir != files.project_dir


def test_a_file_without_settings_gets_assets_under_the_product_id_and_no_schedule(edit_artifacts):
    repo = load_product_definitions(
        "customer_360", edit_artifacts(without_settings)
    ).get_repository_def()
    assert (
        AssetKey(["default", "customer_360", "dim_customers"])
        in repo.asset_graph.get_all_asset_keys()
    )
    assert repo.schedule_defs == []


def test_default_schedule_builds_one_schedule_over_every_model_and_source(edit_artifacts):
    def default_schedule(data):
        settings = floe_dagster_settings(data)
        settings["schedules"] = []
        settings["default_schedule"] = {"cron": "30 5 * * *", "timezone": "Europe/Berlin"}

    repo = load_product_definitions(
        "customer_360", edit_artifacts(default_schedule)
    ).get_repository_def()
    (schedule,) = repo.schedule_defs
    assert schedule.name == "customer_360_default"
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 5 * * *", "Europe/Berlin")
    job = repo.get_job(schedule.job_name)
    assert set(job.asset_layer.selected_asset_keys) == repo.asset_graph.materializable_asset_keys


@pytest.mark.parametrize(
    ("observability", "backend", "expected"),
    [
        ({"lineage": False, "lineage_transport": "http", "lineage_endpoint": "http://m:5000/api/v1/lineage"}, None, ("off", None)),
        ({"lineage_transport": "noop"}, None, ("off", None)),
        ({"lineage_transport": "console"}, None, ("console", None)),
        ({"lineage_transport": "http", "lineage_endpoint": "http://marquez:5000/api/v1/lineage"}, None, ("http", "http://marquez:5000")),
        ({}, {"type": "marquez", "version": "0.1.0", "config": {"url": "http://marquez:5000"}}, ("http", "http://marquez:5000")),
        ({}, None, ("off", None)),
    ],
)  # fmt: skip
def test_lineage_goes_where_floes_fields_say(observability, backend, expected):
    data = demo_artifacts()
    without_settings(data)
    data["observability"].update({"lineage": True, "lineage_transport": None, **observability})
    data["plugins"]["lineage_backend"] = backend
    transport = lineage_transport(CompiledArtifacts.model_validate(data))
    assert (transport.type, transport.url) == expected


def test_floes_quality_tiers_and_tags_become_asset_tags(edit_artifacts):
    def tag(data):
        data["transforms"]["models"][0]["tags"] = ["staging", "pii"]

    repo = load_product_definitions("customer_360", edit_artifacts(tag)).get_repository_def()
    spec = repo.asset_graph.get(AssetKey(["sales", "customer_360", "stg_customers"]))
    assert spec.tags["floe/quality_tier"] == "bronze"
    assert "pii" in spec.tags


def test_a_hyphenated_floe_name_gives_valid_dagster_and_kubernetes_names(edit_artifacts):
    project = edit_artifacts(without_settings)
    assert (
        CompiledArtifacts.model_validate_json(
            (project / "compiled_artifacts.json").read_bytes()
        ).product_name
        == "customer-360"
    )
    repo = load_product_definitions("customer-360", project).get_repository_def()
    names = [j.name for j in repo.get_all_jobs()] + [s.name for s in repo.sensor_defs]
    assert names and all(DAGSTER_NAME.match(n) for n in names), names
    for key in repo.asset_graph.get_all_asset_keys():
        assert all(DAGSTER_NAME.match(part) for part in key.path), key
    plugin = DagsterOrchestratorPlugin.for_product(project)
    assert DNS_1123_LABEL.match(plugin.helm_release_name)
