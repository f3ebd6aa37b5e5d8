"""A real `dagster-daemon` killed in the middle of a tick, then restarted, creates no duplicate run.

The tick is held between its run-key reservation and its run creation by locking
PostgreSQL's `runs` table against writes (reads still work); the daemon is SIGKILLed
there, the lock released and the daemon started again. The interrupted tick is re-run by
Dagster under the same owner, so exactly one run holds the key.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psycopg2
import pytest
from dagster import DagsterInstance

from floe_dagster.names import RUN_KEY_TAG
from tests.conftest import (
    VENV_BIN,
    cli_env,
    floe_dagster_settings,
    postgres_home,
    python_file_workspace,
)
from tests.test_run_keys import postgres_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def wait_for(what: str, check, timeout: float = 240.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def start_daemon(workspace, env) -> subprocess.Popen:
    return subprocess.Popen(
        [VENV_BIN / "dagster-daemon", "run", "-w", str(workspace)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def query(url: str, sql: str) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_daemon_killed_mid_tick_and_restarted_creates_one_run(
    tmp_path, postgres_database, edit_artifacts, monkeypatch
):
    project = edit_artifacts(
        lambda d: floe_dagster_settings(d)["schedules"][0].update(
            cron="* * * * *", default_status="running"
        )
    )
    home = postgres_home(tmp_path / "home")
    workspace = python_file_workspace(tmp_path / "workspace.yaml", project, "customer_360")
    pg = postgres_env(postgres_database)
    env = cli_env(DAGSTER_HOME=str(home), FLOE_DUCKDB_PATH=str(tmp_path / "wh.duckdb"), **pg)
    for name, value in pg.items():
        monkeypatch.setenv(name, value)
    with DagsterInstance.from_config(str(home)):
        pass  # create Dagster's tables before locking one of them

    lock = psycopg2.connect(postgres_database)
    lock.cursor().execute("LOCK TABLE runs IN EXCLUSIVE MODE")  # held until rollback
    daemon = start_daemon(workspace, env)
    try:
        wait_for(
            "the tick to reserve its run key",
            lambda: (
                query(postgres_database, "SELECT to_regclass('floe_run_key_reservations')")[0][0]
                and query(postgres_database, "SELECT run_key, owner FROM floe_run_key_reservations")
            ),
        )
        wait_for(  # the daemon is now blocked creating the run
            "the daemon to wait on the runs lock",
            lambda: query(
                postgres_database,
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query ILIKE '%INSERT INTO runs%'",
            ),
        )
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()
        # the dead daemon's blocked INSERT would still commit once the lock goes: end it too
        query(
            postgres_database,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        lock.rollback()
        lock.close()
    ((key, owner),) = query(
        postgres_database, "SELECT run_key, owner FROM floe_run_key_reservations"
    )
    assert query(postgres_database, "SELECT count(*) FROM runs") == [(0,)]

    daemon = start_daemon(workspace, env)
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            wait_for("the resumed tick's run", lambda: instance.get_runs())
            # the next minute's tick asks for the same partition and must skip it
            ticks = wait_for(
                "a later tick",
                lambda: [
                    t
                    for t in instance.get_ticks(*_schedule_ids(instance))
                    if t.status.value == "SKIPPED"
                ],
                timeout=150,
            )
            runs = instance.get_runs()
    finally:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()
    assert [r.tags[RUN_KEY_TAG] for r in runs] == [key]
    assert query(postgres_database, "SELECT owner FROM floe_run_key_reservations") == [(owner,)]
    assert "duplicate" in ticks[0].skip_reason and runs[0].run_id in ticks[0].skip_reason


def _schedule_ids(instance: DagsterInstance) -> tuple[str, str]:
    (state,) = [s for s in instance.all_instigator_state() if s.name == "customer_360_daily"]
    return state.instigator_origin_id, state.selector_id
