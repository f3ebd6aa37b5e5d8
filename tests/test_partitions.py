"""Daily partitions of customer_360 through the real dagster CLI: one day, a range, re-runs."""

import subprocess
from datetime import date

import duckdb
import pytest
from dagster import DagsterInstance

from tests.conftest import cli_env

pytestmark = pytest.mark.slow

DAILY = "tag:floe/partition_scheme=daily"


def materialize(product_dir, home, warehouse, *partition_args):
    done = subprocess.run(
        [
            "dagster",
            "asset",
            "materialize",
            "--select",
            DAILY,
            *partition_args,
            "-f",
            str(product_dir / "definitions.py"),
        ],
        env=cli_env(DAGSTER_HOME=str(home), FLOE_DUCKDB_PATH=str(warehouse)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def rows_by_day(warehouse, table="fct_orders", day="order_date"):
    with duckdb.connect(str(warehouse), read_only=True) as db:
        query = f"select cast({day} as date), count(*) from {table} group by 1 order by 1"
        return dict(db.execute(query).fetchall())


def test_one_partition_materializes_exactly_that_day(product_dir, dagster_home, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    materialize(product_dir, dagster_home, warehouse, "--partition", "2026-01-05")
    assert list(rows_by_day(warehouse)) == [date(2026, 1, 5)]
    assert list(rows_by_day(warehouse, "raw.orders", day="ordered_at")) == [date(2026, 1, 5)]


def test_a_second_day_leaves_the_first_untouched(product_dir, dagster_home, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    materialize(product_dir, dagster_home, warehouse, "--partition", "2026-01-05")
    first = rows_by_day(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as db:
        before = db.execute("select * from fct_orders order by order_id").fetchall()
    materialize(product_dir, dagster_home, warehouse, "--partition", "2026-01-06")
    after = rows_by_day(warehouse)
    assert set(after) == {date(2026, 1, 5), date(2026, 1, 6)}
    assert after[date(2026, 1, 5)] == first[date(2026, 1, 5)]
    with duckdb.connect(str(warehouse), read_only=True) as db:
        still = db.execute(
            "select * from fct_orders where order_date = '2026-01-05' order by order_id"
        ).fetchall()
    assert still == before


def test_rematerializing_a_partition_leaves_no_duplicate_rows(product_dir, dagster_home, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    materialize(product_dir, dagster_home, warehouse, "--partition", "2026-01-05")
    once = rows_by_day(warehouse)
    materialize(product_dir, dagster_home, warehouse, "--partition", "2026-01-05")
    assert rows_by_day(warehouse) == once
    with duckdb.connect(str(warehouse), read_only=True) as db:
        for table in ("raw.orders", "raw.payments", "fct_orders", "fct_daily_revenue"):
            key = {
                "raw.orders": "order_id",
                "raw.payments": "payment_id",
                "fct_orders": "order_id",
                "fct_daily_revenue": "order_date",
            }[table]
            total, distinct = db.execute(
                f"select count(*), count(distinct {key}) from {table}"
            ).fetchone()
            assert total == distinct, table


def test_a_coalesced_range_is_one_run_with_one_dbt_invocation(product_dir, dagster_home, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    done = materialize(
        product_dir, dagster_home, warehouse, "--partition-range", "2026-01-01...2026-01-31"
    )
    invocations = [line for line in done.stderr.splitlines() if "Running dbt command" in line]
    assert len(invocations) == 1
    assert '"min_date": "2026-01-01 00:00:00", "max_date": "2026-02-01 00:00:00"' in invocations[0]
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert len(instance.get_runs()) == 1
    days = rows_by_day(warehouse, "fct_daily_revenue")
    assert len(days) == 31 and min(days) == date(2026, 1, 1) and max(days) == date(2026, 1, 31)
