"""The run coordinator's check on real instance storage: every submitted run, one per work.

Runs are submitted as the webserver and the daemons submit them (`instance.run_coordinator`
of an instance configured by the repo's dagster.yaml or dagster.postgres.yaml), with the
tags Dagster gives a run from each source.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping

import pytest
import sqlalchemy as sa
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    SubmitRunContext,
)
from dagster._core.remote_origin import (  # a run needs an origin to be queued; test-only
    RegisteredCodeLocationOrigin,
    RemoteRepositoryOrigin,
)

from floe_dagster.cli import main
from floe_dagster.cli.refused import refused_text
from floe_dagster.execution.reservations import ReservationStore
from floe_dagster.execution.run_gate import RunGate
from floe_dagster.names import (
    AUTOMATION_CONDITION_TAG,
    PARENT_RUN_ID_TAG,
    PARTITION_TAG,
    REFUSED_FOR_TAG,
    REFUSED_TAG,
    RUN_KEY_TAG,
    SENSOR_NAME_TAG,
    TRIGGER_TAG,
)
from tests.conftest import REPO
from tests.test_run_keys import (  # noqa: F401
    ASSETS,
    guard,
    instance_at,
    postgres_env,
    storage_home,
)

DAY = {PARTITION_TAG: "2026-03-01"}
ORIGIN = RemoteRepositoryOrigin(
    RegisteredCodeLocationOrigin("customer_360"), "__repository__"
).get_job_origin("__ASSET_JOB")


def new_run(
    instance: DagsterInstance,
    tags: Mapping[str, str],
    status: DagsterRunStatus = DagsterRunStatus.NOT_STARTED,
    run_config: Mapping[str, object] | None = None,
) -> DagsterRun:
    """A run of the assets as the UI, a sensor or the daemon creates it."""
    return instance.add_run(
        DagsterRun(
            job_name="__ASSET_JOB",
            tags=dict(tags),
            asset_selection=frozenset(ASSETS),
            status=status,
            run_config=dict(run_config or {}),
            remote_job_origin=ORIGIN,
        )
    )


def submit(
    instance: DagsterInstance,
    tags: Mapping[str, str],
    status: DagsterRunStatus = DagsterRunStatus.NOT_STARTED,
) -> DagsterRun:
    """A new run, submitted as the webserver and the daemons submit one."""
    run = new_run(instance, tags, status)
    if status != DagsterRunStatus.NOT_STARTED:
        return run
    return instance.run_coordinator.submit_run(SubmitRunContext(run, workspace=None))  # type: ignore[arg-type]


def cancel_message(instance: DagsterInstance, run: DagsterRun) -> str:
    (event,) = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_CANCELED)
    return event.message


@pytest.fixture
def instance(storage_home):
    with instance_at(storage_home) as instance:
        yield instance


def test_a_second_submission_of_the_same_partition_is_canceled_naming_the_first(instance):
    first = submit(instance, DAY)
    second = submit(instance, DAY)
    assert first.status == DagsterRunStatus.QUEUED
    assert second.status == DagsterRunStatus.CANCELED
    assert second.tags[REFUSED_TAG] == "duplicate"
    assert second.tags[REFUSED_FOR_TAG] == first.run_id
    assert first.run_id in cancel_message(instance, second)


def test_a_refused_run_is_listed_by_floe_dagster_refused(instance):
    first = submit(instance, DAY)
    second = submit(instance, DAY)
    listing = refused_text(instance, None, as_json=False)
    assert f"{second.run_id}  duplicate  of run {first.run_id}" in listing


def test_floe_dagster_refused_prints_them_as_json(instance, capsys):
    first = submit(instance, DAY)
    second = submit(instance, DAY)
    assert main(["refused", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["run_id"], row["cause"], row["duplicates_run"]) == (
        second.run_id,
        "duplicate",
        first.run_id,
    )


def test_a_submission_after_the_last_run_finished_is_new_work(instance):
    first = submit(instance, DAY)
    instance.report_run_failed(first)
    again = submit(instance, DAY)
    assert again.status == DagsterRunStatus.QUEUED
    assert again.tags[RUN_KEY_TAG] == first.tags[RUN_KEY_TAG]


def test_another_partition_is_other_work(instance):
    submit(instance, DAY)
    other = submit(instance, {PARTITION_TAG: "2026-03-02"})
    assert other.status == DagsterRunStatus.QUEUED


def test_a_run_the_package_reserved_keeps_its_key_and_is_queued(instance):
    g = guard()
    planned = g.plan(ASSETS, trigger="stale_upstream:abc", partition="2026-03-01")
    assert g.check(instance, [planned], owner="sensor:staleness@").granted == [planned]
    run = submit(instance, {**planned.tags, **DAY, SENSOR_NAME_TAG: "staleness"})
    assert run.status == DagsterRunStatus.QUEUED
    assert run.tags[RUN_KEY_TAG] == planned.run_key
    assert run.tags[TRIGGER_TAG] == "stale_upstream:abc"


def staleness_request(instance: DagsterInstance, owner: str = "sensor:staleness@") -> tuple:
    """The staleness sensor's request for DAY: reserved by the run-key check, then submitted
    as the daemon submits it. Returns the planned run and the submitted one."""
    g = guard()
    planned = g.plan(ASSETS, trigger="stale_upstream:abc", partition=DAY[PARTITION_TAG])
    g.check(instance, [planned], owner=owner)
    return planned, submit(instance, {**planned.tags, **DAY, SENSOR_NAME_TAG: "staleness"})


def test_an_automation_run_racing_the_staleness_sensor_for_a_partition_is_refused(instance):
    _, sensor_run = staleness_request(instance)
    automation_run = submit(instance, {**DAY, AUTOMATION_CONDITION_TAG: "true"})
    assert automation_run.status == DagsterRunStatus.CANCELED
    assert automation_run.tags[TRIGGER_TAG] == "automation"
    assert automation_run.tags[REFUSED_TAG] == "in_flight"
    assert sensor_run.run_id in cancel_message(instance, automation_run)


def test_the_staleness_sensor_run_racing_an_automation_run_is_refused(instance):
    automation_run = submit(instance, {**DAY, AUTOMATION_CONDITION_TAG: "true"})
    _, sensor_run = staleness_request(instance)
    assert sensor_run.status == DagsterRunStatus.CANCELED
    assert sensor_run.tags[REFUSED_FOR_TAG] == automation_run.run_id


def test_a_sensor_request_refused_while_another_run_held_the_partition_runs_once_it_ended(
    instance,
):
    automation_run = submit(instance, {**DAY, AUTOMATION_CONDITION_TAG: "true"})
    planned, refused = staleness_request(instance, owner="sensor:staleness@1")
    assert refused.status == DagsterRunStatus.CANCELED
    instance.report_run_failed(automation_run)
    # the sensor's next tick asks again: granted, not a "duplicate" of the refused run
    assert guard().check(instance, [planned], owner="sensor:staleness@2").granted == [planned]


def test_a_hand_written_sensor_run_racing_the_staleness_sensor_for_a_partition_is_refused(
    instance,
):
    _, sensor_run = staleness_request(instance)
    own = submit(instance, {**DAY, SENSOR_NAME_TAG: "platform_team_sensor"})
    assert own.status == DagsterRunStatus.CANCELED
    assert own.tags[REFUSED_TAG] == "in_flight"
    assert sensor_run.run_id in cancel_message(instance, own)


def test_a_hand_written_sensor_run_is_keyed_by_its_sensor(instance):
    run = submit(instance, {**DAY, SENSOR_NAME_TAG: "platform_team_sensor"})
    assert run.tags[TRIGGER_TAG] == "sensor:platform_team_sensor"


def test_re_executing_a_failed_run_runs_again(instance):
    failed = submit(instance, DAY, status=DagsterRunStatus.FAILURE)
    again = submit(instance, {**DAY, PARENT_RUN_ID_TAG: failed.run_id})
    assert again.status == DagsterRunStatus.QUEUED
    assert again.tags[TRIGGER_TAG] == f"reexecution:{failed.run_id}"


def test_re_executing_a_successful_run_runs_when_nothing_is_in_flight(instance):
    done = submit(instance, DAY, status=DagsterRunStatus.SUCCESS)
    again = submit(instance, {**DAY, PARENT_RUN_ID_TAG: done.run_id})
    assert again.status == DagsterRunStatus.QUEUED


def test_re_executing_while_the_same_partition_is_queued_is_refused(instance):
    done = submit(instance, DAY, status=DagsterRunStatus.SUCCESS)
    queued = submit(instance, DAY)
    again = submit(instance, {**DAY, PARENT_RUN_ID_TAG: done.run_id})
    assert again.status == DagsterRunStatus.CANCELED
    assert again.tags[REFUSED_FOR_TAG] == queued.run_id


def test_a_changed_config_while_in_flight_is_a_recorded_conflict(instance):
    first = submit(instance, DAY)
    changed = new_run(instance, DAY, run_config={"ops": {"x": {"config": {"full": True}}}})
    refused = instance.run_coordinator.submit_run(SubmitRunContext(changed, workspace=None))  # type: ignore[arg-type]
    assert refused.tags[REFUSED_TAG] == "conflict"
    (record,) = ReservationStore(instance).list_conflicts()
    assert record.held_by_run_id == first.run_id


@pytest.mark.slow
@pytest.mark.postgres
def test_the_check_of_each_of_1000_submitted_runs_costs_the_same_few_statements(
    postgres_database, tmp_path, monkeypatch
):
    """The coordinator's own statements; Dagster's enqueue after it is Dagster's cost."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster.postgres.yaml", home / "dagster.yaml")
    for name, value in postgres_env(postgres_database).items():
        monkeypatch.setenv(name, value)
    count = [0]

    def counted(*_args) -> None:
        count[0] += 1

    with instance_at(home) as instance:
        gate = RunGate(instance)
        gate.admit(new_run(instance, {PARTITION_TAG: "warm-up"}))  # creates the tables once
        # the second 500 duplicate the first 500, which are still queued
        runs = [new_run(instance, {PARTITION_TAG: f"p{i % 500:05d}"}) for i in range(1000)]
        statements = []
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", counted)
        try:
            for run in runs:
                count[0] = 0
                admission = gate.admit(run)
                statements.append(count[0])
                assert (admission.cause is None) == (len(statements) <= 500)
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", counted)
    admitted, refused = statements[:500], statements[500:]
    # one claim (insert + read back), one look at the holding run: never a scan of runs
    assert set(admitted) == {2}, set(admitted)
    assert len(set(refused)) == 1 and max(refused) <= 6, set(refused)
