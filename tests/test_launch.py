"""`floe-dagster launch` submits a run through the run-key check; the same launch again is a duplicate.

The instance's run coordinator checks the submitted run once more, against runs from every
source; a launch it refuses says so and exits 4.
"""

from __future__ import annotations

import subprocess

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from floe_dagster.cli import main
from floe_dagster.names import (
    FINGERPRINT_TAG,
    PARTITION_TAG,
    REFUSED_FOR_TAG,
    REFUSED_TAG,
    RUN_KEY_TAG,
)
from tests.conftest import VENV_BIN, cli_env
from tests.test_run_gate import DAY, submit

SELECT = ["--select", "key:sales/customer_360/fct_orders"]


def launch(project_dir, dagster_home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            VENV_BIN / "floe-dagster",
            "launch",
            project_dir,
            *SELECT,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=cli_env(DAGSTER_HOME=str(dagster_home)),
    )


@pytest.mark.slow
def test_launch_queues_one_run_and_a_repeat_names_it(product_dir, dagster_home):
    first = launch(product_dir, dagster_home, "--partition", "2026-03-01")
    assert first.returncode == 0, first.stderr[-3000:]
    repeat = launch(product_dir, dagster_home, "--partition", "2026-03-01")
    assert repeat.returncode == 0, repeat.stderr[-3000:]

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        (run,) = instance.get_runs()
    assert run.status == DagsterRunStatus.QUEUED  # the instance's queue runs it
    assert run.tags["dagster/partition"] == "2026-03-01"
    assert run.tags[RUN_KEY_TAG] == run.tags["dagster/run_key"] and run.tags[FINGERPRINT_TAG]
    assert f"submitted run {run.run_id}" in first.stdout
    assert "duplicate" in repeat.stderr and run.run_id in repeat.stderr


@pytest.mark.slow
def test_a_launch_the_coordinator_refuses_prints_why_and_exits_4(
    product_dir, dagster_home, monkeypatch, capsys
):
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        clicked = submit(instance, DAY)  # the UI's Materialize of the same partition, queued
        assert clicked.status == DagsterRunStatus.QUEUED

        code = main(["launch", str(product_dir), *SELECT, "--partition", DAY[PARTITION_TAG]])
        out, err = capsys.readouterr()
        (launched,) = instance.get_runs(RunsFilter(tags={REFUSED_FOR_TAG: clicked.run_id}))
    assert launched.status == DagsterRunStatus.CANCELED
    assert launched.tags[REFUSED_TAG] == "in_flight"
    assert launched.tags[REFUSED_FOR_TAG] == clicked.run_id
    assert code == 4
    assert "submitted" not in out
    assert f"refused: run {launched.run_id}" in err and clicked.run_id in err


@pytest.mark.slow
def test_a_refused_launch_runs_when_launched_again_after_the_holding_run_ended(
    product_dir, dagster_home, monkeypatch, capsys
):
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    args = ["launch", str(product_dir), *SELECT, "--partition", DAY[PARTITION_TAG]]
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        clicked = submit(instance, DAY)
        assert main(args) == 4
        instance.report_run_failed(clicked)
        capsys.readouterr()

        assert main(args) == 0
        (queued,) = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.QUEUED]))
    assert f"submitted run {queued.run_id}" in capsys.readouterr().out
