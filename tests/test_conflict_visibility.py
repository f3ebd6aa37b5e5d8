"""A run-key conflict produces no run, is recorded, and shows in the tick, the UI and the CLI."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    EventRecordsFilter,
    build_schedule_context,
)

from floe_dagster import load_product_definitions
from tests.conftest import VENV_BIN, cli_env

FCT_ORDERS = AssetKey(["sales", "customer_360", "fct_orders"])


def tick(project_dir, instance: DagsterInstance, at: datetime):
    repo = load_product_definitions("customer_360", project_dir).get_repository_def()
    context = build_schedule_context(
        instance=instance, scheduled_execution_time=at, repository_def=repo
    )
    return repo.get_schedule_def("customer_360_daily").evaluate_tick(context)


@pytest.mark.slow
def test_conflict_is_skipped_recorded_and_visible_in_tick_ui_and_cli(
    product_dir, edit_artifacts, dagster_home, capfd
):
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        first = tick(product_dir, instance, datetime(2026, 6, 1, 4, tzinfo=UTC))
        (request,) = first.run_requests
        run = DagsterRun(  # what the daemon creates from the request
            job_name="customer_360_daily_job",
            tags={**request.tags, "dagster/partition": request.partition_key},
        )
        instance.add_run(run)

        edit_artifacts(lambda d: d["metadata"].update(source_hash="sha256:" + "1" * 64))
        capfd.readouterr()
        second = tick(product_dir, instance, datetime(2026, 6, 2, 4, tzinfo=UTC))
        tick_log = capfd.readouterr().err  # the tick's logger; the daemon captures it per tick

        assert second.run_requests == [] or second.run_requests is None
        assert len(instance.get_runs()) == 1
        # 1. the tick: skip reason and log
        assert "CONFLICT" in second.skip_message and run.run_id in second.skip_message
        assert "WARNING - CONFLICT" in tick_log and request.run_key in tick_log
        # 2. the UI: an observation on each selected asset, for the partition
        (observation,) = instance.get_event_records(
            EventRecordsFilter(event_type=DagsterEventType.ASSET_OBSERVATION, asset_key=FCT_ORDERS)
        )
        event = observation.asset_observation
        assert event.partition == "2026-04-10"
        assert event.metadata["floe/run_key_conflict"].value == request.run_key
        assert event.metadata["floe/held_by_run"].value == run.run_id

    # 3. the CLI
    listed = subprocess.run(
        [VENV_BIN / "floe-dagster", "conflicts", "--json"],
        capture_output=True,
        text=True,
        env=cli_env(DAGSTER_HOME=str(dagster_home)),
        check=True,
    )
    (record,) = json.loads(listed.stdout)
    assert record["run_key"] == request.run_key and record["held_by_run_id"] == run.run_id
    table = subprocess.run(
        [VENV_BIN / "floe-dagster", "conflicts"],
        capture_output=True,
        text=True,
        env=cli_env(DAGSTER_HOME=str(dagster_home)),
        check=True,
    )
    assert request.run_key in table.stdout and "2026-04-10" in table.stdout


def test_a_later_tick_for_the_same_partition_is_a_duplicate(product_dir, dagster_home):
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        (request,) = tick(product_dir, instance, datetime(2026, 6, 1, 4, tzinfo=UTC)).run_requests
        run = DagsterRun(job_name="customer_360_daily_job", tags=request.tags)
        instance.add_run(run)
        later = tick(product_dir, instance, datetime(2026, 6, 2, 4, tzinfo=UTC))
    assert not later.run_requests
    assert later.skip_message.startswith("duplicate:") and run.run_id in later.skip_message
