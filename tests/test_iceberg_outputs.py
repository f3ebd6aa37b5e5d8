"""With a catalog and storage in its artifacts, every table the demo materializes lands in Iceberg.

Real parts: the dagster CLI, dbt and dlt into DuckDB, pyiceberg's SQL catalog on the local
PostgreSQL, moto's S3 server on loopback. One full materialization is shared by the module.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    build_asset_context,
)

from floe_dagster import load_product_definitions
from floe_dagster.assets.iceberg import IcebergWriter
from floe_dagster.contract.artifacts import CompiledArtifacts
from floe_dagster.loading.iceberg_outputs import WarehouseTable, iceberg_outputs
from floe_dagster.names import ICEBERG_SNAPSHOT_KEY, ICEBERG_TABLE_KEY
from tests.conftest import DEMO, REPO, VENV_BIN, cli_env, free_port, new_postgres_database
from tests.iceberg_services import (
    CATALOG_URI_ENV,
    CREDENTIALS,
    iceberg_deployment,
    object_store,
    open_catalog,
    sql_catalog_uri,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PREFIX = ["sales", "customer_360"]
RANGE = "2026-01-01...2026-01-10"
DAY, NEXT_DAY = "2026-01-05", "2026-01-06"


@dataclass
class Product:
    """A copy of the demo writing to Iceberg, its Dagster home and its warehouse file."""

    dir: Path
    home: Path
    warehouse: Path
    catalog_uri: str
    s3_endpoint: str

    def materialize(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [VENV_BIN / "dagster", "asset", "materialize", *args,
             "-f", self.dir / "definitions.py"],
            cwd=REPO,
            env=cli_env(
                DAGSTER_HOME=str(self.home),
                FLOE_DUCKDB_PATH=str(self.warehouse),
                **{CATALOG_URI_ENV: self.catalog_uri},
                **CREDENTIALS,
            ),
            capture_output=True, text=True, timeout=1200,
        )  # fmt: skip


def demo_copy(root: Path, catalog_uri: str, s3_endpoint: str) -> Product:
    """customer_360 with `deployment` bindings naming the catalog and the object store."""
    target = root / "customer_360"
    shutil.copytree(
        DEMO, target, ignore=shutil.ignore_patterns("target", "warehouse", "logs", "__pycache__")
    )
    (target / "target").mkdir()
    shutil.copy(DEMO / "target" / "manifest.json", target / "target" / "manifest.json")
    path = target / "compiled_artifacts.json"
    data = json.loads(path.read_text())
    data["deployment"] = iceberg_deployment(s3_endpoint)
    path.write_text(json.dumps(data, indent=1))
    home = root / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    return Product(target, home, root / "wh.duckdb", catalog_uri, s3_endpoint)


@pytest.fixture(scope="module")
def services() -> Iterator[tuple[str, str]]:
    """(catalog URI, S3 endpoint): a fresh PostgreSQL database and a running S3 server."""
    with new_postgres_database() as url, object_store() as store:
        yield sql_catalog_uri(url), store


@pytest.fixture(scope="module")
def materialized(services, tmp_path_factory, demo_manifest) -> Product:
    """The demo materialized once, every asset, over ten days."""
    product = demo_copy(tmp_path_factory.mktemp("iceberg"), *services)
    done = product.materialize("--select", "*", "--partition-range", RANGE)
    (product.home / "materialize.log").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return product


def warehouse_counts(warehouse: Path) -> dict[tuple[str, str], int]:
    with duckdb.connect(str(warehouse), read_only=True) as db:
        tables = db.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_name not like '\\_dlt%' escape '\\' "
            "and table_schema not like '%\\_staging' escape '\\'"  # dlt's merge staging
        ).fetchall()
        return {
            (s, t): db.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in tables
        }


def test_every_table_reads_back_from_iceberg_with_the_warehouse_row_counts(materialized):
    catalog = open_catalog(materialized.catalog_uri, materialized.s3_endpoint)
    counts = warehouse_counts(materialized.warehouse)
    assert len(counts) >= 8, counts  # three dlt tables and every dbt table, no views
    read_back = {
        (schema, name): len(catalog.load_table((schema, name)).scan().to_arrow())
        for schema, name in counts
    }
    assert read_back == counts
    assert all(n > 0 for n in counts.values()), counts


def test_every_asset_materializes_with_its_iceberg_snapshot_id(materialized):
    graph = (
        load_product_definitions("customer_360", materialized.dir).get_repository_def().asset_graph
    )
    catalog = open_catalog(materialized.catalog_uri, materialized.s3_endpoint)
    with DagsterInstance.from_config(str(materialized.home)) as instance:
        (run,) = instance.get_runs()
        assert run.status == DagsterRunStatus.SUCCESS
        events = {
            key: instance.get_latest_materialization_event(key)
            for key in graph.get_all_asset_keys()
        }
    assert all(events.values()), [k for k, e in events.items() if e is None]
    recorded = {
        key: event.asset_materialization.metadata
        for key, event in events.items()
        if ICEBERG_TABLE_KEY in event.asset_materialization.metadata
    }
    assert AssetKey([*PREFIX, "fct_orders"]) in recorded
    assert AssetKey([*PREFIX, "shop", "orders"]) in recorded
    for metadata in recorded.values():
        _, schema, name = metadata[ICEBERG_TABLE_KEY].value.split(".")
        snapshot_ids = {s.snapshot_id for s in catalog.load_table((schema, name)).snapshots()}
        assert int(metadata[ICEBERG_SNAPSHOT_KEY].value) in snapshot_ids


def test_rerunning_a_partition_replaces_exactly_that_days_rows_in_one_overwrite(materialized):
    catalog = open_catalog(materialized.catalog_uri, materialized.s3_endpoint)
    table = catalog.load_table(("main", "fct_orders"))
    before = table.scan().to_arrow()
    day = f"ordered_at >= '{DAY}T00:00:00' and ordered_at < '{NEXT_DAY}T00:00:00'"
    day_rows = table.scan(row_filter=day).to_arrow()
    snapshots_before = {s.snapshot_id for s in table.snapshots()}

    done = materialized.materialize("--select", "sales/customer_360/fct_orders", "--partition", DAY)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    table = catalog.load_table(("main", "fct_orders"))
    new = [s for s in table.snapshots() if s.snapshot_id not in snapshots_before]
    assert [s.summary.operation.value for s in new].count("overwrite") == 1
    after = table.scan().to_arrow()
    assert after.num_rows == before.num_rows
    assert sorted(table.scan(row_filter=day).to_arrow()["order_id"].to_pylist()) == sorted(
        day_rows["order_id"].to_pylist()
    )


def test_a_catalog_that_is_down_fails_the_step_naming_its_endpoint(
    services, tmp_path, demo_manifest
):
    port = free_port()
    down = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/nowhere"
    product = demo_copy(tmp_path, down, services[1])
    done = product.materialize("--select", "sales/customer_360/shop/customers")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert (
        f"Iceberg catalog at postgresql+psycopg2://127.0.0.1:{port}/nowhere is unreachable"
        in output
    )


def test_an_object_store_that_is_down_fails_the_step_naming_its_endpoint(
    services, tmp_path, demo_manifest
):
    endpoint = f"http://127.0.0.1:{free_port()}"
    product = demo_copy(tmp_path, services[0], endpoint)
    done = product.materialize("--select", "sales/customer_360/shop/customers")
    assert done.returncode != 0
    assert f"object store at {endpoint}" in done.stdout + done.stderr


def test_a_retried_step_attempt_that_already_committed_writes_nothing_again(
    services, tmp_path, monkeypatch
):
    catalog_uri, endpoint = services
    monkeypatch.setenv(CATALOG_URI_ENV, catalog_uri)
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    data = json.loads((DEMO / "compiled_artifacts.json").read_text())
    data["deployment"] = iceberg_deployment(endpoint)
    outputs = iceberg_outputs(CompiledArtifacts.model_validate(data), "compiled_artifacts.json")
    assert outputs is not None
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as db:
        db.execute("create schema sales; create table sales.t as select range as id from range(5)")
    context = build_asset_context()
    key, table = AssetKey(["sales", "t"]), WarehouseTable("sales", "t")

    first = IcebergWriter(outputs, context, str(warehouse)).write(key, table)
    again = IcebergWriter(outputs, context, str(warehouse)).write(key, table)  # the retry

    written = open_catalog(catalog_uri, endpoint).load_table(("sales", "t"))
    assert again == first
    assert len(written.snapshots()) == 1
    assert len(written.scan().to_arrow()) == 5
