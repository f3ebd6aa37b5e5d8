"""A run is one OpenTelemetry trace: run span -> step spans -> dbt model spans."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.observed_runs import demo_copy, materialize, observe, only_run
from tests.receivers import ReceivedSpan, otlp_receiver

pytestmark = pytest.mark.slow

STEPS = {"ingest_shop_customers", "ingest_shop_orders", "dbt_daily_coalesced", "dbt_unpartitioned"}
MODELS = {
    "stg_customers",
    "stg_orders",
    "stg_payments",
    "int_order_payments",
    "int_customer_orders",
    "fct_orders",
    "fct_daily_revenue",
    "dim_customers",
    "country_revenue",
}


@pytest.fixture(scope="module")
def demo_trace(tmp_path_factory, demo_manifest):
    """The whole demo materialized once with spans exported to a loopback OTLP/HTTP receiver."""
    root = tmp_path_factory.mktemp("telemetry")
    with otlp_receiver() as (url, spans):
        product = demo_copy(
            root / "customer_360", demo_manifest, lambda d: observe(d, otlp_url=url)
        )
        done = materialize(product, root / "home")
        assert done.returncode == 0, done.stderr[-3000:]
        time.sleep(0.5)  # the receiver may still be decoding the last export
    return only_run(root / "home"), list(spans)


def _run_span(spans: list[ReceivedSpan]) -> ReceivedSpan:
    (root,) = [s for s in spans if s.parent_span_id is None]
    return root


def test_a_run_is_one_trace_named_by_its_run_id(demo_trace):
    run, spans = demo_trace
    assert {s.trace_id for s in spans} == {uuid.UUID(run.run_id).int}
    root = _run_span(spans)
    assert root.attributes["dagster.run_id"] == run.run_id
    assert root.attributes["dagster.partition"] == "2026-01-01...2026-04-10"


def test_step_spans_are_children_of_the_run_span_in_the_runs_own_process_on_duckdb(demo_trace):
    _, spans = demo_trace
    root = _run_span(spans)
    steps = [s for s in spans if s.parent_span_id == root.span_id]
    assert {s.attributes["dagster.step_key"] for s in steps} == STEPS
    assert len(steps) == len(STEPS)
    # DuckDB has one writer: the steps run one by one in the run's process (step processes,
    # on a server warehouse, are tests/test_postgres_warehouse.py's)
    assert all(s.resource["process.pid"] == root.resource["process.pid"] for s in steps)


def test_step_spans_carry_product_assets_partition_and_run_id(demo_trace):
    run, spans = demo_trace
    steps = {s.attributes.get("dagster.step_key"): s for s in spans}
    daily = steps["dbt_daily_coalesced"].attributes
    assert daily["floe.product"] == "customer_360"
    assert daily["dagster.run_id"] == run.run_id
    assert daily["dagster.partition"] == "2026-01-01...2026-04-10"
    assert "sales/customer_360/stg_orders" in daily["dagster.asset_keys"]
    assert "dagster.partition" not in steps["dbt_unpartitioned"].attributes


def test_each_dbt_model_is_a_span_under_its_step_with_its_status(demo_trace):
    _, spans = demo_trace
    step_ids = {
        s.span_id: s.attributes["dagster.step_key"]
        for s in spans
        if "dagster.step_key" in s.attributes
    }
    models = {s.name.removeprefix("model "): s for s in spans if "dbt.unique_id" in s.attributes}
    assert set(models) == MODELS
    for name, span in models.items():
        assert step_ids[span.parent_span_id].startswith("dbt_"), name
        assert span.attributes["dbt.status"] == "success"
        assert span.attributes["dagster.asset_key"] == f"sales/customer_360/{name}"
