"""Wall time of a 90-partition backfill of customer_360's daily assets, three ways.

`python -m bench.backfill` runs, in this one process on a fresh DuckDB each time, the same
90 days as (a) one coalesced run, (b) chunked runs of 10 partitions, (c) one run per
partition, each through Dagster's in-process executor, and prints times and ratios to (a).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from dagster import DagsterInstance

from floe_dagster import load_product_definitions

REPO = Path(__file__).resolve().parents[1]
DAYS = 90


def run_backfill(chunk: int | None, workdir: Path) -> tuple[float, int]:
    """Materialize DAYS daily partitions in runs of `chunk` partitions (None: one run)."""
    os.environ["FLOE_DUCKDB_PATH"] = str(workdir / f"wh_{chunk}.duckdb")
    defs = load_product_definitions("customer_360", REPO / "products" / "customer_360")
    repo = defs.get_repository_def()
    job = repo.get_job("daily_job")
    keys = job.partitions_def.get_partition_keys()[:DAYS]
    size = chunk or DAYS
    started = time.perf_counter()
    runs = 0
    with DagsterInstance.ephemeral() as instance:
        for i in range(0, DAYS, size):
            part = keys[i : i + size]
            tags = {
                "dagster/asset_partition_range_start": part[0],
                "dagster/asset_partition_range_end": part[-1],
            }
            assert job.execute_in_process(instance=instance, tags=tags).success
            runs += 1
    return time.perf_counter() - started, runs


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="floe-bench-backfill-"))
    try:
        rows = [("coalesced", None), ("chunked(10)", 10), ("one run per partition", 1)]
        results = {name: run_backfill(chunk, workdir) for name, chunk in rows}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    base = results["coalesced"][0]
    print(f"| {DAYS}-partition backfill | runs | wall time (s) | ratio to coalesced |")
    print("|---|---:|---:|---:|")
    for name, (seconds, runs) in results.items():
        print(f"| {name} | {runs} | {seconds:.1f} | {seconds / base:.2f} |")


if __name__ == "__main__":
    main()
