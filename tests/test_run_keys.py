"""The run-key check on real instance storage: keys, duplicates, conflicts, bounded queries."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa
from dagster import AssetKey, DagsterInstance, DagsterRun

from floe_dagster.contract.dagster_section import RunKeyLimits
from floe_dagster.execution.reservations import ReservationStore
from floe_dagster.execution.run_keys import RunKeyGuard
from floe_dagster.names import RUN_KEY_TAG
from tests.conftest import REPO

ASSETS = [AssetKey(["sales", "customer_360", "fct_orders"])]


def guard(artifact_version: str = "sha256:v1", limit: int = 1000) -> RunKeyGuard:
    return RunKeyGuard(
        "customer_360",
        artifact_version,
        {"sales/customer_360/fct_orders": "checksum-1"},
        RunKeyLimits(max_requests_per_evaluation=limit),
    )


def planned(g: RunKeyGuard, n: int, trigger: str = "test") -> list:
    return [g.plan(ASSETS, trigger=trigger, partition=f"p{i:05d}") for i in range(n)]


def create_runs(instance: DagsterInstance, granted) -> None:
    """What the daemon does with a granted request: a run carrying its tags."""
    for p in granted:
        instance.add_run(DagsterRun(job_name="floe_run_key_test", tags=p.tags))


def postgres_env(url: str) -> dict[str, str]:
    parts = urlparse(url)
    return {
        "DAGSTER_PG_HOST": parts.hostname or "127.0.0.1",
        "DAGSTER_PG_PORT": str(parts.port or 5432),
        "DAGSTER_PG_USER": parts.username or "postgres",
        "DAGSTER_PG_PASSWORD": parts.password or "",
        "DAGSTER_PG_DB": parts.path.lstrip("/"),
    }


@contextmanager
def instance_at(home: Path):
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_home(request, tmp_path, monkeypatch) -> Path:
    """A DAGSTER_HOME on SQLite or on a fresh real PostgreSQL database."""
    home = tmp_path / f"{request.param}_home"
    home.mkdir()
    if request.param == "sqlite":
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    else:
        url = request.getfixturevalue("postgres_database")
        shutil.copy(REPO / "dagster.postgres.yaml", home / "dagster.yaml")
        for name, value in postgres_env(url).items():
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.mark.slow
def test_run_key_is_the_same_under_any_hash_seed():
    code = (
        "from dagster import AssetKey;from tests.test_run_keys import guard, ASSETS;"
        "p = guard().plan(ASSETS, trigger='t', partition_range=('2026-01-01', '2026-01-31'));"
        "print(p.run_key, p.fingerprint)"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("0", "1", "4242")
    }
    assert len(outputs) == 1
    key, fp = outputs.pop().split()
    assert key.startswith("floe1-") and len(fp) == 64


def test_key_depends_on_work_and_trigger_fingerprint_on_versions():
    a = guard().plan(ASSETS, trigger="t", partition="2026-01-01")
    assert guard().plan(ASSETS, trigger="t", partition="2026-01-01") == a
    assert guard().plan(ASSETS, trigger="other", partition="2026-01-01").run_key != a.run_key
    assert guard().plan(ASSETS, trigger="t", partition="2026-01-02").run_key != a.run_key
    changed = guard("sha256:v2").plan(ASSETS, trigger="t", partition="2026-01-01")
    assert changed.run_key == a.run_key and changed.fingerprint != a.fingerprint


def test_second_request_for_the_same_work_is_a_duplicate_naming_the_run(storage_home):
    with instance_at(storage_home) as instance:
        first = guard().check(instance, planned(guard(), 1), owner="a")
        create_runs(instance, first.granted)
        (run,) = instance.get_runs()
        again = guard().check(instance, planned(guard(), 1), owner="b")
    assert [p.run_key for p in first.granted] == [run.tags[RUN_KEY_TAG]]
    assert again.granted == []
    (skip,) = again.skipped
    assert skip.cause == "duplicate" and skip.run_id == run.run_id
    assert run.run_id in skip.message


def test_reservation_without_a_run_is_in_flight_for_others_and_free_for_its_owner(storage_home):
    with instance_at(storage_home) as instance:
        guard().check(instance, planned(guard(), 1), owner="tick-1")
        other = guard().check(instance, planned(guard(), 1), owner="tick-2")
        same = guard().check(instance, planned(guard(), 1), owner="tick-1")
    assert [s.cause for s in other.skipped] == ["in_flight"]
    assert len(same.granted) == 1


def test_changed_fingerprint_is_a_recorded_conflict_without_a_run(storage_home):
    with instance_at(storage_home) as instance:
        create_runs(instance, guard().check(instance, planned(guard(), 1), owner="a").granted)
        verdict = guard("sha256:v2").check(instance, planned(guard("sha256:v2"), 1), owner="b")
        records = ReservationStore(instance).list_conflicts()
        runs = instance.get_runs()
    (skip,) = verdict.skipped
    assert verdict.granted == [] and skip.cause == "conflict" and len(runs) == 1
    (record,) = records
    assert record.run_key == skip.planned.run_key and record.held_by_run_id == runs[0].run_id


def test_requests_beyond_the_published_limit_are_deferred(storage_home):
    with instance_at(storage_home) as instance:
        verdict = guard(limit=3).check(instance, planned(guard(limit=3), 5), owner="a")
    assert len(verdict.granted) == 3
    assert [s.cause for s in verdict.skipped] == ["over_limit", "over_limit"]


@pytest.mark.slow
def test_one_evaluation_of_1000_requests_makes_a_bounded_number_of_queries(storage_home):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with instance_at(storage_home) as instance:
        g = guard()
        g.check(instance, planned(g, 1), owner="warm-up")  # creates the tables once
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
        try:
            fresh = g.check(instance, planned(g, 1000, trigger="fresh"), owner="a")
            fresh_queries = len(statements)
            create_runs(instance, fresh.granted[:500])
            statements.clear()
            repeat = g.check(instance, planned(g, 1000, trigger="fresh"), owner="b")
            repeat_queries = len(statements)
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)
    assert len(fresh.granted) == 1000
    assert {s.cause for s in repeat.skipped} == {"duplicate", "in_flight"}
    # lookups, release, reserve and re-read are one statement per 500 keys; not one per key
    assert fresh_queries <= 20, statements
    assert repeat_queries <= 20, statements
