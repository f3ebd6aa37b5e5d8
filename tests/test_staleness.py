"""Each partition status, judged from real materializations on SQLite and PostgreSQL."""

import time

import pytest

from floe_dagster import load_product_definitions
from floe_dagster.automation.staleness import Status, compute_states, partitioned_assets
from floe_dagster.contract.dagster_section import StalenessPolicy
from tests.staleness_fixtures import instance, key, materialize  # noqa: F401

pytestmark = pytest.mark.slow

DAY = "2026-04-09"
POLICY = StalenessPolicy(window=3, max_age_hours=1)


def state_of(product_dir, inst, asset, partition=DAY, now=None):
    graph = load_product_definitions("customer_360", product_dir).get_repository_def().asset_graph
    states = compute_states(inst, partitioned_assets(graph), POLICY, now)
    return next(s for s in states if s.asset_key == asset and s.partition == partition)


def test_a_never_materialized_partition_is_missing(product_dir, instance):
    materialize(product_dir, instance, [key("shop", "orders")], "2026-04-10")
    state = state_of(product_dir, instance, key("shop", "orders"), DAY)
    assert state.status is Status.MISSING
    assert state.reason == "window closed, never materialized"


def test_a_just_materialized_partition_is_fresh(product_dir, instance):
    materialize(product_dir, instance, [key("shop", "orders")], DAY)
    assert state_of(product_dir, instance, key("shop", "orders")).status is Status.FRESH


def test_a_partition_whose_last_attempt_failed_is_failed(
    product_dir, instance, monkeypatch, tmp_path
):
    (tmp_path / "not_a_file.duckdb").mkdir()
    monkeypatch.setenv("FLOE_DUCKDB_PATH", str(tmp_path / "not_a_file.duckdb"))
    result = materialize(product_dir, instance, [key("shop", "orders")], DAY, raise_on_error=False)
    assert not result.success
    state = state_of(product_dir, instance, key("shop", "orders"))
    assert state.status is Status.FAILED
    assert state.failures == 1


def test_an_upstream_partition_materialized_later_makes_it_stale_upstream(product_dir, instance):
    materialize(product_dir, instance, [key("shop", "orders"), key("stg_orders")], DAY)
    materialize(product_dir, instance, [key("shop", "orders")], DAY)
    state = state_of(product_dir, instance, key("stg_orders"))
    assert state.status is Status.STALE_UPSTREAM
    assert state.evidence["upstream"] == "sales/customer_360/shop/orders"
    other_day = state_of(product_dir, instance, key("stg_orders"), "2026-04-10")
    assert other_day.status is Status.MISSING


def test_a_changed_dbt_model_makes_its_partitions_stale_code(product_dir, instance):
    materialize(product_dir, instance, [key("shop", "orders"), key("stg_orders")], DAY)
    model = product_dir / "models" / "staging" / "stg_orders.sql"
    model.write_text(model.read_text().replace("status,", "lower(status) as status,"))
    import subprocess

    from tests.conftest import VENV_BIN

    subprocess.run([VENV_BIN / "floe-dagster", "prepare", str(product_dir)], check=True)
    state = state_of(product_dir, instance, key("stg_orders"))
    assert state.status is Status.STALE_CODE
    assert state.evidence["materialized_code_version"] != state.evidence["code_version"]


def test_a_partition_older_than_the_limit_is_stale_age(product_dir, instance):
    materialize(product_dir, instance, [key("shop", "orders")], DAY)
    later = time.time() + 2 * 3600
    state = state_of(product_dir, instance, key("shop", "orders"), now=later)
    assert state.status is Status.STALE_AGE
    assert state.evidence["age_hours"] > 1


def test_a_partition_a_queued_run_will_produce_is_in_flight_and_not_refreshed(
    product_dir, instance
):
    from floe_dagster.automation.healing import refresh_plan

    defs = load_product_definitions("customer_360", product_dir)
    graph = defs.get_repository_def().asset_graph
    instance.create_run_for_job(
        job_def=defs.resolve_implicit_global_asset_job_def(),
        asset_selection=frozenset([key("shop", "orders")]),
        tags={"dagster/partition": DAY},
    )
    states = compute_states(instance, partitioned_assets(graph), POLICY)
    orders = next(s for s in states if s.asset_key == key("shop", "orders") and s.partition == DAY)
    assert (orders.status, orders.in_flight) == (Status.MISSING, True)
    planned = {partition for partition, _, _ in refresh_plan(graph, states, POLICY, time.time())}
    assert DAY not in planned and "2026-04-10" in planned


def test_a_partition_older_than_its_unpartitioned_parent_is_stale_upstream(instance):
    from dagster import AssetMaterialization, DailyPartitionsDefinition, Definitions, asset

    @asset
    def seed_customers() -> None: ...

    @asset(
        deps=[seed_customers],
        partitions_def=DailyPartitionsDefinition("2026-04-01", end_date="2026-04-11"),
    )
    def daily_orders() -> None: ...

    graph = Definitions(assets=[seed_customers, daily_orders]).get_repository_def().asset_graph
    instance.report_runless_asset_event(AssetMaterialization("daily_orders", partition=DAY))
    instance.report_runless_asset_event(AssetMaterialization("seed_customers"))
    now = time.time()
    states = compute_states(instance, partitioned_assets(graph), POLICY, now)
    (state,) = [s for s in states if s.partition == DAY]
    assert state.status is Status.STALE_UPSTREAM
