"""Materialize a private copy of the demo through the real dagster CLI, with observability on.

Module-scoped fixtures need this outside conftest's function-scoped `product_dir`, so that
one demo materialization serves every test of a module.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, DagsterRun

from tests.conftest import DEMO, REPO, cli_env, floe_dagster_settings

ALL_DAYS = "2026-01-01...2026-04-10"


def demo_copy(target: Path, manifest: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """Copy customer_360 (with its manifest) to `target` and apply `change` to its artifacts."""
    shutil.copytree(
        DEMO, target, ignore=shutil.ignore_patterns("target", "warehouse", "logs", "__pycache__")
    )
    (target / "target").mkdir()
    shutil.copy(manifest, target / "target" / "manifest.json")
    path = target / "compiled_artifacts.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=1))
    return target


def observe(
    data: dict[str, Any], lineage_url: str | None = None, otlp_url: str | None = None
) -> None:
    """Lineage over http to `lineage_url` and spans over OTLP/HTTP to `otlp_url` (each if given)."""
    observability = data["observability"]
    if lineage_url:
        observability["lineage"] = True
        floe_dagster_settings(data)["lineage"] = {
            "type": "http",
            "url": lineage_url,
            "timeout_seconds": 2,
        }
    if otlp_url:
        telemetry = observability["telemetry"]
        telemetry.update(enabled=True, otlp_endpoint=otlp_url, otlp_protocol="http")
        telemetry["batch_processor"] = {"schedule_delay_millis": 200, "export_timeout_millis": 2000}


def materialize(
    product: Path, dagster_home: Path, select: str = "*", partition_range: str | None = ALL_DAYS
) -> subprocess.CompletedProcess:
    """`dagster asset materialize` on the copy, as the README runs it."""
    home = dagster_home
    home.mkdir(exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    args = [
        "dagster",
        "asset",
        "materialize",
        "--select",
        select,
        "-f",
        str(product / "definitions.py"),
    ]
    if partition_range:
        args += ["--partition-range", partition_range]
    return subprocess.run(
        args,
        cwd=REPO,
        env=cli_env(
            DAGSTER_HOME=str(home),
            FLOE_DUCKDB_PATH=str(product / "warehouse" / "customer_360.duckdb"),
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )


def only_run(dagster_home: Path) -> DagsterRun:
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        (run,) = instance.get_runs()
    return run
