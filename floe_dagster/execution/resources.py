"""Resources every product gets: the dbt CLI and the warehouse both dbt and dlt write to."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource

from floe_dagster.loading.plan import ProductPlan
from floe_dagster.loading.profiles import DUCKDB_PATH_ENV, duckdb_file


class Warehouse(ConfigurableResource):
    """Where the product's tables live; dbt reads the path from FLOE_DUCKDB_PATH."""

    duckdb_path: str

    def export_for_dbt(self) -> None:
        """dbt runs as a subprocess and reads its profile's path from the environment."""
        Path(self.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
        os.environ[DUCKDB_PATH_ENV] = self.duckdb_path


def duckdb_path(plan: ProductPlan) -> str:
    """FLOE_DUCKDB_PATH if set (relative to the project dir), else plugins.compute.config.path."""
    return str(duckdb_file(plan.files.artifacts, plan.project_dir))


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
        "warehouse": Warehouse(duckdb_path=duckdb_path(plan)),
    }
