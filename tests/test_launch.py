"""`floe-dagster launch` submits a run through the run-key check; the same launch again is a duplicate."""

from __future__ import annotations

import subprocess

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from floe_dagster.names import FINGERPRINT_TAG, RUN_KEY_TAG
from tests.conftest import VENV_BIN, cli_env


def launch(project_dir, dagster_home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            VENV_BIN / "floe-dagster",
            "launch",
            project_dir,
            "--select",
            "key:sales/customer_360/fct_orders",
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
