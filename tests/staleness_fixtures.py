"""Real instances (SQLite and PostgreSQL) and in-process materializations of customer_360."""

import shutil
from urllib.parse import urlparse

import pytest
from dagster import AssetKey, DagsterInstance

from floe_dagster import load_product_definitions
from tests.conftest import REPO

PREFIX = ["sales", "customer_360"]


def key(*parts: str) -> AssetKey:
    return AssetKey([*PREFIX, *parts])


@pytest.fixture(params=["sqlite", "postgres"])
def instance(request, tmp_path, monkeypatch):
    """A real Dagster instance on SQLite, then on PostgreSQL (fresh database each)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("FLOE_DUCKDB_PATH", str(tmp_path / "wh.duckdb"))
    if request.param == "sqlite":
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    else:
        url = urlparse(request.getfixturevalue("postgres_database"))
        shutil.copy(REPO / "dagster.postgres.yaml", home / "dagster.yaml")
        for name, value in {
            "DAGSTER_PG_HOST": url.hostname,
            "DAGSTER_PG_PORT": str(url.port or 5432),
            "DAGSTER_PG_USER": url.username or "postgres",
            "DAGSTER_PG_PASSWORD": url.password or "",
            "DAGSTER_PG_DB": url.path.lstrip("/"),
        }.items():
            monkeypatch.setenv(name, value)
    with DagsterInstance.from_config(str(home)) as inst:
        yield inst


def materialize(product_dir, instance, keys, partition, raise_on_error=True):
    """Materialize `keys` for one partition in-process, as a run on `instance`."""
    defs = load_product_definitions("customer_360", product_dir)
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        partition_key=partition,
        asset_selection=list(keys),
        raise_on_error=raise_on_error,
    )
