"""customer_360 becomes the Dagster definitions a user expects to see."""

import json
from datetime import UTC

import pytest
from dagster import AssetKey, DefaultScheduleStatus

from floe_dagster import load_product_definitions
from tests.conftest import DEMO

PREFIX = ["sales", "customer_360"]


@pytest.fixture(scope="module")
def repo(demo_manifest):
    return load_product_definitions("customer_360", DEMO).get_repository_def()


def key(*parts: str) -> AssetKey:
    return AssetKey([*PREFIX, *parts])


def test_every_dbt_model_and_ingested_table_is_an_asset_under_the_product_namespace(repo):
    models = [
        "stg_customers",
        "stg_orders",
        "stg_payments",
        "int_order_payments",
        "int_customer_orders",
        "fct_orders",
        "fct_daily_revenue",
        "dim_customers",
        "country_revenue",
    ]
    tables = [("shop", t) for t in ("customers", "orders", "payments")]
    expected = {key(m) for m in models} | {key(*t) for t in tables}
    assert set(repo.asset_graph.get_all_asset_keys()) == expected


def test_ingestion_assets_are_upstream_of_the_dbt_sources_they_feed(repo):
    node = repo.asset_graph.get(key("stg_orders"))
    assert key("shop", "orders") in node.parent_keys
    assert repo.asset_graph.get(key("shop", "orders")).is_materializable


def test_groups_and_owners_come_from_the_per_selection_overrides(repo):
    graph = repo.asset_graph
    assert graph.get(key("stg_orders")).group_name == "staging"
    assert graph.get(key("int_order_payments")).group_name == "intermediate"
    assert graph.get(key("fct_orders")).group_name == "marts"
    assert graph.get(key("fct_orders")).owners == ["team:sales-analytics"]
    assert graph.get(key("stg_orders")).owners == ["team:sales-data"]


def test_code_version_is_the_dbt_checksum(repo, demo_manifest):
    manifest = json.loads(demo_manifest.read_text())
    checksum = manifest["nodes"]["model.customer_360.fct_orders"]["checksum"]["checksum"]
    assert repo.asset_graph.get(key("fct_orders")).code_version == checksum


def test_tags_carry_product_and_quality_tier(repo):
    tags = repo.asset_graph.get(key("dim_customers")).tags
    assert tags["floe/product"] == "customer_360"
    assert tags["floe/quality_tier"] == "gold"


def test_dbt_tests_become_asset_checks_on_their_models(repo):
    checks = {(c.asset_key, c.name) for c in repo.asset_graph.asset_check_keys}
    checks = {c for c in checks if c[1] != "partition_staleness"}
    assert (key("fct_orders"), "unique_fct_orders_order_id") in checks
    assert (
        key("stg_orders"),
        "accepted_values_stg_orders_status__placed__shipped__completed__returned",
    ) in checks
    assert len(checks) == 20


def test_schedule_runs_in_its_iana_timezone_over_its_selection(repo):
    schedule = repo.get_schedule_def("customer_360_daily")
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.execution_timezone == "Europe/Berlin"
    assert schedule.default_status == DefaultScheduleStatus.STOPPED
    job = repo.get_job(schedule.job_name)
    selected = set(job.asset_layer.executable_asset_keys)
    assert key("shop", "orders") in selected and key("country_revenue") in selected


def test_order_models_and_order_ingestion_are_daily_partitioned(repo):
    graph = repo.asset_graph
    daily = [key("shop", "orders"), key("stg_orders"), key("fct_orders"), key("fct_daily_revenue")]
    for k in daily:
        partitions = graph.get(k).partitions_def
        assert partitions.get_first_partition_key() == "2026-01-01", k
        assert partitions.get_last_partition_key() == "2026-04-10", k
    assert graph.get(key("dim_customers")).partitions_def is None
    assert graph.get(key("shop", "customers")).partitions_def is None


def test_scheduled_tick_requests_the_last_complete_partition(repo):
    from datetime import datetime

    from dagster import build_schedule_context, instance_for_test

    schedule = repo.get_schedule_def("customer_360_daily")
    at = datetime(2026, 2, 15, 6, tzinfo=UTC)
    with instance_for_test() as instance:  # the tick checks its run key against instance storage
        context = build_schedule_context(
            instance=instance, scheduled_execution_time=at, repository_def=repo
        )
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-02-14"]


def test_every_partitioned_asset_has_a_staleness_check(repo):
    checked = {
        c.asset_key for c in repo.asset_graph.asset_check_keys if c.name == "partition_staleness"
    }
    partitioned = {
        k for k in repo.asset_graph.get_all_asset_keys() if repo.asset_graph.get(k).partitions_def
    }
    assert checked == partitioned and len(checked) == 7
