"""Checks of the dbt side that would otherwise fail only at run time, or silently: no dbt runs.

- the target the artifacts ask for exists in the profile;
- a DuckDB profile writes to the file the artifacts name (else the data lands elsewhere);
- a partitioned table or incremental model reads the run's window (else every partition
  rebuilds the whole table): a warning, as a model may filter by hand.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from floe_dagster.contract.artifacts import SETTINGS_PATH
from floe_dagster.errors import Problem
from floe_dagster.loading.profiles import (
    DUCKDB_PATH_ENV,
    PROFILES_FILE,
    SERVER_ADAPTERS,
    SERVER_FIELDS,
    duckdb_file,
    is_env_reference,
)
from floe_dagster.loading.project import ARTIFACTS_FILE, ProductFiles

WINDOW_MACRO = "macro.floe_dagster.partition_window"


def profile_problems(files: ProductFiles) -> list[Problem]:
    """The artifacts' `dbt_target` exists, and the profile writes where the compute plugin says."""
    artifacts, project_dir = files.artifacts, files.project_dir
    profile_name = str(files.dbt_project.get("profile"))
    profile = files.profiles.get(profile_name)
    if not isinstance(profile, dict) or not isinstance(profile.get("outputs"), dict):
        return []  # a missing profile is reported with the files
    artifacts_file = str(project_dir / ARTIFACTS_FILE)
    if artifacts.dbt_profiles:
        profiles_file, prefix = artifacts_file, "dbt_profiles."
    else:
        profiles_file, prefix = str(project_dir / PROFILES_FILE), ""
    outputs = profile["outputs"]
    target = artifacts.dagster.dbt_target or profile.get("target")
    if target not in outputs:
        known = ", ".join(sorted(outputs))
        if artifacts.dagster.dbt_target:
            where = (artifacts_file, f"{SETTINGS_PATH}.dbt_target")
        else:
            where = (profiles_file, f"{prefix}{profile_name}.target")
        return [
            Problem(
                *where,
                f"target {target!r} is not an output of profile {profile_name!r} (outputs: "
                f"{known}); name one of them, or add the output to the profile",
            )
        ]
    output = outputs[target]
    compute = artifacts.plugins.compute.type
    field = f"{prefix}{profile_name}.outputs.{target}"
    if not isinstance(output, dict) or output.get("type") != compute:
        kind = output.get("type") if isinstance(output, dict) else None
        return [
            Problem(
                profiles_file,
                f"{field}.type",
                f"is {kind!r} but plugins.compute.type is {compute!r}: the models would be built "
                "in another warehouse than the artifacts name; make them the same",
            )
        ]
    if compute in SERVER_ADAPTERS:
        return _server_problems(profiles_file, field, output)
    if compute != "duckdb":
        return []
    path = str(output.get("path", ""))
    if DUCKDB_PATH_ENV in path:
        return []  # floe-dagster sets it to the artifacts' path for every dbt run
    written, warehouse_file = (project_dir / path).resolve(), duckdb_file(artifacts, project_dir)
    if written != warehouse_file:
        return [
            Problem(
                profiles_file,
                f"{field}.path",
                f"writes to {written} but plugins.compute.config.path names {warehouse_file}: "
                f"use \"{{{{ env_var('{DUCKDB_PATH_ENV}', '{path}') }}}}\" (floe-dagster sets it "
                "to the artifacts' path), or make the two paths the same",
            )
        ]
    return []


def _server_problems(profiles_file: str, field: str, output: dict[str, Any]) -> list[Problem]:
    """A server warehouse's output names what dlt needs, and its password only by reference."""
    problems = [
        Problem(profiles_file, f"{field}.{key}", "is missing; the warehouse's connection needs it")
        for key in SERVER_FIELDS
        if key != "password" and key not in output
    ]
    if "password" in output and not is_env_reference(output["password"]):
        problems.append(
            Problem(
                profiles_file,
                f"{field}.password",
                "is not an env var reference; write \"{{ env_var('WAREHOUSE_PASSWORD') }}\" and "
                "set that variable (on Kubernetes from a secret, `secretKeyRef`)",
            )
        )
    return problems


def window_warnings(
    project_dir: Path, nodes: dict[str, dict[str, Any]], var_names: dict[str, tuple[str, str]]
) -> list[Problem]:
    """Partitioned models that read neither the window macro nor the window vars."""
    warnings = []
    for uid, (low, high) in sorted(var_names.items()):
        node = nodes[uid]
        if node["resource_type"] != "model" or node.get("config", {}).get("materialized") == "view":
            continue  # a view stores no rows: nothing is rebuilt per partition
        macros = node.get("depends_on", {}).get("macros", [])
        code = node.get("raw_code", "")
        if WINDOW_MACRO in macros or all(_reads_var(code, name) for name in (low, high)):
            continue
        warnings.append(
            Problem(
                str(project_dir / node["original_file_path"]),
                node["name"],
                "is partitioned but never filters by the run's window, so every partition "
                "rebuilds the whole table: use {{ floe_dagster.partition_window('<date column>') }} "
                "(docs/partition_windows.md)",
            )
        )
    return warnings


def _reads_var(code: str, name: str) -> bool:
    return re.search(rf"var\(\s*['\"]{re.escape(name)}['\"]", code) is not None
