"""Every sensor this package adds makes the same number of statements per tick at any size.

Each sensor is evaluated as the daemon evaluates it (`evaluate_tick` on the product's
repository, against a real SQLite or PostgreSQL instance) on two synthetic products, with
10 and with 40 daily-partitioned assets, and its statements are counted with SQLAlchemy's
`before_cursor_execute`. A read per asset or per partition would make the larger product
cost more.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster import (
    AssetMaterialization,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    EventRecordsFilter,
    RepositoryDefinition,
    build_sensor_context,
)
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

from bench.staleness import materialization_entry
from bench.synthetic import synthetic_product
from floe_dagster import load_product_definitions
from floe_dagster.automation.backfills import RANGE_END_TAG, RANGE_START_TAG
from floe_dagster.automation.staleness import compute_states, partitioned_assets
from floe_dagster.automation.staleness_check import (
    check_result,
    record_changed,
    states_by_asset,
)
from floe_dagster.contract.dagster_section import StalenessPolicy
from floe_dagster.execution.coordinator import BACKFILL_ID_TAG, HELD_TAG, PARTITION_TAG
from tests.conftest import REPO, new_postgres_database
from tests.test_run_keys import instance_at

SIZES = {10: 50, 40: 200}  # partitioned assets (the marts): synthetic models
WINDOW = 30  # the staleness window's default
MATERIALIZED_DAYS = 1  # the window's first day: the other 29 are missing, more than the cap
CAP = 25  # the default max_requests_per_tick
COUNTED = {"staleness", "backfill_policy"}  # the sensors the tests below tick at both sizes


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_home(request, tmp_path) -> Iterator[Callable[[], Path]]:
    """Makes a new DAGSTER_HOME each call: SQLite, or a new real PostgreSQL database."""
    with ExitStack() as stack:

        def make() -> Path:
            home = Path(tempfile.mkdtemp(dir=tmp_path))
            if request.param == "sqlite":
                shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
            else:
                url = stack.enter_context(new_postgres_database())
                (home / "dagster.yaml").write_text(
                    f"storage:\n  postgres:\n    postgres_url: {url}\ntelemetry:\n  enabled: false\n"
                )
            return home

        yield make


@pytest.fixture(scope="module")
def products() -> dict[int, tuple[str, RepositoryDefinition]]:
    """Both products built (dbt parse, cached under .artifacts) before any tick is counted."""
    return {n: product(n) for n in SIZES}


def test_every_sensor_the_package_adds_is_counted_here(products):
    for name, repo in products.values():
        assert {s.name.removeprefix(f"{name}_") for s in repo.sensor_defs} == COUNTED


def product(partitioned: int) -> tuple[str, RepositoryDefinition]:
    models = SIZES[partitioned]
    project = synthetic_product(models, REPO / ".artifacts" / "synthetic")
    name = f"synthetic_{models}"
    return name, load_product_definitions(name, project).get_repository_def()


def counted(run: Callable[[], object]) -> tuple[int, object]:
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
    try:
        result = run()
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)
    return len(statements), result


def tick(instance: DagsterInstance, repo: RepositoryDefinition, sensor_name: str):
    sensor = repo.get_sensor_def(sensor_name)
    context = build_sensor_context(instance=instance, repository_def=repo, sensor_name=sensor_name)
    return sensor.evaluate_tick(context)


def window(repo: RepositoryDefinition) -> list[str]:
    return partitioned_assets(repo.asset_graph)[0].partitions_def.get_partition_keys()[-WINDOW:]


def materialize_window(instance: DagsterInstance, repo: RepositoryDefinition) -> None:
    """Every partitioned asset materialized on the window's first days, as runs would."""
    now = time.time()
    for asset in partitioned_assets(repo.asset_graph):
        instance.event_log_storage.store_event_batch(
            [
                materialization_entry(asset.key, day, asset.code_version, now)
                for day in window(repo)[:MATERIALIZED_DAYS]
            ]
        )


def check_evaluations(instance: DagsterInstance) -> list:
    """Every stored partition_staleness evaluation, newest first."""
    return instance.get_event_records(EventRecordsFilter(DagsterEventType.ASSET_CHECK_EVALUATION))


def staleness_ticks(
    home: Path, product: tuple[str, RepositoryDefinition]
) -> tuple[list[int], int, int]:
    """Statements of a first and a second tick, requests and evaluations written by the second."""
    name, repo = product
    with instance_at(home) as instance:
        materialize_window(instance, repo)
        first, _ = counted(lambda: tick(instance, repo, f"{name}_staleness"))
        before = len(check_evaluations(instance))
        second, result = counted(lambda: tick(instance, repo, f"{name}_staleness"))
        written = len(check_evaluations(instance)) - before
    return [first, second], len(result.run_requests), written


def test_staleness_tick_statements_do_not_grow_with_assets(fresh_home, products):
    small, small_requests, _ = staleness_ticks(fresh_home(), products[10])
    large, large_requests, _ = staleness_ticks(fresh_home(), products[40])
    assert small_requests == large_requests == CAP  # the same work requested at both sizes
    # the first tick records every asset's check (each state is new): that grows with assets
    assert small[1] == large[1], (small, large)


def test_a_tick_over_unchanged_assets_records_no_check_evaluation(fresh_home, products):
    _, _, written = staleness_ticks(fresh_home(), products[40])
    assert written == 0


def test_a_changed_asset_has_its_check_recorded_again(fresh_home, products):
    name, repo = products[10]
    asset = partitioned_assets(repo.asset_graph)[0]
    with instance_at(fresh_home()) as instance:
        materialize_window(instance, repo)
        tick(instance, repo, f"{name}_staleness")
        before = len(check_evaluations(instance))
        instance.report_runless_asset_event(
            AssetMaterialization(asset.key, partition=window(repo)[-1])
        )
        tick(instance, repo, f"{name}_staleness")
        records = check_evaluations(instance)
    new = records[: len(records) - before]
    assert [r.event_log_entry.dagster_event.event_specific_data.asset_key for r in new] == [
        asset.key
    ]


def backfill_ticks(home: Path, product: tuple[str, RepositoryDefinition]) -> list[int]:
    """Statements of the backfill sensor's three ticks over one held 3-day CLI backfill:
    request the replacement run, drop the held runs once it exists, then find nothing."""
    name, repo = product
    job = repo.get_job("daily_job")
    days = job.partitions_def.get_partition_keys()[:3]
    backfill_id = "clibackfill"
    counts = []
    with instance_at(home) as instance:
        for day in days:
            instance.add_run(
                DagsterRun(
                    job_name=job.name,
                    status=DagsterRunStatus.NOT_STARTED,
                    tags={
                        "floe/product": name,
                        BACKFILL_ID_TAG: backfill_id,
                        HELD_TAG: backfill_id,
                        PARTITION_TAG: day,
                    },
                )
            )
        instance.add_backfill(
            PartitionBackfill(
                backfill_id, BulkActionStatus.COMPLETED_SUCCESS, False, {}, time.time()
            )
        )
        n, result = counted(lambda: tick(instance, repo, f"{name}_backfill_policy"))
        counts.append(n)
        (request,) = result.run_requests
        instance.add_run(DagsterRun(job_name=job.name, tags=request.tags))  # what the daemon makes
        for _ in range(2):
            n, result = counted(lambda: tick(instance, repo, f"{name}_backfill_policy"))
            counts.append(n)
        held = [r for r in instance.get_runs() if HELD_TAG in r.tags]
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (days[0], days[-1])
    assert held == [] and result.run_requests == []
    return counts


def test_backfill_sensor_statements_do_not_grow_with_assets(fresh_home, products):
    assert backfill_ticks(fresh_home(), products[10]) == backfill_ticks(fresh_home(), products[40])


def test_changed_checks_past_the_per_tick_cap_are_recorded_on_the_next_ticks(fresh_home, products):
    _, repo = products[40]
    policy = StalenessPolicy()
    with instance_at(fresh_home()) as instance:
        materialize_window(instance, repo)
        grouped = states_by_asset(
            compute_states(instance, partitioned_assets(repo.asset_graph), policy)
        )
        results = {key: check_result(states, policy) for key, states in grouped.items()}
        ticks = [record_changed(instance, results, limit=15) for _ in range(4)]
    assert [(len(recorded), waiting) for recorded, waiting in ticks] == [
        (15, 25),
        (15, 10),
        (10, 0),
        (0, 0),
    ]
    assert {key for recorded, _ in ticks for key in recorded} == set(results)
