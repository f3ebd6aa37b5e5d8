"""Run-key check for 1,000 requests in one evaluation, against Dagster's own per-key lookup.

`python -m bench.run_keys [--postgres URL] [--requests 1000] [--repeat 3]` prints a
Markdown table: seconds per evaluation and storage queries, for

- floe: `RunKeyGuard.check` (bulk lookup of reservations and runs, atomic reservation);
- dagster: what the sensor daemon does per request, `get_runs(RunsFilter(tags={run_key}))`
  once per key (it only looks, it reserves nothing);

on fresh keys and on keys that all have runs already, and the ratio floe / dagster.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

import sqlalchemy as sa
from dagster import AssetKey, DagsterInstance, DagsterRun, RunsFilter

from floe_dagster.contract.dagster_section import RunKeyLimits
from floe_dagster.execution.run_keys import RunKeyGuard

REPO = Path(__file__).resolve().parents[1]
ASSETS = [AssetKey(["bench", "model"])]


def _instance_home(postgres_url: str | None) -> Path:
    home = Path(tempfile.mkdtemp(prefix="bench_run_keys_"))
    if postgres_url:
        shutil.copy(REPO / "dagster.postgres.yaml", home / "dagster.yaml")
        parts = urlparse(postgres_url)
        os.environ.update(
            DAGSTER_PG_HOST=parts.hostname or "127.0.0.1",
            DAGSTER_PG_PORT=str(parts.port or 5432),
            DAGSTER_PG_USER=parts.username or "postgres",
            DAGSTER_PG_PASSWORD=parts.password or "",
            DAGSTER_PG_DB=parts.path.lstrip("/"),
        )
    else:
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    return home


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args: object) -> None:
        self.count += 1


def _dagster_lookup(instance: DagsterInstance, planned: list) -> None:
    """Dagster's own way: one run lookup per run key."""
    for p in planned:
        instance.get_runs(filters=RunsFilter(tags={"dagster/run_key": p.run_key}))


def _measure(run: Callable[[], object], counter: QueryCounter) -> tuple[float, int]:
    before = counter.count
    start = time.perf_counter()
    run()
    return time.perf_counter() - start, counter.count - before


def bench(
    postgres_url: str | None, n: int, repeat: int
) -> list[tuple[str, float, int, float, int]]:
    guard = RunKeyGuard("bench", "sha256:bench", {"bench/model": "c1"}, RunKeyLimits())
    counter = QueryCounter()
    rows = []
    with DagsterInstance.from_config(str(_instance_home(postgres_url))) as instance:
        guard.check(instance, [], owner="setup")
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", counter)
        for case in ("fresh keys", "all keys already run"):
            floe_times, dagster_times = [], []
            for r in range(repeat):
                planned = [
                    guard.plan(ASSETS, trigger=f"{case}-{r}", partition=f"p{i:05d}")
                    for i in range(n)
                ]
                if case != "fresh keys":
                    for p in planned:
                        instance.add_run(
                            DagsterRun(
                                job_name="bench", tags={**p.tags, "dagster/run_key": p.run_key}
                            )
                        )

                dagster_times.append(_measure(partial(_dagster_lookup, instance, planned), counter))
                floe_times.append(
                    _measure(partial(guard.check, instance, planned, owner=f"bench-{r}"), counter)
                )
            floe_s = statistics.median(t for t, _ in floe_times)
            dagster_s = statistics.median(t for t, _ in dagster_times)
            rows.append((case, floe_s, floe_times[-1][1], dagster_s, dagster_times[-1][1]))
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", counter)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", help="PostgreSQL URL of an empty database to use")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    storage = "PostgreSQL" if args.postgres else "SQLite"
    print(
        "| storage | case | floe check (s) | floe queries | dagster per-key (s) | dagster queries | ratio floe/dagster |"
    )
    print("|---|---|---|---|---|---|---|")
    for case, floe_s, floe_q, dagster_s, dagster_q in bench(
        args.postgres, args.requests, args.repeat
    ):
        print(
            f"| {storage} | {args.requests} requests, {case} | {floe_s:.3f} | {floe_q} | "
            f"{dagster_s:.3f} | {dagster_q} | {floe_s / dagster_s:.2f} |"
        )


if __name__ == "__main__":
    main()
