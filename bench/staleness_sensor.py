"""The staleness sensor's whole tick, as the daemon evaluates it, on a 10,000-model product.

`python -m bench.staleness_sensor [--models 10000] [--postgres-admin URL]`: the synthetic
product of `bench/synthetic.py` (a fifth of the models are daily-partitioned marts: 2,000
at 10,000 models), on a fresh PostgreSQL database `floe_bench_<random>` (dropped at the
end), with every partition of the staleness window materialized after its planned event,
as runs store them. It then evaluates the sensor (`evaluate_tick`: judging, planning, the
run-key check and the check evaluations) until a tick writes no event, and prints each
tick's wall time, SQL statements and events written. Why: the whole tick, not only its
reads, must fit Dagster's 60 s sensor timeout, and a tick over unchanged assets must write
next to nothing. Setup is timed separately and not counted.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import psycopg2
import sqlalchemy as sa
from dagster import DagsterInstance, build_sensor_context

from bench.staleness import (
    StatementCounter,
    materialization_entry,
    planned_entry,
    postgres_instance,
)
from bench.synthetic import synthetic_product
from floe_dagster import load_product_definitions
from floe_dagster.automation.staleness import partitioned_assets, window_keys
from floe_dagster.contract.dagster_section import StalenessPolicy

CACHE_DIR = Path(__file__).resolve().parent.parent / ".artifacts" / "synthetic"
MAX_TICKS = 20


def event_count(url: str) -> int:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:  # outside SQLAlchemy: not counted
        cur.execute("SELECT count(*) FROM event_logs")
        return cur.fetchone()[0]


def populate(instance: DagsterInstance, assets: list, window: int, now: float) -> int:
    """Every asset's window materialized (each after its planned event); returns partitions."""
    storage = instance.event_log_storage
    stored = 0
    for asset in assets:
        days = window_keys(asset.partitions_def, window, now)
        planned = [planned_entry(asset.key, day, "", now - 3600) for day in days]
        with (
            storage.index_connection() as conn
        ):  # as rows: Dagster stores planned events one by one
            conn.execute(storage.prepare_insert_event_batch(planned))
        storage.store_event_batch(
            [materialization_entry(asset.key, day, asset.code_version, now - 3600) for day in days]
        )
        stored += len(days)
    return stored


def run(admin_url: str, models: int) -> None:
    warnings.filterwarnings("ignore")
    start = time.perf_counter()
    project = synthetic_product(models, CACHE_DIR)
    name = f"synthetic_{models}"
    repo = load_product_definitions(name, project).get_repository_def()
    sensor = repo.get_sensor_def(f"{name}_staleness")
    assets = partitioned_assets(repo.asset_graph)
    load_s = time.perf_counter() - start
    with postgres_instance(admin_url) as (instance, url):
        start = time.perf_counter()
        stored = populate(instance, assets, StalenessPolicy().window, time.time())
        setup_s = time.perf_counter() - start
        print(
            f"{models:,} models, {len(assets):,} partitioned assets; definitions built in "
            f"{load_s:.1f} s; setup (not counted): {setup_s:.1f} s to store {stored:,} "
            "materializations and their planned events\n"
        )
        print("| tick | wall (s) | statements | events written | run requests |")
        print("|---:|---:|---:|---:|---:|")
        counter = StatementCounter()
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", counter)
        try:
            for n in range(1, MAX_TICKS + 1):
                events, statements = event_count(url), counter.count
                context = build_sensor_context(
                    instance=instance, repository_def=repo, sensor_name=sensor.name
                )
                began = time.perf_counter()
                result = sensor.evaluate_tick(context)
                wall = time.perf_counter() - began
                written = event_count(url) - events
                print(
                    f"| {n} | {wall:.2f} | {counter.count - statements:,} | {written:,} | "
                    f"{len(result.run_requests)} |",
                    flush=True,
                )
                if written == 0:
                    break
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", counter)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres-admin",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="URL of an existing database on the server to create the bench database on",
    )
    parser.add_argument("--models", type=int, default=10000)
    args = parser.parse_args()
    run(args.postgres_admin, args.models)


if __name__ == "__main__":
    main()
