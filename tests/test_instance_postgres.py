"""dagster.postgres.yaml: the same product runs with its instance on a real PostgreSQL."""

import shutil
import subprocess
from urllib.parse import urlparse

import pytest
from dagster import AssetKey, DagsterInstance

from tests.conftest import REPO, cli_env

pytestmark = pytest.mark.postgres


def test_materialization_is_recorded_in_postgres_instance_storage(
    tmp_path, postgres_database, product_dir, monkeypatch
):
    home = tmp_path / "pg_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.postgres.yaml", home / "dagster.yaml")
    url = urlparse(postgres_database)
    env = cli_env(
        DAGSTER_HOME=str(home),
        DAGSTER_PG_HOST=url.hostname,
        DAGSTER_PG_PORT=str(url.port or 5432),
        DAGSTER_PG_USER=url.username or "postgres",
        DAGSTER_PG_PASSWORD=url.password or "",
        DAGSTER_PG_DB=url.path.lstrip("/"),
        FLOE_DUCKDB_PATH=str(tmp_path / "wh.duckdb"),
    )
    done = subprocess.run(
        [
            "dagster",
            "asset",
            "materialize",
            "--select",
            "sales/customer_360/shop/customers",
            "-f",
            str(product_dir / "definitions.py"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    for name, value in env.items():
        if name.startswith("DAGSTER_PG_"):
            monkeypatch.setenv(name, value)
    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        event = instance.get_latest_materialization_event(
            AssetKey(["sales", "customer_360", "shop", "customers"])
        )
    assert event is not None
    assert event.asset_materialization.metadata["dagster/row_count"].value == 1000
