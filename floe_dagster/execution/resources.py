"""Resources every product gets: the dbt CLI and the warehouse both dbt and dlt write to."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import dlt
from dagster import ConfigurableResource, Failure
from dagster_dbt import DbtCliResource
from pydantic import Field

from floe_dagster.loading.plan import ProductPlan
from floe_dagster.loading.profiles import (
    DUCKDB_PATH_ENV,
    SERVER_ADAPTERS,
    SERVER_FIELDS,
    duckdb_file,
    resolve_env_refs,
    target_output,
)
from floe_dagster.names import digest


class Warehouse(ConfigurableResource):
    """Where the product's tables live: a DuckDB file, or a server the dbt output names.

    `server` holds the dbt output's connection fields as written (`env_var()` references),
    resolved only inside a step: no credential reaches run config, tags or events.
    """

    adapter: str = "duckdb"
    duckdb_path: str = ""
    server: dict[str, str] = Field(default_factory=dict)

    def export_for_dbt(self) -> None:
        """dbt runs as a subprocess and reads its profile's path from the environment."""
        if self.adapter == "duckdb":
            Path(self.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
            os.environ[DUCKDB_PATH_ENV] = self.duckdb_path

    def dlt_destination(self, window_key: str | None = None) -> Any:
        """dlt's destination for the same warehouse dbt writes to.

        On a server, loads of different windows run at once: each window merges through a
        staging dataset of its own (`<dataset>_staging_<digest>`), so one load never
        truncates or merges another's staged rows.
        """
        if self.adapter == "duckdb":
            Path(self.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
            return dlt.destinations.duckdb(credentials=self.duckdb_path)
        try:
            fields = {
                k: resolve_env_refs(v, f"dbt output field {k!r}") for k, v in self.server.items()
            }
        except KeyError as exc:
            raise Failure(str(exc.args[0])) from None
        layout = f"%s_staging_{digest(window_key)[:8]}" if window_key else "%s_staging"
        return dlt.destinations.postgres(
            staging_dataset_name_layout=layout,
            credentials={
                "host": fields["host"],
                "port": int(fields.get("port") or 5432),
                "username": fields["user"],
                "password": fields.get("password", ""),
                "database": fields["dbname"],
            },
        )


def duckdb_path(plan: ProductPlan) -> str:
    """FLOE_DUCKDB_PATH if set (relative to the project dir), else plugins.compute.config.path."""
    return str(duckdb_file(plan.files.artifacts, plan.project_dir))


def warehouse_output(plan: ProductPlan) -> dict[str, Any]:
    """The dbt output the product's runs write with (the artifacts' target, else the profile's)."""
    files = plan.files
    return target_output(
        files.profiles, str(files.dbt_project.get("profile")), files.artifacts.dagster.dbt_target
    )


def build_warehouse(plan: ProductPlan) -> Warehouse:
    adapter = plan.files.artifacts.plugins.compute.type
    if adapter not in SERVER_ADAPTERS:
        return Warehouse(adapter=adapter, duckdb_path=duckdb_path(plan))
    output = warehouse_output(plan)
    return Warehouse(
        adapter=adapter, server={k: str(output[k]) for k in SERVER_FIELDS if k in output}
    )


def dbt_executable() -> str:
    """dbt beside this interpreter, so a venv works without being activated (as in a pod)."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


def build_resources(plan: ProductPlan) -> dict[str, object]:
    return {
        "dbt": DbtCliResource(
            project_dir=str(plan.project_dir),
            dbt_executable=dbt_executable(),
            profiles_dir=str(plan.files.profiles_dir),
            target=plan.files.artifacts.dagster.dbt_target,
        ),
        "warehouse": build_warehouse(plan),
    }
