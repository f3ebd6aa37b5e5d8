"""`floe-dagster status PROJECT_DIR`: the partition table, for people and (--json) scripts."""

import json
import subprocess

import pytest
from dagster import DagsterInstance

from tests.conftest import VENV_BIN, cli_env
from tests.staleness_fixtures import key, materialize

pytestmark = pytest.mark.slow


def status(product_dir, dagster_home, *flags: str) -> str:
    result = subprocess.run(
        [VENV_BIN / "floe-dagster", "status", str(product_dir), *flags],
        env=cli_env(DAGSTER_HOME=str(dagster_home)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def one_day_materialized(product_dir, dagster_home, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOE_DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        materialize(product_dir, instance, [key("shop", "orders")], "2026-04-09")


def test_status_json_lists_every_partition_of_the_window_with_its_status(
    product_dir, dagster_home, one_day_materialized
):
    rows = json.loads(status(product_dir, dagster_home, "--json"))
    orders = {r["partition"]: r for r in rows if r["asset"] == "sales/customer_360/shop/orders"}
    assert len(orders) == 30  # the artifacts' default window
    assert orders["2026-04-09"]["status"] == "fresh"
    assert orders["2026-04-10"]["status"] == "missing"
    assert orders["2026-04-10"]["reason"] == "window closed, never materialized"


def test_status_prints_a_table_with_reasons_and_a_summary(
    product_dir, dagster_home, one_day_materialized
):
    lines = status(product_dir, dagster_home).splitlines()
    assert lines[0].split() == ["asset", "partition", "status", "reason"]
    assert any(
        line.split()[:3] == ["sales/customer_360/shop/orders", "2026-04-09", "fresh"]
        for line in lines
    )
    assert "1 fresh" in lines[-1] and "missing" in lines[-1]
