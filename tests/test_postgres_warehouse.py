"""customer_360 on a PostgreSQL warehouse: the documented command, steps in parallel, pools.

Two module-scoped runs through the real dagster CLI, each against a database of its own on
the shared PostgreSQL server, logged in as a role with a known password:
- the documented command (docs/operations.md, `<!-- postgres-demo -->`), run as written;
- a copy with both ingestion sources in one pool limited to 1, lineage and spans sent to
  loopback receivers, materializing the ingestion group and one dbt model.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, serialize_value

from floe_dagster import load_product_definitions
from tests.conftest import (
    POSTGRES_URL,
    REPO,
    VENV_BIN,
    cli_env,
    floe_dagster_settings,
    new_postgres_database,
)
from tests.observed_runs import ALL_DAYS, observe
from tests.receivers import lineage_receiver, otlp_receiver

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PRODUCT = REPO / "products" / "customer_360_postgres"
DOCS = REPO / "docs" / "operations.md"
POOL = "shop_source"
JOB = "customer_360_daily_job"


@dataclass(frozen=True)
class Warehouse:
    """A database of its own, owned by a role that logs in with `password`."""

    url: str
    env: dict[str, str]
    password: str


@contextmanager
def warehouse() -> Iterator[Warehouse]:
    password = f"pw-{uuid.uuid4().hex}"
    role = f"floe_wh_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(POSTGRES_URL, connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", (password,))
    try:
        with new_postgres_database() as url:
            with admin.cursor() as cur:
                cur.execute(f'ALTER DATABASE "{url.rsplit("/", 1)[1]}" OWNER TO {role}')
            env = {
                "WAREHOUSE_HOST": "127.0.0.1",
                "WAREHOUSE_PORT": str(
                    psycopg2.extensions.parse_dsn(POSTGRES_URL).get("port", 5432)
                ),
                "WAREHOUSE_USER": role,
                "WAREHOUSE_DB": url.rsplit("/", 1)[1],
                "WAREHOUSE_PASSWORD": password,
            }
            yield Warehouse(url, env, password)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()


def documented_command() -> str:
    (block,) = re.findall(r"<!-- postgres-demo -->\s*```bash\n(.*?)```", DOCS.read_text(), re.S)
    return "\n".join(line for line in block.splitlines() if not line.startswith("export "))


def run_cli(args: list[str], home: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        args,
        cwd=REPO,
        env=cli_env(DAGSTER_HOME=str(home), **env),
        capture_output=True,
        text=True,
        timeout=1500,
    )


def instance_home(root: Path, extra: dict | None = None) -> Path:
    home = root / "dagster_home"
    home.mkdir()
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    (home / "dagster.yaml").write_text(yaml.safe_dump({**config, **(extra or {})}))
    return home


@pytest.fixture(scope="module", autouse=True)
def prepared() -> None:
    """The product's dbt manifest (parsed with dbt-postgres), built if setup has not built it."""
    if not (PRODUCT / "target" / "manifest.json").exists():
        subprocess.run([VENV_BIN / "floe-dagster", "prepare", str(PRODUCT)], check=True)


@pytest.fixture(scope="module")
def documented_run(tmp_path_factory) -> Iterator[tuple[Warehouse, Path, str]]:
    """The documented command, its exports replaced by the test's database and role."""
    home = instance_home(tmp_path_factory.mktemp("pg_demo"))
    with warehouse() as wh:
        done = run_cli(["bash", "-c", documented_command()], home, wh.env)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        yield wh, home, done.stdout + done.stderr


@pytest.fixture(scope="module")
def pooled_run(tmp_path_factory) -> Iterator[tuple[Warehouse, Path, list, list]]:
    """Both ingestion sources in pool `shop_source` (limit 1), lineage and spans observed."""
    root = tmp_path_factory.mktemp("pg_pool")
    product = root / "customer_360_postgres"
    shutil.copytree(PRODUCT, product, ignore=shutil.ignore_patterns("logs", "__pycache__"))
    home = instance_home(root, {"concurrency": {"pools": {"default_limit": 1}}})
    with (
        warehouse() as wh,
        lineage_receiver() as (lineage_url, events),
        otlp_receiver() as (otlp_url, spans),
    ):
        path = product / "compiled_artifacts.json"
        data = json.loads(path.read_text())
        observe(data, lineage_url=lineage_url, otlp_url=otlp_url)
        for source in floe_dagster_settings(data)["ingestion"]:
            source["pool"] = POOL
        path.write_text(json.dumps(data, indent=1))
        select = 'group:ingestion or key:"sales/customer_360/stg_customers"'
        done = run_cli(
            ["dagster", "asset", "materialize", "--select", select, "--partition-range",
             ALL_DAYS, "-f", str(product / "definitions.py")],
            home, wh.env,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        time.sleep(0.5)  # the receivers may still be decoding the last export
        yield wh, home, list(events), list(spans)


def the_run(home: Path):
    with DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        return run, list(instance.all_logs(run.run_id))


def step_intervals(records) -> dict[str, tuple[float, float]]:
    starts = {
        r.step_key: r.timestamp
        for r in records
        if r.dagster_event and r.dagster_event.event_type == DagsterEventType.STEP_START
    }
    return {
        r.step_key: (starts[r.step_key], r.timestamp)
        for r in records
        if r.dagster_event and r.dagster_event.event_type == DagsterEventType.STEP_SUCCESS
    }


def overlapping(intervals: dict[str, tuple[float, float]]) -> set[frozenset[str]]:
    return {
        frozenset((a, b))
        for a, (a_start, a_end) in intervals.items()
        for b, (b_start, b_end) in intervals.items()
        if a < b and a_start < b_end and b_start < a_end
    }


def row_counts(url: str) -> dict[str, int]:
    with psycopg2.connect(url) as db, db.cursor() as cur:
        cur.execute(
            "select table_schema, table_name from information_schema.tables where table_schema"
            " in ('main', 'raw') and table_name not like '\\_dlt%%' escape '\\'"
        )
        tables = cur.fetchall()
        counts = {}
        for schema, table in tables:
            cur.execute(f'select count(*) from "{schema}"."{table}"')
            counts[f"{schema}.{table}"] = cur.fetchone()[0]
    return counts


def test_the_documented_command_materializes_every_asset_and_passes_every_check(documented_run):
    wh, home, _ = documented_run
    graph = load_product_definitions("customer_360", PRODUCT).get_repository_def().asset_graph
    run, records = the_run(home)
    assert run.status == DagsterRunStatus.SUCCESS
    materialized = {
        r.dagster_event.asset_key
        for r in records
        if r.dagster_event and r.dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION
    }
    assert materialized == set(graph.get_all_asset_keys())
    evaluations = [
        r.dagster_event.event_specific_data
        for r in records
        if r.dagster_event and r.dagster_event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    assert {(e.asset_key, e.check_name) for e in evaluations} == {
        (c.asset_key, c.name) for c in graph.asset_check_keys
    }
    assert all(e.passed for e in evaluations)

    counts = row_counts(wh.url)
    assert len(counts) == 12, counts
    assert all(n > 0 for n in counts.values()), counts
    assert counts["raw.orders"] == counts["main.fct_orders"] == 4000


def test_the_warehouse_role_from_the_environment_owns_the_tables(documented_run):
    wh, _, _ = documented_run
    with psycopg2.connect(wh.url) as db, db.cursor() as cur:
        cur.execute("select distinct tableowner from pg_tables where schemaname in ('main', 'raw')")
        assert cur.fetchall() == [(wh.env["WAREHOUSE_USER"],)]


def test_local_runs_on_postgres_run_a_process_per_step_up_to_max_concurrent_steps():
    job = load_product_definitions("customer_360", PRODUCT).get_repository_def().get_job(JOB)
    assert job.executor_def.name == "multiprocess"
    assert job.executor_def.config_schema.resolve_config({}).value["config"]["max_concurrent"] == 2


def test_steps_of_one_run_overlap_on_postgres(documented_run):
    _, home, _ = documented_run
    # which two steps meet depends on process start-up on the loaded machine; that two do
    # is what parallel steps mean
    assert overlapping(step_intervals(the_run(home)[1]))


def test_a_pool_limit_of_one_runs_the_pools_steps_one_at_a_time(pooled_run):
    _, home, _, _ = pooled_run
    run, records = the_run(home)
    assert run.status == DagsterRunStatus.SUCCESS
    intervals = step_intervals(records)
    assert {"ingest_shop_customers", "ingest_shop_orders"} <= set(intervals)
    pooled = {k: v for k, v in intervals.items() if k.startswith("ingest_")}
    assert overlapping(pooled) == set(), pooled
    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.event_log_storage.get_concurrency_info(POOL).slot_count == 1


def test_no_file_of_the_instance_and_no_cli_output_holds_the_password(documented_run):
    wh, home, output = documented_run
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in files)  # the event log and runs are in there
    assert [p for p in files if wh.password.encode() in p.read_bytes()] == []
    assert wh.password not in output


def test_no_run_tag_run_config_or_event_holds_the_password(documented_run):
    wh, home, _ = documented_run
    run, records = the_run(home)
    assert wh.password not in serialize_value(run)
    assert len(records) > 50
    assert [r for r in records if wh.password in serialize_value(r)] == []


def test_step_spans_come_from_step_processes_and_are_children_of_the_run_span(pooled_run):
    _, _, _, spans = pooled_run
    (root,) = [s for s in spans if s.parent_span_id is None]
    steps = [s for s in spans if s.parent_span_id == root.span_id]
    assert {s.attributes["dagster.step_key"] for s in steps} >= {
        "ingest_shop_customers",
        "ingest_shop_orders",
    }
    assert all(s.resource["process.pid"] != root.resource["process.pid"] for s in steps)


def test_no_lineage_event_or_span_holds_the_password(pooled_run):
    wh, _, events, spans = pooled_run
    assert events and spans
    assert [e for e in events if wh.password in str(e)] == []
    assert [s for s in spans if wh.password in repr(s)] == []
