"""Two runs of other days of the same incremental models, at once, on a PostgreSQL warehouse.

One day is materialized first (so the tables exist), then two other days by two
`dagster asset materialize` processes started together, sharing one PostgreSQL instance as
runs from a deployment's queue do. Each day must end with exactly its own rows.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator

import psycopg2
import pytest
from dagster import DagsterInstance

from tests.conftest import REPO, cli_env, new_postgres_database
from tests.test_postgres_warehouse import PRODUCT, Warehouse, prepared, run_cli, warehouse

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
__all__ = ["prepared"]  # the module fixture that builds the product's manifest

DAILY_CHAIN = " or ".join(
    f'key:"sales/customer_360/{name}"'
    for name in ("shop/orders", "shop/payments", "stg_orders", "stg_payments",
                 "int_order_payments", "fct_orders", "fct_daily_revenue")
)  # fmt: skip
PRIMED, DAYS = "2026-01-04", ("2026-01-05", "2026-01-06")


def orders_per_day() -> dict[str, int]:
    """What the demo's shop source generates, per order day (it is deterministic)."""
    spec = importlib.util.spec_from_file_location(
        "shop", REPO / "products/customer_360/ingestion/shop.py"
    )
    assert spec and spec.loader
    shop = importlib.util.module_from_spec(spec)
    sys.modules["shop"] = shop  # dlt's decorators look their module up
    spec.loader.exec_module(shop)
    orders = shop._orders_and_payments()[0]
    return dict(Counter(o["ordered_at"].date().isoformat() for o in orders))


def materialize(day: str) -> list[str]:
    return ["dagster", "asset", "materialize", "--select", DAILY_CHAIN, "--partition", day,
            "-f", str(PRODUCT / "definitions.py")]  # fmt: skip


@pytest.fixture(scope="module")
def concurrent_days(tmp_path_factory) -> Iterator[tuple[Warehouse, list]]:
    home = tmp_path_factory.mktemp("pg_days") / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.postgres.yaml", home / "dagster.yaml")
    with warehouse() as wh, new_postgres_database() as instance_url:
        dsn = psycopg2.extensions.parse_dsn(instance_url)
        env = {
            **wh.env,
            "DAGSTER_PG_HOST": dsn.get("host", "127.0.0.1"),
            "DAGSTER_PG_PORT": str(dsn.get("port", 5432)),
            "DAGSTER_PG_USER": dsn.get("user", "postgres"),
            "DAGSTER_PG_PASSWORD": "unused-trust-auth",
            "DAGSTER_PG_DB": dsn["dbname"],
        }
        done = run_cli(materialize(PRIMED), home, env)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        running = [
            subprocess.Popen(
                materialize(day),
                cwd=REPO,
                env=cli_env(DAGSTER_HOME=str(home), **env),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for day in DAYS
        ]
        outputs = [p.communicate(timeout=1500)[0] for p in running]
        assert [p.returncode for p in running] == [0, 0], [o[-3000:] for o in outputs]
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)  # the instance's config reads DAGSTER_PG_*
            instance = DagsterInstance.from_config(str(home))
            stats = [instance.get_run_stats(r.run_id) for r in instance.get_runs()[:2]]
            instance.dispose()
        yield wh, [(s.start_time, s.end_time) for s in stats]


def test_two_concurrent_runs_of_other_days_leave_exactly_each_days_rows(concurrent_days):
    wh, spans = concurrent_days
    (a_start, a_end), (b_start, b_end) = spans
    assert a_start < b_end and b_start < a_end, spans  # the two runs did overlap
    expected = {day: n for day, n in orders_per_day().items() if day in (PRIMED, *DAYS)}
    assert len(expected) == 3
    with psycopg2.connect(wh.url) as db, db.cursor() as cur:
        cur.execute("select cast(order_date as text), count(*) from main.fct_orders group by 1")
        assert dict(cur.fetchall()) == expected
        cur.execute("select cast(order_date as text), order_count from main.fct_daily_revenue")
        assert dict(cur.fetchall()) == expected
        cur.execute(
            "select cast(cast(ordered_at as date) as text), count(*) from raw.orders group by 1"
        )
        assert dict(cur.fetchall()) == expected
