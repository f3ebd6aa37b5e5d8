"""Each table a step materializes, written into the product's Iceberg catalog after the step.

The rows come from the DuckDB warehouse (duckdb -> arrow) and go in through pyiceberg:
a partitioned model's window replaces exactly its rows (an overwrite by filter on the
column the model's `floe_dagster.partition_window(...)` names), anything else is a full
overwrite. Each write is one Iceberg commit, tagged with the step attempt's write id, so a
retry whose first attempt already committed writes nothing again. The schema follows the
model (`union_by_name`); floe's `snapshot_keep_last` expires older snapshots after a write.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
from dagster import AssetExecutionContext, AssetKey, Output
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.table import Table
from pyiceberg.types import DateType, TimestamptzType
from requests import RequestException
from sqlalchemy.exc import OperationalError

from floe_dagster.loading.iceberg_outputs import IcebergOutputs, WarehouseTable, exported_dbt_tables
from floe_dagster.loading.plan import ProductPlan
from floe_dagster.names import (
    ICEBERG_SNAPSHOT_KEY,
    ICEBERG_TABLE_KEY,
    ICEBERG_WRITE_ID_PROPERTY,
    digest,
    partition_window,
)

_WINDOW_FORMAT = "%Y-%m-%d %H:%M:%S"
_T = TypeVar("_T")


class IcebergOutputError(Exception):
    """The catalog or object store could not be reached; names the endpoint."""


def export_dbt_events(
    context: AssetExecutionContext, plan: ProductPlan, events: Iterable[Any], duckdb_path: str
) -> Iterator[Any]:
    """dbt's events, each materialized table's output carrying its Iceberg snapshot id.

    dbt holds the DuckDB file's write lock until it exits, so the outputs wait for the end
    of the invocation; those dbt produced before a failure are still exported and yielded.
    """
    if plan.iceberg is None:
        yield from events
        return
    buffered: list[Any] = []
    failure: Exception | None = None
    try:
        buffered.extend(events)
    except Exception as error:
        failure = error
    tables = exported_dbt_tables(plan.manifest, plan.files.artifacts.asset_key_prefix)
    writer = IcebergWriter(plan.iceberg, context, duckdb_path)
    for event in buffered:
        if isinstance(event, Output):
            key = context.asset_key_for_output(event.output_name)
            if key in tables:
                event = event.with_metadata({**event.metadata, **writer.write(key, tables[key])})
        yield event
    if failure is not None:
        raise failure


def ingested_table_metadata(
    context: AssetExecutionContext, plan: ProductPlan, key: AssetKey, schema: str, table: str
) -> dict[str, Any]:
    """Write one dlt-loaded table to Iceberg (full overwrite: dlt merges every load into it)."""
    if plan.iceberg is None:
        return {}
    duckdb_path = context.resources.warehouse.duckdb_path
    return IcebergWriter(plan.iceberg, context, duckdb_path).write(
        key, WarehouseTable(schema, table)
    )


class IcebergWriter:
    """Writes warehouse tables of one step attempt into the catalog."""

    def __init__(
        self, outputs: IcebergOutputs, context: AssetExecutionContext, duckdb_path: str
    ) -> None:
        self._outputs = outputs
        self._context = context
        self._duckdb_path = duckdb_path
        self._catalog: Catalog | None = None
        self._uri = outputs.catalog_uri()

    def write(self, key: AssetKey, table: WarehouseTable) -> dict[str, Any]:
        """Overwrite the table's rows (or its window's); the materialization's metadata."""
        window = partition_window(self._context) if table.window_column else None
        column, rows = self._read(table, window)
        identifier = (table.schema, table.name)
        write_id = digest(
            f"{self._context.op_execution_context.run_id}|{key.to_user_string()}|{window}"
        )
        iceberg = self._table(identifier, rows.schema)
        current = iceberg.current_snapshot()
        summary = current.summary if current is not None else None
        properties = {ICEBERG_WRITE_ID_PROPERTY: write_id}
        if current is None:
            self._call(lambda: iceberg.append(rows, snapshot_properties=properties))
        elif summary is None or summary.get(ICEBERG_WRITE_ID_PROPERTY) != write_id:
            row_filter: str | BooleanExpression = (
                _window_filter(iceberg, column, window) if window and column else AlwaysTrue()
            )
            self._call(
                lambda: iceberg.overwrite(
                    rows,
                    overwrite_filter=row_filter,
                    snapshot_properties=properties,
                )
            )
            self._expire(iceberg)
        snapshot = iceberg.current_snapshot()
        return {
            ICEBERG_TABLE_KEY: f"{self._outputs.catalog_name}.{table.schema}.{table.name}",
            ICEBERG_SNAPSHOT_KEY: str(snapshot.snapshot_id) if snapshot else "",
        }

    def _read(
        self, table: WarehouseTable, window: tuple[datetime, datetime] | None
    ) -> tuple[str | None, pa.Table]:
        """The window column if the table has it, and the rows: the window's, or all of them.

        A model may filter its window on an input column it does not output (an aggregate
        by day): its table, which holds every partition built so far, is written whole.
        """
        query = f'select * from "{table.schema}"."{table.name}"'
        with duckdb.connect(self._duckdb_path, read_only=True) as connection:
            names = {c[0] for c in connection.execute(query + " limit 0").description or ()}
            column = table.window_column if window and table.window_column in names else None
            params: list[str] = []
            if window and column:
                query += f' where "{column}" >= cast(? as timestamp)'
                query += f' and "{column}" < cast(? as timestamp)'
                params = [bound.strftime(_WINDOW_FORMAT) for bound in window]
            return column, connection.execute(query, params).to_arrow_table()

    def _table(self, identifier: tuple[str, str], schema: pa.Schema) -> Table:
        """The catalog's table, created or its schema widened to the model's."""
        catalog = self._call(self._load_catalog)
        self._call(lambda: catalog.create_namespace_if_not_exists(identifier[0]))
        try:
            table = self._call(lambda: catalog.load_table(identifier))
        except NoSuchTableError:
            return self._call(lambda: catalog.create_table(identifier, schema=schema))

        def widen() -> None:
            with table.update_schema() as update:
                update.union_by_name(schema)

        self._call(widen)
        return table

    def _load_catalog(self) -> Catalog:
        if self._catalog is None:
            props = self._outputs.catalog_properties()
            self._catalog = load_catalog(self._outputs.catalog_name, **props)
        return self._catalog

    def _expire(self, table: Table) -> None:
        """floe's `snapshot_keep_last`: the newest N snapshots stay, older ones expire."""
        keep = self._outputs.governance.snapshot_keep_last
        snapshots = sorted(table.snapshots(), key=lambda s: s.timestamp_ms)
        if keep is None or len(snapshots) <= keep:
            return
        old = [s.snapshot_id for s in snapshots[:-keep]]
        self._call(lambda: table.maintenance.expire_snapshots().by_ids(old).commit())

    def _call(self, call: Callable[[], _T]) -> _T:
        """Run `call`; a connection failure becomes an error naming the endpoint that failed.

        The catalog's clients (SQLAlchemy, requests) are told apart from pyarrow's object
        store errors, which are plain OSErrors (requests' errors are OSErrors too).
        """
        try:
            return call()
        except (OperationalError, RequestException) as error:
            raise IcebergOutputError(
                f"Iceberg catalog at {_without_credentials(self._uri)} is unreachable: "
                f"{_first_line(error)}; check that it runs and that deployment.catalog names it"
            ) from error
        except OSError as error:
            raise IcebergOutputError(
                f"object store at {self._outputs.s3_endpoint} is unreachable or refused the "
                f"write: {_first_line(error)}; check that it runs and that deployment.storage "
                "names it"
            ) from error


def _without_credentials(uri: str) -> str:
    return re.sub(r"//[^/@]*@", "//", uri)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _window_filter(table: Table, column: str, window: tuple[datetime, datetime]) -> str:
    """`column` inside the window, with bounds typed as the Iceberg column is."""
    field_type = table.schema().find_field(column).field_type
    start, end = window
    if isinstance(field_type, DateType):
        low, high = start.date().isoformat(), end.date().isoformat()
    elif isinstance(field_type, TimestamptzType):
        low, high = start.isoformat(), end.isoformat()
    else:
        low, high = (bound.replace(tzinfo=None).isoformat() for bound in window)
    return f"{column} >= '{low}' and {column} < '{high}'"
