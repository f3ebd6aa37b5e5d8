"""The staleness sensor heals stale partitions: exactly the affected ones, once; retries with backoff."""

import subprocess
import time

import pytest
from dagster import (
    AssetCheckKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    EventRecordsFilter,
    RunsFilter,
    build_sensor_context,
)

from floe_dagster import load_product_definitions
from tests.conftest import cli_env, floe_dagster_settings
from tests.staleness_fixtures import instance, key  # noqa: F401

pytestmark = pytest.mark.slow

DOWNSTREAM_OF_ORDERS = {
    key("stg_orders"),
    key("int_order_payments"),
    key("fct_orders"),
    key("fct_daily_revenue"),
}


def staleness(data, **policy):
    floe_dagster_settings(data)["sensors"] = {"staleness": {"window": 3, **policy}}


def dagster_cli(env, *args):
    done = subprocess.run(
        ["dagster", *args], env=cli_env(**env), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_sensor_refreshes_exactly_the_affected_downstream_partitions_once(
    edit_artifacts, dagster_home, tmp_path
):
    product_dir = edit_artifacts(
        lambda d: staleness(d, default_status="running", minimum_interval_seconds=30)
    )
    env = {"DAGSTER_HOME": str(dagster_home), "FLOE_DUCKDB_PATH": str(tmp_path / "wh.duckdb")}
    definitions = str(product_dir / "definitions.py")
    dagster_cli(
        env,
        "asset",
        "materialize",
        "--select",
        "tag:floe/partition_scheme=daily",
        "--partition-range",
        "2026-04-08...2026-04-10",
        "-f",
        definitions,
    )
    dagster_cli(
        env,
        "asset",
        "materialize",
        "--select",
        "sales/customer_360/shop/orders",
        "--partition",
        "2026-04-09",
        "-f",
        definitions,
    )

    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        f"load_from:\n  - python_file:\n      relative_path: {definitions}\n"
        f"      location_name: customer_360\n      working_directory: {product_dir}\n"
    )
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen(
        ["dagster-daemon", "run", "-w", str(workspace)],
        env=cli_env(**env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with DagsterInstance.from_config(str(dagster_home)) as inst:
            healing, ticks_after = wait_for_healing_then_two_more_ticks(inst, tmp_path)
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)

    assert len(healing) == 1, [(r.run_id, r.tags) for r in healing]
    run = healing[0]
    assert run.status == DagsterRunStatus.SUCCESS
    assert run.tags["dagster/partition"] == "2026-04-09"
    assert set(run.asset_selection) == DOWNSTREAM_OF_ORDERS
    assert ticks_after and all(not t.run_ids for t in ticks_after)


def wait_for_healing_then_two_more_ticks(inst, tmp_path):
    deadline = time.monotonic() + 900
    finished_at = None
    while True:
        runs = [
            r
            for r in inst.get_runs(RunsFilter(tags={"floe/product": "customer_360"}))
            if r.tags.get("floe/trigger", "").startswith("staleness:")
        ]
        if runs and all(r.is_finished for r in runs) and finished_at is None:
            finished_at = time.time()
        if finished_at is not None:
            ticks = [t for t in sensor_ticks(inst) if t.timestamp > finished_at]
            if len(ticks) >= 2:
                return runs, ticks
        assert time.monotonic() < deadline, (tmp_path / "daemon.log").read_text()[-4000:]
        time.sleep(5)


def sensor_ticks(inst):
    state = next(
        s for s in inst.all_instigator_state() if s.instigator_name == "customer_360_staleness"
    )
    return inst.get_ticks(state.instigator_origin_id, state.selector_id)


def test_a_failing_partition_is_retried_with_backoff_and_given_up_at_the_limit(
    edit_artifacts,
    instance,
    monkeypatch,
    tmp_path,
):
    product_dir = edit_artifacts(
        lambda d: staleness(d, window=1, retry={"max_attempts": 2, "base_seconds": 3, "factor": 1})
    )
    broken = tmp_path / "a_directory.duckdb"
    broken.mkdir()
    monkeypatch.setenv("FLOE_DUCKDB_PATH", str(broken))
    defs = load_product_definitions("customer_360", product_dir)
    repo = defs.get_repository_def()
    sensor = repo.get_sensor_def("customer_360_staleness")
    job = defs.resolve_implicit_global_asset_job_def()

    def tick():
        return sensor.evaluate_tick(
            build_sensor_context(instance=instance, repository_def=repo, sensor_name=sensor.name)
        )

    def run(request):
        result = job.execute_in_process(
            instance=instance,
            partition_key=request.partition_key,
            asset_selection=request.asset_selection,
            tags=request.tags,
            raise_on_error=False,
        )
        assert not result.success

    first = tick()
    assert [r.partition_key for r in first.run_requests] == ["2026-04-10"]
    run(first.run_requests[0])
    assert tick().run_requests == []  # inside the backoff
    time.sleep(3.5)
    second = tick()
    assert [r.partition_key for r in second.run_requests] == ["2026-04-10"]
    assert second.run_requests[0].run_key != first.run_requests[0].run_key
    run(second.run_requests[0])
    time.sleep(3.5)
    assert tick().run_requests == []  # the limit of 2 attempts is reached

    records = instance.get_event_records(
        EventRecordsFilter(DagsterEventType.ASSET_CHECK_EVALUATION), limit=50
    )
    latest = next(
        r.event_log_entry.dagster_event.event_specific_data
        for r in records
        if r.event_log_entry.dagster_event.event_specific_data.asset_check_key
        == AssetCheckKey(key("fct_orders"), "partition_staleness")
    )
    assert not latest.passed
    assert latest.severity.value == "ERROR"
    assert latest.metadata["gave_up_after_retries"].value == 1
