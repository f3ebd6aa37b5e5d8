"""`dagster job backfill` on PostgreSQL with a real daemon follows the artifacts' backfill policy."""

import contextlib
import math
import os
import shutil
import signal
import subprocess
import time
from urllib.parse import urlparse

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

from tests.conftest import REPO, cli_env, floe_dagster_settings

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

DAYS = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05", "2026-01-06"]
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


@pytest.fixture
def postgres_home(tmp_path, postgres_database, monkeypatch):
    """A DAGSTER_HOME using dagster.postgres.yaml against a fresh database; env set for the test too."""
    home = tmp_path / "pg_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.postgres.yaml", home / "dagster.yaml")
    url = urlparse(postgres_database)
    env = {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": url.hostname,
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_USER": url.username or "postgres",
        "DAGSTER_PG_PASSWORD": url.password or "",
        "DAGSTER_PG_DB": url.path.lstrip("/"),
        "FLOE_DUCKDB_PATH": str(tmp_path / "wh.duckdb"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def backfill_and_wait(product_dir, env, tmp_path):
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_file:\n"
        f"      relative_path: {product_dir / 'definitions.py'}\n"
        "      location_name: customer_360\n"
        f"      working_directory: {product_dir}\n"
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
        done = subprocess.run(
            [
                "dagster",
                "job",
                "backfill",
                "-j",
                "daily_job",
                "--from",
                DAYS[0],
                "--to",
                DAYS[-1],
                "--noprompt",
                "-w",
                str(workspace),
            ],
            env=cli_env(**env),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            deadline = time.monotonic() + 600
            while True:
                runs = instance.get_runs(RunsFilter(job_name="daily_job"))
                held = [r for r in runs if r.status == DagsterRunStatus.NOT_STARTED]
                if runs and not held and all(r.status in FINISHED for r in runs):
                    break
                assert time.monotonic() < deadline, (
                    [(r.run_id, r.status) for r in runs],
                    (tmp_path / "daemon.log").read_text()[-4000:],
                )
                time.sleep(3)
            materialized = instance.get_materialized_partitions(
                AssetKey(["sales", "customer_360", "fct_orders"])
            )
        return runs, materialized
    finally:
        daemon.send_signal(signal.SIGINT)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        # the daemon's code server can outlive it (seen after CI, with --heartbeat): end
        # whatever is left of its session
        with contextlib.suppress(ProcessLookupError):
            os.killpg(daemon.pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("policy", "expected_runs"),
    [
        ({"policy": "chunked", "chunk_size": 4}, math.ceil(len(DAYS) / 4)),
        ({"policy": "coalesced"}, 1),
    ],
    ids=["chunked-4", "coalesced"],
)
def test_cli_backfill_makes_one_run_per_chunk_and_completes_every_partition(
    edit_artifacts, postgres_home, tmp_path, policy, expected_runs
):
    product_dir = edit_artifacts(
        lambda d: floe_dagster_settings(d)["transforms"][3].update(backfill=policy)
    )
    runs, materialized = backfill_and_wait(product_dir, postgres_home, tmp_path)
    assert len(runs) == expected_runs
    assert all(r.status == DagsterRunStatus.SUCCESS for r in runs)
    assert len({r.tags["dagster/backfill"] for r in runs}) == 1
    assert materialized == set(DAYS)
