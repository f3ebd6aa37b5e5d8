"""Staleness tick over N partitioned assets x P daily partitions on PostgreSQL.

`python -m bench.staleness [--sizes 100x1000,1000x30,2000x30] [--postgres-admin URL]
[--repeat 3] [--profile]`, for each size: creates a fresh database `floe_bench_<random>` on
the given server (default: loopback, trust auth), writes every (asset, partition)'s
materialization, each after its planned-materialization event as a run writes them, plus
deliberate re-materializations, code-version mismatches, old timestamps and failed
attempts so every status occurs, and then measures, alternating, median of `--repeat`:

- tick: `compute_states(instance, partitioned_assets(graph), StalenessPolicy(window=P,
  max_age_hours=24))`, the staleness sensor's reads and judgement per tick;
- bulk read: one `get_event_records(EventRecordsFilter(ASSET_MATERIALIZATION))` on the event
  log storage, a single SELECT of every materialization record (deserialized), the least any
  judgement from the same records could cost.

It prints a Markdown table per size (wall and CPU seconds, ratio tick / bulk read, SQL
statements counted with SQLAlchemy's `before_cursor_execute`, partitions judged; the first
tick is the first after setup) and the statements per tick of every size, which do not grow
with assets. Why: the sensor must finish well inside Dagster's 60 s sensor timeout at 2,000
partitioned assets. Setup is timed separately and not counted; each database is dropped.
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
from datetime import datetime, timedelta
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
from dagster._core.events import (
    AssetMaterializationPlannedData,
    DagsterEvent,
    StepMaterializationData,
)
from dagster._core.events.log import EventLogEntry

from floe_dagster.automation.staleness import compute_states, partitioned_assets
from floe_dagster.contract.dagster_section import StalenessPolicy
from floe_dagster.names import CODE_VERSION_TAG

LAYERS = 10  # assets in 10 layers; each reads two assets of the layer below
END = datetime(2025, 9, 27)
SIZES = "100x1000,1000x30,2000x30"
CODE_VERSION = "v2"


class Size(NamedTuple):
    assets: int
    partitions: int

    @classmethod
    def parse(cls, text: str) -> Size:
        assets, partitions = (int(n) for n in text.lower().split("x"))
        return cls(assets, partitions)

    def __str__(self) -> str:
        return f"{self.assets:,} assets x {self.partitions:,} partitions"


def partitions_def(size: Size) -> DailyPartitionsDefinition:
    """Exactly `size.partitions` closed daily partitions."""
    start = END - timedelta(days=size.partitions)
    return DailyPartitionsDefinition(
        start_date=start.strftime("%Y-%m-%d"), end_date=END.strftime("%Y-%m-%d")
    )


def definitions(size: Size) -> Definitions:
    days = partitions_def(size)
    width = size.assets // LAYERS

    def make(name: str, deps: list[str]) -> AssetsDefinition:
        @asset(name=name, deps=deps, partitions_def=days, code_version=CODE_VERSION)
        def _asset() -> None: ...

        return _asset

    assets = []
    for layer in range(LAYERS):
        for i in range(width):
            deps = [] if layer == 0 else [f"a{layer - 1}_{i}", f"a{layer - 1}_{(i + 1) % width}"]
            assets.append(make(f"a{layer}_{i}", deps))
    return Definitions(assets=assets)


def materialization_entry(
    key: AssetKey, partition: str, code_version: str | None, ts: float
) -> EventLogEntry:
    """A stored materialization as a run's step would write it, for bulk setup."""
    tags = {CODE_VERSION_TAG: code_version} if code_version else {}
    mat = AssetMaterialization(key, partition=partition, tags=tags)
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        job_name="__ASSET_JOB",
        event_specific_data=StepMaterializationData(mat),
    )
    return EventLogEntry(
        user_message="",
        level=20,
        job_name="__ASSET_JOB",
        run_id="",
        error_info=None,
        timestamp=ts,
        step_key=None,
        dagster_event=event,
    )


def planned_entry(key: AssetKey, partition: str, run_id: str, ts: float) -> EventLogEntry:
    """The planned-materialization event a run stores for each partition when it is created."""
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value,
        job_name="__ASSET_JOB",
        event_specific_data=AssetMaterializationPlannedData(key, partition=partition),
    )
    return EventLogEntry(
        user_message="",
        level=10,
        job_name="__ASSET_JOB",
        run_id=run_id,
        error_info=None,
        timestamp=ts,
        step_key=None,
        dagster_event=event,
    )


def populate(
    instance: DagsterInstance, keys: list[AssetKey], size: Size, now: float
) -> Counter[str]:
    """Every (asset, partition) planned and materialized upstream first, then deliberate staleness."""
    storage = instance.event_log_storage
    partitions = partitions_def(size).get_partition_keys()
    width = size.assets // LAYERS
    planted: Counter[str] = Counter()
    for a, key in enumerate(keys):  # keys are upstream first: storage ids say "fresh"
        batch, planned = [], []
        for p, partition in enumerate(partitions):
            code = CODE_VERSION
            ts = now - 3600
            if a % 10 == 3 and p % 50 == 0:
                code, planted["stale_code"] = "v1", planted["stale_code"] + 1
            elif a % 25 == 7 and p < 100:
                ts, planted["stale_age"] = now - 48 * 3600, planted["stale_age"] + 1
            planned.append(planned_entry(key, partition, "", ts))
            batch.append(materialization_entry(key, partition, code, ts))
        with (
            storage.index_connection() as conn
        ):  # as rows: Dagster stores planned events one by one
            conn.execute(storage.prepare_insert_event_batch(planned))
        storage.store_event_batch(batch)  # one batch per asset: it updates the asset's row
    for key in keys[: width * (LAYERS - 1)][::9]:  # upstream re-materialized after downstream
        again = partitions[-40::4]
        storage.store_event_batch(
            [materialization_entry(key, pt, CODE_VERSION, now - 600) for pt in again]
        )
        planted["upstream re-materializations"] += len(again)
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
    return Sample(
        time.perf_counter() - start, time.process_time() - cpu, counter.count - before, result
    )


def _median(samples: list[Sample]) -> Sample:
    last = samples[-1]
    return Sample(
        statistics.median(s.wall for s in samples),
        statistics.median(s.cpu for s in samples),
        last.statements,
        last.result,
    )


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


@contextmanager
def postgres_instance(admin_url: str) -> Iterator[tuple[DagsterInstance, str]]:
    """A Dagster instance on a fresh PostgreSQL database (and a temporary DAGSTER_HOME); its URL."""
    home = Path(tempfile.mkdtemp(prefix="bench_staleness_"))
    try:
        with fresh_database(admin_url) as url:
            (home / "dagster.yaml").write_text(
                f"storage:\n  postgres:\n    postgres_url: {url}\ntelemetry:\n  enabled: false\n"
            )
            with DagsterInstance.from_config(str(home)) as instance:
                yield instance, url
    finally:
        shutil.rmtree(home, ignore_errors=True)


class Result(NamedTuple):
    size: Size
    setup_s: float
    planted: Counter[str]
    tick: Sample
    first: Sample
    bulk: Sample


def run(admin_url: str, size: Size, repeat: int, profile: bool) -> Result:
    warnings.filterwarnings("ignore")
    assets = partitioned_assets(definitions(size).get_repository_def().asset_graph)
    policy = StalenessPolicy(window=size.partitions, max_age_hours=24)
    now = time.time()
    with postgres_instance(admin_url) as (instance, _url):
        start = time.perf_counter()
        planted = populate(instance, [a.key for a in assets], size, now)
        setup_s = time.perf_counter() - start

        def tick() -> list[Any]:
            return compute_states(instance, assets, policy, now=now)

        def bulk() -> list[Any]:  # one SELECT of every materialization, deserialized
            return instance.event_log_storage.get_event_records(
                EventRecordsFilter(event_type=DagsterEventType.ASSET_MATERIALIZATION)
            )

        counter = StatementCounter()
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", counter)
        try:
            first = _measure(tick, counter)
            ticks, bulks = [], []
            for _ in range(repeat):
                bulks.append(_measure(bulk, counter))
                ticks.append(_measure(tick, counter))
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", counter)
        if profile:
            prof = cProfile.Profile()
            prof.runcall(tick)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(40)

    return Result(size, setup_s, planted, _median(ticks), first, _median(bulks))


def report(r: Result, repeat: int) -> None:
    t, b, first = r.tick, r.bulk, r.first
    statuses = Counter(s.status.value for s in t.result)
    print(f"### {r.size}\n")
    print(
        f"setup (not counted): {r.setup_s:.1f} s to store {len(b.result):,} materializations "
        f"and their planned events ({dict(r.planted)})\n"
    )
    print(
        "| case | tick (s) | bulk read (s) | ratio tick/bulk | tick CPU (s) | bulk CPU (s) "
        "| tick statements | bulk statements | partitions judged |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| warm, median of {repeat} | {t.wall:.2f} | {b.wall:.2f} | {t.wall / b.wall:.2f} | "
        f"{t.cpu:.2f} | {b.cpu:.2f} | {t.statements:,} | {b.statements} | {len(t.result):,} |"
    )
    print(
        f"| first tick | {first.wall:.2f} | | {first.wall / b.wall:.2f} | "
        f"{first.cpu:.2f} | | {first.statements:,} | | {len(first.result):,} |\n"
    )
    print(f"statuses: {dict(sorted(statuses.items()))}\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres-admin",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="URL of an existing database on the server to create the bench database on",
    )
    parser.add_argument("--sizes", default=SIZES, help="comma-separated ASSETSxPARTITIONS")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one more tick")
    args = parser.parse_args()
    results = []
    for size in [Size.parse(text) for text in args.sizes.split(",")]:
        results.append(run(args.postgres_admin, size, args.repeat, args.profile))
        report(results[-1], args.repeat)
    print("statements per tick: " + "; ".join(f"{r.size} {r.tick.statements:,}" for r in results))


if __name__ == "__main__":
    main()
