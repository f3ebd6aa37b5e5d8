"""Wall time of a 90-partition backfill of customer_360's daily assets.

`python -m bench.backfill` runs, in this one process on a fresh DuckDB each time, the same
90 days as (a) one coalesced run, (b) chunked runs of 10 partitions, (c) one run per
partition, each through Dagster's in-process executor, and prints times and ratios to (a).

`python -m bench.backfill --postgres` compares the chunked(10) backfill run serially on
DuckDB with the same chunks run PARALLEL at a time on a PostgreSQL warehouse (a database of
its own on the local server, dropped after). Both ways run each chunk in a worker process
that loads the definitions once, as a run worker would, and both run the first chunk alone:
the first load into an empty warehouse creates the tables (docs/operations.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import cache
from multiprocessing import get_context
from pathlib import Path

import psycopg2
from dagster import DagsterInstance, JobDefinition

from floe_dagster import load_product_definitions

REPO = Path(__file__).resolve().parents[1]
DAYS = 90
CHUNK = 10
PARALLEL = 3  # runs at a time on PostgreSQL: the 2-core machine's cores, plus one waiting on I/O
POSTGRES_URL = os.environ.get("FLOE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


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


@cache
def _daily_job(product: str) -> JobDefinition:
    defs = load_product_definitions("customer_360", REPO / "products" / product)
    return defs.get_repository_def().get_job("daily_job")


def _run_chunk(product: str, env: dict[str, str], part: Sequence[str]) -> None:
    """One chunk as one run, in this worker process (definitions loaded once per worker)."""
    os.environ.update(env)
    tags = {
        "dagster/asset_partition_range_start": part[0],
        "dagster/asset_partition_range_end": part[-1],
    }
    with DagsterInstance.ephemeral() as instance:
        assert _daily_job(product).execute_in_process(instance=instance, tags=tags).success


def run_chunks(product: str, env: dict[str, str], workers: int) -> float:
    """The DAYS-partition backfill in chunks of CHUNK, `workers` runs at a time."""
    keys = _daily_job("customer_360").partitions_def.get_partition_keys()[:DAYS]
    chunks = [keys[i : i + CHUNK] for i in range(0, DAYS, CHUNK)]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        started = time.perf_counter()
        pool.submit(_run_chunk, product, env, chunks[0]).result()
        for done in [pool.submit(_run_chunk, product, env, c) for c in chunks[1:]]:
            done.result()
        return time.perf_counter() - started


@contextmanager
def postgres_warehouse() -> Iterator[dict[str, str]]:
    """The WAREHOUSE_* variables of a new database on the local server; dropped on exit."""
    name = f"floe_bench_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(POSTGRES_URL, connect_timeout=5)
    admin.autocommit = True
    dsn = psycopg2.extensions.parse_dsn(POSTGRES_URL)
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {
            "WAREHOUSE_HOST": dsn.get("host", "127.0.0.1"),
            "WAREHOUSE_PORT": str(dsn.get("port", 5432)),
            "WAREHOUSE_USER": dsn.get("user", "postgres"),
            "WAREHOUSE_DB": name,
            "WAREHOUSE_PASSWORD": "trust-auth-ignores-it",
        }
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def compare_postgres() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="floe-bench-backfill-"))
    try:
        duckdb_env = {"FLOE_DUCKDB_PATH": str(workdir / "wh.duckdb")}
        serial = run_chunks("customer_360", duckdb_env, workers=1)
        with postgres_warehouse() as env:
            parallel = run_chunks("customer_360_postgres", env, workers=PARALLEL)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    runs = -(-DAYS // CHUNK)
    print(f"| {DAYS}-partition backfill, chunked({CHUNK}) | runs | wall time (s) | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| serial on DuckDB | {runs} | {serial:.1f} | 1.00 |")
    print(
        f"| {PARALLEL} at a time on PostgreSQL | {runs} | {parallel:.1f} | {parallel / serial:.2f} |"
    )


def compare_run_shapes() -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="chunked: DuckDB vs PostgreSQL")
    if parser.parse_args().postgres:
        compare_postgres()
    else:
        compare_run_shapes()


if __name__ == "__main__":
    main()
