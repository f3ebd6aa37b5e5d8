"""What each asset reads and writes, as OpenLineage datasets, from the dbt manifest and dlt.

dbt models read their sources and refs and write their own relation; a dlt ingestion asset
writes the table its dbt source names (dlt lands it in that source's schema), so the dlt
output and the dbt input are the same dataset and lineage joins up across steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from dagster import AssetKey

from floe_dagster.execution.resources import duckdb_path, warehouse_output
from floe_dagster.loading.iceberg_outputs import exported_dbt_tables
from floe_dagster.loading.plan import ProductPlan
from floe_dagster.loading.profiles import SERVER_ADAPTERS, resolve_env_refs
from floe_dagster.names import model_key, table_key
from floe_dagster.observability.lineage import Dataset

_RELATIONS = {"model", "seed", "snapshot", "source"}


@dataclass(frozen=True)
class AssetLineage:
    """One asset as an OpenLineage job: its input and output datasets, and its dbt model if any."""

    inputs: tuple[Dataset, ...]
    outputs: tuple[Dataset, ...]
    dbt_unique_id: str | None = None


def product_lineage(plan: ProductPlan) -> dict[AssetKey, AssetLineage]:
    """Every dbt model and every dlt-loaded table of the product, by asset key."""
    namespace = warehouse_namespace(plan)
    manifest = plan.manifest
    nodes = {**manifest["nodes"], **manifest["sources"]}
    prefix = plan.files.artifacts.asset_key_prefix

    def datasets(unique_ids: list[str]) -> tuple[Dataset, ...]:
        names = (_relation(nodes[u]) for u in unique_ids if u in nodes)
        return tuple(Dataset(namespace, name) for name in names if name)

    found = {
        model_key(prefix, node["name"]): AssetLineage(
            inputs=datasets(node["depends_on"]["nodes"]),
            outputs=datasets([uid]),
            dbt_unique_id=uid,
        )
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
    }
    sources = {(n["source_name"], n["name"]): uid for uid, n in manifest["sources"].items()}
    for ingestion in plan.files.artifacts.dagster.ingestion:
        for table in ingestion.tables:
            found[table_key(prefix, ingestion.dbt_source, table)] = AssetLineage(
                inputs=(), outputs=datasets([sources[(ingestion.dbt_source, table)]])
            )
    return _with_iceberg_outputs(plan, found)


def _with_iceberg_outputs(
    plan: ProductPlan, found: dict[AssetKey, AssetLineage]
) -> dict[AssetKey, AssetLineage]:
    """Each table also written to Iceberg has that table as an output too: namespace = the
    catalog, name = `namespace.table` in it. The warehouse dataset stays, so lineage between
    steps (which read the warehouse) still joins up."""
    if plan.iceberg is None:
        return found
    catalog = plan.iceberg.catalog_name
    manifest = plan.manifest
    tables: dict[AssetKey, tuple[str, str]] = {
        key: (t.schema, t.name)
        for key, t in exported_dbt_tables(manifest, plan.files.artifacts.asset_key_prefix).items()
    }
    for ingestion in plan.files.artifacts.dagster.ingestion:
        schema = next(
            n["schema"]
            for n in manifest["sources"].values()
            if n["source_name"] == ingestion.dbt_source
        )
        for table in ingestion.tables:
            tables[
                table_key(plan.files.artifacts.asset_key_prefix, ingestion.dbt_source, table)
            ] = (
                schema,
                table,
            )
    return {
        key: replace(lineage, outputs=(*lineage.outputs, Dataset(catalog, ".".join(tables[key]))))
        if key in tables
        else lineage
        for key, lineage in found.items()
    }


def warehouse_namespace(plan: ProductPlan) -> str:
    """OpenLineage's namespace (as dbt-ol writes it): the DuckDB file, or `postgres://host:port`."""
    if plan.files.artifacts.plugins.compute.type not in SERVER_ADAPTERS:
        return f"duckdb://{duckdb_path(plan)}"
    output, where = warehouse_output(plan), "the lineage namespace"
    try:
        host = resolve_env_refs(str(output.get("host", "")), where)
        port = resolve_env_refs(str(output.get("port", 5432)), where)
    except KeyError:
        return "postgres://unresolved"  # lineage never fails a load or a run
    return f"postgres://{host}:{port}"


def _relation(node: Mapping[str, Any]) -> str | None:
    """`database.schema.table` of a node that is a relation; None for ephemeral models, tests."""
    if node["resource_type"] not in _RELATIONS:
        return None
    if node.get("config", {}).get("materialized") == "ephemeral":
        return None
    table = node.get("identifier") or node.get("alias") or node["name"]
    return ".".join(part for part in (node.get("database"), node["schema"], table) if part)
