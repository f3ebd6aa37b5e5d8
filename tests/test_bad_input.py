"""Bad product input: one clear FloeConfigError naming the file, the field and the fix."""

import json
import re
import shutil

import pytest
import yaml

from floe_dagster import FloeConfigError, load_product_definitions
from tests.conftest import floe_dagster_settings


def load_error(project) -> str:
    with pytest.raises(FloeConfigError) as info:
        load_product_definitions("customer_360", project)
    return str(info.value)


@pytest.mark.parametrize(
    "missing", ["compiled_artifacts.json", "dbt_project.yml", "target/manifest.json"]
)
def test_a_missing_file_is_named_with_its_fix(product_dir, missing):
    (product_dir / missing).unlink()
    message = load_error(product_dir)
    assert str(product_dir / missing) in message
    assert "file is missing" in message


def test_profiles_yml_is_required_only_when_floe_wrote_no_dbt_profiles(edit_artifacts):
    message = load_error(edit_artifacts(lambda d: d.update(dbt_profiles=None)))
    assert "profiles.yml: file is missing" in message
    assert "dbt_profiles" in message


def test_missing_manifest_says_how_to_build_it(product_dir):
    shutil.rmtree(product_dir / "target")
    assert "floe-dagster prepare" in load_error(product_dir)


def test_invalid_json_names_file_line_and_column(product_dir):
    path = product_dir / "compiled_artifacts.json"
    text = path.read_text()
    line = text[: text.index('"mode": "simple",')].count("\n") + 1
    path.write_text(text.replace('"mode": "simple",', '"mode": "simple",,'))
    message = load_error(product_dir)
    assert f"compiled_artifacts.json: line {line}, column" in message
    assert "invalid JSON" in message


def test_unknown_field_is_named_by_its_path(edit_artifacts):
    project = edit_artifacts(
        lambda d: floe_dagster_settings(d)["schedules"][0].update(crontab="0 6 * * *")
    )
    message = load_error(project)
    assert (
        "compiled_artifacts.json: plugins.orchestrator.config.schedules[0].crontab: unknown field"
        in message
    )


def test_an_older_schema_version_says_which_versions_are_read(edit_artifacts):
    project = edit_artifacts(lambda d: d.update(version="0.3.0"))
    message = load_error(project)
    assert "compiled_artifacts.json: version:" in message
    assert "'0.3.0' is older" in message and "0.4.0 to 0.16.x" in message


def test_schedule_selection_matching_no_model_is_an_error(edit_artifacts):
    project = edit_artifacts(
        lambda d: floe_dagster_settings(d)["schedules"][0].update(select="tag:nothing")
    )
    message = load_error(project)
    assert (
        "plugins.orchestrator.config.schedules[0].select: selection 'tag:nothing' matches no dbt model"
        in message
    )


def test_malformed_cron_is_an_error(edit_artifacts):
    project = edit_artifacts(
        lambda d: floe_dagster_settings(d)["schedules"][0].update(cron="0 25 * *")
    )
    message = load_error(project)
    assert "plugins.orchestrator.config.schedules[0].cron: malformed cron '0 25 * *'" in message


def test_unknown_timezone_is_an_error(edit_artifacts):
    project = edit_artifacts(
        lambda d: floe_dagster_settings(d)["schedules"][0].update(timezone="Mars/Olympus")
    )
    message = load_error(project)
    assert (
        "plugins.orchestrator.config.schedules[0].timezone: unknown timezone 'Mars/Olympus'"
        in message
    )


def test_manifest_of_another_dbt_project_is_an_error(product_dir):
    path = product_dir / "dbt_project.yml"
    project = yaml.safe_load(path.read_text())
    project["name"] = "billing"
    path.write_text(yaml.safe_dump(project))
    message = load_error(product_dir)
    assert "target/manifest.json: metadata.project_name" in message
    assert "dbt_project.yml names 'billing'" in message


def test_every_problem_is_listed_at_once(edit_artifacts):
    def two_mistakes(data):
        floe_dagster_settings(data)["schedules"][0]["cron"] = "never"
        floe_dagster_settings(data)["schedules"][0]["timezone"] = "Nowhere/Town"

    message = load_error(edit_artifacts(two_mistakes))
    assert "schedules[0].cron" in message and "schedules[0].timezone" in message


def test_a_model_the_artifacts_name_must_exist_in_the_manifest(edit_artifacts):
    project = edit_artifacts(
        lambda d: d["transforms"]["models"].append({"name": "fct_refunds", "compute": "duckdb"})
    )
    assert "transforms.models[9].name: model 'fct_refunds' is not in" in load_error(project)


def test_ingestion_table_must_be_a_table_of_its_dbt_source(edit_artifacts):
    project = edit_artifacts(
        lambda d: floe_dagster_settings(d)["ingestion"][0]["tables"].append("refunds")
    )
    message = load_error(project)
    assert (
        "plugins.orchestrator.config.ingestion[0].tables[1]: table 'refunds' is not a table of dbt source"
        in message
    )


def test_product_name_must_match_the_code_location(product_dir):
    with pytest.raises(
        FloeConfigError, match=re.escape("metadata.product_name: is 'customer-360'")
    ):
        load_product_definitions("billing", product_dir)


def test_artifacts_that_are_not_an_object_are_an_error(product_dir):
    (product_dir / "compiled_artifacts.json").write_text(json.dumps([1, 2]))
    assert "must hold a JSON object" in load_error(product_dir)


def test_unknown_partition_scheme_name_is_an_error(edit_artifacts):
    project = edit_artifacts(
        lambda d: floe_dagster_settings(d)["transforms"][3].update(partition_scheme="hourly")
    )
    message = load_error(project)
    assert (
        "plugins.orchestrator.config: transforms[3].partition_scheme 'hourly' is not a declared partition scheme"
        in message
    )


def test_partition_start_after_end_is_an_error(edit_artifacts):
    project = edit_artifacts(
        lambda d: floe_dagster_settings(d)["partition_schemes"][0].update(
            start="2026-05-01", end="2026-04-11"
        )
    )
    message = load_error(project)
    assert (
        "plugins.orchestrator.config.partition_schemes[0]: start 2026-05-01T00:00:00 is not before end"
        in message
    )


def test_a_model_assigned_to_two_schemes_is_an_error(edit_artifacts):
    def overlap(data):
        floe_dagster_settings(data)["partition_schemes"].append(
            {"name": "monthly", "cadence": "monthly", "start": "2026-01-01"}
        )
        floe_dagster_settings(data)["transforms"].append(
            {"select": "fct_orders", "partition_scheme": "monthly"}
        )

    message = load_error(edit_artifacts(overlap))
    assert (
        "plugins.orchestrator.config.transforms[4].partition_scheme: model 'fct_orders' is already assigned to scheme 'daily'"
        in message
    )
    assert "by plugins.orchestrator.config.transforms[3]" in message


def own_profiles(path: str, target: str = "dev"):
    """An edit that drops floe's compiled profiles for a profiles.yml of the product's own."""

    def edit(data):
        data["dbt_profiles"] = None

    def write(project):
        outputs = {target: {"type": "duckdb", "path": path}}
        profile = {"customer_360": {"target": target, "outputs": outputs}}
        (project / "profiles.yml").write_text(yaml.safe_dump(profile))
        return project

    return edit, write


def test_a_dbt_target_missing_from_the_profile_is_named_with_the_outputs(edit_artifacts):
    edit, write = own_profiles("{{ env_var('FLOE_DUCKDB_PATH') }}")

    def prod_target(data):
        edit(data)
        floe_dagster_settings(data)["dbt_target"] = "prod"

    message = load_error(write(edit_artifacts(prod_target)))
    assert "plugins.orchestrator.config.dbt_target: target 'prod' is not an output" in message
    assert "(outputs: dev)" in message


def test_a_profile_writing_to_another_duckdb_file_than_the_artifacts_name_is_an_error(
    edit_artifacts,
):
    edit, write = own_profiles("elsewhere/other.duckdb")
    message = load_error(write(edit_artifacts(edit)))
    assert "profiles.yml: customer_360.outputs.dev.path: writes to" in message
    assert "elsewhere/other.duckdb but plugins.compute.config.path names" in message
    assert "env_var('FLOE_DUCKDB_PATH'" in message


def test_a_selection_term_that_matches_nothing_is_named(edit_artifacts):
    project = edit_artifacts(
        lambda d: floe_dagster_settings(d)["transforms"][0].update(
            select="path:models/staging stg_nothing"
        )
    )
    message = load_error(project)
    assert "transforms[0].select: term 'stg_nothing' of selection" in message


def test_a_cron_hour_out_of_range_says_so(edit_artifacts):
    project = edit_artifacts(
        lambda d: floe_dagster_settings(d)["schedules"][0].update(cron="0 25 * * *")
    )
    assert "hour 25 is out of range 0-23" in load_error(project)


def test_a_setting_past_its_published_limit_names_the_field_the_value_and_the_fix(edit_artifacts):
    project = edit_artifacts(
        lambda d: floe_dagster_settings(d).update(sensors={"staleness": {"window": 5000}})
    )
    message = load_error(project)
    assert (
        "compiled_artifacts.json: plugins.orchestrator.config.sensors.staleness.window: " in message
    )
    assert "less than or equal to 1000 (got 5000); set a value within the bound" in message


def test_a_window_over_more_partitions_than_a_tick_judges_is_refused_at_load(
    edit_artifacts, monkeypatch
):
    monkeypatch.setattr("floe_dagster.loading.limits.MAX_JUDGED_PARTITIONS", 10)
    project = edit_artifacts(
        lambda d: floe_dagster_settings(d).update(sensors={"staleness": {"window": 30}})
    )
    message = load_error(project)
    assert "plugins.orchestrator.config.sensors.staleness.window: " in message
    assert "above the limit of 10 (docs/operations.md#limits); set the window to at most" in message


def test_the_judged_partition_limit_names_the_largest_window_that_fits():
    from floe_dagster.contract.dagster_section import StalenessPolicy
    from floe_dagster.loading.limits import staleness_problems

    (problem,) = staleness_problems(StalenessPolicy(window=1000), 2000, "compiled_artifacts.json")
    assert "2,000 partitioned assets x a window of 1,000 is 2,000,000 partitions" in problem.message
    assert "set the window to at most 50," in problem.message
    assert staleness_problems(StalenessPolicy(window=50), 2000, "compiled_artifacts.json") == []
    assert staleness_problems(StalenessPolicy(window=1000, enabled=False), 2000, "x") == []
