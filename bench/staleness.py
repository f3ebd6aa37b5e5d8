"""Staleness tick over 100 assets x 1,000 daily partitions on PostgreSQL.

`python -m bench.staleness [--postgres-admin URL] [--repeat 3] [--profile]` creates a fresh
database `floe_bench_<random>` on the given server (default: loopback, trust auth), writes
100,000 materializations (every asset, every partition, plus deliberate re-materializations,
code-version mismatches, old timestamps and failed attempts so every status occurs), and
then measures, alternating, median of `--repeat`:

- tick: `compute_states(instance, partitioned_assets(graph), StalenessPolicy(window=1000,
  max_age_hours=24))`, the staleness sensor's work per tick;
- bulk read: one `get_event_records(EventRecordsFilter(ASSET_MATERIALIZATION))` on the event
  log storage, a single SELECT of every materialization record (deserialized), the least any
  judgement from the same records could cost.

It prints a Markdown table (wall and CPU seconds, ratio tick / bulk read, SQL statements counted with
SQLAlchemy's `before_cursor_execute`, partitions judged) and the statement count for a
smaller window and half the assets, which shows statements grow with assets, not partitions.
Why: the sensor must finish well inside Dagster's 60 s sensor timeout at this size. Setup is
timed separately and not counted; the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import secrets
import shutil
import statistics
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import psycopg2
import sqlalchemy as sa
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DailyPartitionsDefinition,
    Definitions,
    EventRecordsFilter,
    asset,
)
from dagster._core.events import AssetMaterializationPlannedData, DagsterEvent, StepMaterializationData
from dagster._core.events.log import EventLogEntry

from floe_dagster.automation.staleness import CODE_VERSION_TAG, compute_states, partitioned_assets
from floe_dagster.contract.dagster_section import StalenessPolicy

LAYERS, WIDTH = 10, 10  # 100 assets; each reads two assets of the layer below
PARTITIONS = DailyPartitionsDefinition(start_date="2023-01-01", end_date="2025-09-27")
POLICY = StalenessPolicy(window=1000, max_age_hours=24)
CODE_VERSION = "v2"


def definitions() -> Definitions:
    def make(name: str, deps: list[str]) -> AssetsDefinition:
        @asset(name=name, deps=deps, partitions_def=PARTITIONS, code_version=CODE_VERSION)
        def _asset() -> None: ...

        return _asset

    assets = []
    for layer in range(LAYERS):
        for i in range(WIDTH):
            deps = [] if layer == 0 else [f"a{layer - 1}_{i}", f"a{layer - 1}_{(i + 1) % WIDTH}"]
            assets.append(make(f"a{layer}_{i}", deps))
    return Definitions(assets=assets)


def _materialization(key: AssetKey, partition: str, code_version: str, ts: float) -> EventLogEntry:
    mat = AssetMaterialization(key, partition=partition, tags={CODE_VERSION_TAG: code_version})
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        job_name="__ASSET_JOB",
        event_specific_data=StepMaterializationData(mat),
    )
    return EventLogEntry(
        user_message="", level=20, job_name="__ASSET_JOB", run_id="",
        error_info=None, timestamp=ts, step_key=None, dagster_event=event,
    )


def populate(instance: DagsterInstance, keys: list[AssetKey], now: float) -> Counter[str]:
    """Every (asset, partition) materialized upstream first, then deliberate staleness."""
    storage = instance.event_log_storage
    partitions = PARTITIONS.get_partition_keys()
    planted: Counter[str] = Counter()
    for a, key in enumerate(keys):  # keys are upstream first: storage ids say "fresh"
        batch = []
        for p, partition in enumerate(partitions):
            code = CODE_VERSION
            ts = now - 3600
            if a % 10 == 3 and p % 50 == 0:
                code, planted["stale_code"] = "v1", planted["stale_code"] + 1
            elif a % 25 == 7 and p < 100:
                ts, planted["stale_age"] = now - 48 * 3600, planted["stale_age"] + 1
            batch.append(_materialization(key, partition, code, ts))
        storage.store_event_batch(batch)  # one batch per asset: it updates the asset's row
    for key in keys[: WIDTH * (LAYERS - 1)][::9]:  # upstream re-materialized after downstream
        storage.store_event_batch(
            [_materialization(key, pt, CODE_VERSION, now - 600) for pt in partitions[-40::4]]
        )
        planted["upstream re-materializations"] += 10
    for i, key in enumerate(keys[-5:]):  # a failed attempt after the last materialization
        run = DagsterRun(job_name="bench", run_id=f"failed{i:04d}", status=DagsterRunStatus.FAILURE)
        instance.add_run(run)
        for partition in partitions[-3:]:
            instance.report_dagster_event(
                DagsterEvent(
                    event_type_value=DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value,
                    job_name="bench",
                    event_specific_data=AssetMaterializationPlannedData(key, partition=partition),
                ),
                run_id=run.run_id,
            )
            planted["failed attempts"] += 1
    return planted


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args: object) -> None:
        self.count += 1


class Sample(NamedTuple):
    wall: float  # seconds
    cpu: float  # this process's CPU seconds (the machine may be shared; PostgreSQL not included)
    statements: int
    result: Any


def _measure(run: Callable[[], Any], counter: StatementCounter) -> Sample:
    before, cpu, start = counter.count, time.process_time(), time.perf_counter()
    result = run()
    return Sample(time.perf_counter() - start, time.process_time() - cpu, counter.count - before, result)


def _median(samples: list[Sample]) -> Sample:
    last = samples[-1]
    return Sample(statistics.median(s.wall for s in samples), statistics.median(s.cpu for s in samples),
                  last.statements, last.result)


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new database on the server of `admin_url`, dropped on exit; yields its URL."""
    name = f"floe_bench_{secrets.token_hex(4)}"
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        conn.cursor().execute(f'CREATE DATABASE "{name}"')
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def run(admin_url: str, repeat: int, profile: bool) -> None:
    warnings.filterwarnings("ignore")
    assets = partitioned_assets(definitions().get_repository_def().asset_graph)
    now = time.time()
    home = Path(tempfile.mkdtemp(prefix="bench_staleness_"))
    try:
        with fresh_database(admin_url) as url:
            (home / "dagster.yaml").write_text(
                f"storage:\n  postgres:\n    postgres_url: {url}\ntelemetry:\n  enabled: false\n"
            )
            with DagsterInstance.from_config(str(home)) as instance:
                start = time.perf_counter()
                planted = populate(instance, [a.key for a in assets], now)
                setup_s = time.perf_counter() - start

                def tick(window: int = POLICY.window, subset: int = len(assets)) -> list[Any]:
                    policy = POLICY.model_copy(update={"window": window})
                    return compute_states(instance, assets[:subset], policy, now=now)

                def bulk() -> list[Any]:  # one SELECT of every materialization, deserialized
                    return instance.event_log_storage.get_event_records(
                        EventRecordsFilter(event_type=DagsterEventType.ASSET_MATERIALIZATION)
                    )

                counter = StatementCounter()
                sa.event.listen(sa.engine.Engine, "before_cursor_execute", counter)
                try:
                    cold = _measure(tick, counter)  # also builds Dagster's partition status cache
                    ticks, bulks = [], []
                    for _ in range(repeat):
                        bulks.append(_measure(bulk, counter))
                        ticks.append(_measure(tick, counter))
                    small = _measure(lambda: tick(window=10), counter)
                    half = _measure(lambda: tick(subset=len(assets) // 2), counter)
                finally:
                    sa.event.remove(sa.engine.Engine, "before_cursor_execute", counter)
                if profile:
                    prof = cProfile.Profile()
                    prof.runcall(tick)
                    pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
    finally:
        shutil.rmtree(home, ignore_errors=True)

    t, b = _median(ticks), _median(bulks)
    statuses = Counter(s.status.value for s in t.result)
    print(f"setup (not counted): {setup_s:.1f} s to store {len(b.result):,} materializations "
          f"({dict(planted)})\n")
    print("| case | tick (s) | bulk read (s) | ratio tick/bulk | tick CPU (s) | bulk CPU (s) "
          "| tick statements | bulk statements | partitions judged |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| warm, median of {repeat} | {t.wall:.2f} | {b.wall:.2f} | {t.wall / b.wall:.2f} | "
          f"{t.cpu:.2f} | {b.cpu:.2f} | {t.statements:,} | {b.statements} | {len(t.result):,} |")
    print(f"| first tick (status cache cold) | {cold.wall:.2f} | | {cold.wall / b.wall:.2f} | "
          f"{cold.cpu:.2f} | | {cold.statements:,} | | {len(cold.result):,} |\n")
    print(f"statuses: {dict(sorted(statuses.items()))}")
    print(f"tick statements by size: 100 assets x 1,000 partitions {t.statements:,}; "
          f"100 assets x 10 partitions {small.statements:,}; "
          f"50 assets x 1,000 partitions {half.statements:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres-admin", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="URL of an existing database on the server to create the bench database on")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one more tick")
    args = parser.parse_args()
    run(args.postgres_admin, args.repeat, args.profile)


if __name__ == "__main__":
    main()
