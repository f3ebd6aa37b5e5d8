"""Every run submitted to a served instance goes through the coordinator's check.

A real `dagster-webserver` and `dagster-daemon` on PostgreSQL instance storage, with the
repo's dagster.postgres.yaml (this package's run coordinator), serving a plain Dagster code
location (tests/fixtures/run_gate). Clients submit through Dagster's GraphQL API.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster_graphql import DagsterGraphQLClient

from floe_dagster.names import PARTITION_TAG, REFUSED_FOR_TAG, REFUSED_TAG
from tests.conftest import (
    REPO,
    cli_env,
    free_port,
    new_postgres_database,
    postgres_home,
    python_file_workspace,
)
from tests.serving import serving
from tests.test_run_keys import postgres_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

FIXTURE = REPO / "tests" / "fixtures" / "run_gate"
LOCATION = "run_gate"
RUN_TIMEOUT = 300.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path, dict[str, str]]]:
    """(webserver port, DAGSTER_HOME, environment) of a webserver and daemon on PostgreSQL."""
    scratch = tmp_path_factory.mktemp("run_gate")
    home = postgres_home(scratch / "dagster_home")
    workspace = python_file_workspace(scratch / "workspace.yaml", FIXTURE, LOCATION)
    with new_postgres_database() as url:
        env = cli_env(DAGSTER_HOME=str(home), **postgres_env(url))
        port = free_port()
        daemon = ["dagster-daemon", "run", "-w", str(workspace)]
        web = ["dagster-webserver", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)]
        with (
            serving(daemon, cwd=scratch, env=env, log=scratch / "daemon.log"),
            serving(
                web,
                cwd=scratch,
                env=env,
                log=scratch / "webserver.log",
                ready_url=f"http://127.0.0.1:{port}/server_info",
            ),
        ):
            yield port, home, env


def _submit(port: int, partition: str, barrier, results) -> None:
    """One client process: wait for the others, then submit the asset's partition."""
    client = DagsterGraphQLClient("127.0.0.1", port_number=port)
    barrier.wait()
    results.put(
        client.submit_job_execution(
            "__ASSET_JOB",
            repository_location_name=LOCATION,
            asset_selection=["orders"],
            tags={PARTITION_TAG: partition},
        )
    )


def submit_at_once(port: int, partition: str, clients: int) -> list[str]:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(clients), context.Queue()
    processes = [
        context.Process(target=_submit, args=(port, partition, barrier, results))
        for _ in range(clients)
    ]
    for p in processes:
        p.start()
    run_ids = [results.get(timeout=120) for _ in processes]
    for p in processes:
        p.join(timeout=60)
    return run_ids


def finished_runs(instance: DagsterInstance, run_ids: list[str]):
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        runs = instance.get_runs(RunsFilter(run_ids=run_ids))
        if len(runs) == len(run_ids) and all(r.is_finished for r in runs):
            return runs
        assert time.monotonic() < deadline, [(r.run_id, r.status) for r in runs]
        time.sleep(2)


def test_four_graphql_clients_submitting_one_partition_at_once_run_it_once(served, monkeypatch):
    port, home, env = served
    run_ids = submit_at_once(port, "2026-03-01", clients=4)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with DagsterInstance.from_config(str(home)) as instance:
        runs = finished_runs(instance, run_ids)
        executed = [r for r in runs if r.status != DagsterRunStatus.CANCELED]
        refused = [r for r in runs if r.status == DagsterRunStatus.CANCELED]
        assert [r.status for r in executed] == [DagsterRunStatus.SUCCESS]
        (winner,) = executed
        assert len(refused) == 3
        for run in refused:
            assert run.tags[REFUSED_TAG] == "duplicate"
            assert run.tags[REFUSED_FOR_TAG] == winner.run_id
            (canceled,) = instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_CANCELED)
            assert winner.run_id in canceled.message
