"""Every step of a run explains itself to an OpenLineage backend (http transport, loopback)."""

from __future__ import annotations

from collections import defaultdict

import pytest
from dagster import DagsterRunStatus

from floe_dagster import load_product_definitions
from tests.conftest import DEMO_LINEAGE_NAMESPACE
from tests.observed_runs import demo_copy, materialize, observe, only_run
from tests.receivers import lineage_receiver

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_lineage(tmp_path_factory, demo_manifest):
    """The whole demo materialized once with lineage sent to a loopback receiver."""
    root = tmp_path_factory.mktemp("lineage")
    with lineage_receiver() as (url, events):
        product = demo_copy(
            root / "customer_360", demo_manifest, lambda d: observe(d, lineage_url=url)
        )
        done = materialize(product, root / "home")
        assert done.returncode == 0, done.stderr[-3000:]
    return product, only_run(root / "home"), events


def _by_job(events: list[dict]) -> dict[str, list[dict]]:
    jobs = defaultdict(list)
    for event in events:
        jobs[event["job"]["name"]].append(event)
    return jobs


def test_every_asset_of_every_step_starts_then_completes(demo_lineage):
    product, _, events = demo_lineage
    graph = load_product_definitions("customer_360", product).get_repository_def().asset_graph
    expected = {"customer_360." + ".".join(key.path[2:]) for key in graph.get_all_asset_keys()}
    jobs = _by_job(events)
    assert set(jobs) == expected
    for name, job_events in jobs.items():
        assert [e["eventType"] for e in job_events] == ["START", "COMPLETE"], name
        assert len({e["run"]["runId"] for e in job_events}) == 1, name
        assert {e["job"]["namespace"] for e in job_events} == {DEMO_LINEAGE_NAMESPACE}


def test_datasets_come_from_the_dbt_manifest_and_the_dlt_destination(demo_lineage):
    product, _, events = demo_lineage
    namespace = f"duckdb://{product / 'warehouse' / 'customer_360.duckdb'}"
    complete = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE"}

    def names(event: dict, side: str) -> set[str]:
        assert {d["namespace"] for d in event[side]} <= {namespace}
        return {d["name"] for d in event[side]}

    loaded = complete["customer_360.shop.orders"]
    assert (names(loaded, "inputs"), names(loaded, "outputs")) == (
        set(),
        {"customer_360.raw.orders"},
    )
    staged = complete["customer_360.stg_orders"]
    assert names(staged, "inputs") == {"customer_360.raw.orders"}
    assert names(staged, "outputs") == {"customer_360.main.stg_orders"}
    joined = complete["customer_360.dim_customers"]
    assert names(joined, "inputs") == {
        "customer_360.main.stg_customers",
        "customer_360.main.int_customer_orders",
    }
    assert names(joined, "outputs") == {"customer_360.main.dim_customers"}


def test_every_event_names_the_dagster_run_as_its_parent(demo_lineage):
    _, run, events = demo_lineage
    parents = [e["run"]["facets"]["parent"] for e in events]
    assert {p["run"]["runId"] for p in parents} == {run.run_id}
    assert {(p["job"]["namespace"], p["job"]["name"]) for p in parents} == {
        (DEMO_LINEAGE_NAMESPACE, f"customer_360.{run.job_name}")
    }


def test_a_failing_step_reports_fail_with_the_error(product_dir, edit_artifacts, tmp_path):
    (product_dir / "models" / "staging" / "stg_customers.sql").write_text("select from broken (\n")
    with lineage_receiver() as (url, events):
        edit_artifacts(lambda d: observe(d, lineage_url=url))
        done = materialize(
            product_dir,
            tmp_path / "home",
            select="sales/customer_360/stg_customers",
            partition_range=None,
        )
    assert done.returncode != 0
    assert only_run(tmp_path / "home").status == DagsterRunStatus.FAILURE
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    fail = events[1]
    assert fail["job"]["name"] == "customer_360.stg_customers"
    assert "stg_customers" in fail["run"]["facets"]["errorMessage"]["message"]
