"""Asset keys, shared by dbt sources and the ingestion that feeds them so the two meet."""

from __future__ import annotations

from dagster import AssetKey


def model_key(prefix: list[str], model_name: str) -> AssetKey:
    return AssetKey([*prefix, model_name])


def table_key(prefix: list[str], dbt_source: str, table: str) -> AssetKey:
    """Key of a raw table: the dlt asset that loads it and the dbt source that reads it."""
    return AssetKey([*prefix, dbt_source, table])
