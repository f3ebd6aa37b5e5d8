"""Synthetic dbt products of N models: sources -> staging -> intermediate -> marts.

`python -m bench.synthetic N OUT_DIR` writes a product directory (dbt project, profiles,
compiled_artifacts.json) and builds its manifest with `dbt parse`. Layers hold 40% / 40% /
20% of the models; every model reads one or two models of the layer below, chosen
deterministically, so the graph has the fan-in of a real project.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
from pathlib import Path

from floe_dagster.execution.resources import dbt_executable

SOURCES = 20


def write_project(n_models: int, out_dir: Path, partitioned: bool = True) -> Path:
    """Write a product of `n_models` models into `out_dir` (replacing it); return the dir."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    rng = random.Random(n_models)
    name = f"synthetic_{n_models}"
    n_staging = max(1, int(n_models * 0.4))
    n_intermediate = max(1, int(n_models * 0.4))
    n_marts = max(1, n_models - n_staging - n_intermediate)
    models = out_dir / "models"
    for layer in ("staging", "intermediate", "marts"):
        (models / layer).mkdir(parents=True)

    tables = "\n".join(f"      - name: raw_{i}" for i in range(SOURCES))
    (models / "staging" / "sources.yml").write_text(
        f"version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n{tables}\n"
    )
    names: dict[str, list[str]] = {"staging": [], "intermediate": [], "marts": []}
    for i in range(n_staging):
        model = f"stg_{i:05d}"
        names["staging"].append(model)
        (models / "staging" / f"{model}.sql").write_text(
            f"select * from {{{{ source('raw', 'raw_{i % SOURCES}') }}}}\n"
        )
    for layer, count, below in (
        ("intermediate", n_intermediate, "staging"),
        ("marts", n_marts, "intermediate"),
    ):
        prefix = "int" if layer == "intermediate" else "mart"
        for i in range(count):
            model = f"{prefix}_{i:05d}"
            names[layer].append(model)
            parents = rng.sample(names[below], k=min(2, len(names[below])))
            refs = " union all ".join(f"select * from {{{{ ref('{p}') }}}}" for p in parents)
            (models / layer / f"{model}.sql").write_text(refs + "\n")
    tests = "\n".join(
        f"  - name: {m}\n    columns:\n      - name: id\n        data_tests: [not_null]"
        for m in names["marts"]
    )
    (models / "marts" / "schema.yml").write_text(f"version: 2\nmodels:\n{tests}\n")

    (out_dir / "dbt_project.yml").write_text(
        f"name: {name}\nversion: '1.0.0'\nconfig-version: 2\nprofile: {name}\n"
        "model-paths: ['models']\n"
    )
    (out_dir / "profiles.yml").write_text(
        f"{name}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: \"{{{{ env_var('FLOE_DUCKDB_PATH', 'warehouse/{name}.duckdb') }}}}\"\n"
    )
    all_models = [m for layer in names.values() for m in layer]
    (out_dir / "compiled_artifacts.json").write_text(
        json.dumps(artifacts(name, all_models, partitioned), indent=1)
    )
    return out_dir


def artifacts(name: str, models: list[str], partitioned: bool) -> dict:
    """Artifacts with groups, owners, a schedule and (optionally) daily partitions on the marts."""
    section: dict = {
        "owners": ["team:synthetic"],
        "transforms": [
            {"select": "path:models/staging", "group": "staging"},
            {"select": "path:models/intermediate", "group": "intermediate"},
            {"select": "path:models/marts", "group": "marts", "workload_size": "medium"},
        ],
        "schedules": [{"name": "nightly", "cron": "0 2 * * *", "timezone": "UTC"}],
    }
    if partitioned:
        section["partition_schemes"] = [
            {"name": "daily", "cadence": "daily", "start": "2026-01-01", "end": "2026-12-31"}
        ]
        section["transforms"][2].update(
            partition_scheme="daily", backfill={"policy": "chunked", "chunk_size": 10}
        )
    return {
        "version": "0.16.0",
        "metadata": {
            "compiled_at": "2026-11-27T00:00:00Z",
            "floe_version": "0.3.0",
            "source_hash": "sha256:synthetic",
            "product_name": name,
            "product_version": "1.0.0",
        },
        "identity": {"product_id": f"bench.{name}", "domain": "bench", "repository": "none"},
        "observability": {
            "telemetry": {
                "enabled": False,
                "resource_attributes": {
                    "service_name": name,
                    "service_version": "1.0.0",
                    "deployment_environment": "dev",
                    "floe_namespace": "bench",
                    "floe_product_name": name,
                    "floe_product_version": "1.0.0",
                    "floe_mode": "dev",
                },
            },
            "lineage": False,
            "lineage_namespace": f"bench.{name}",
        },
        "plugins": {
            "compute": {"type": "duckdb", "version": "1.5.0", "config": {"path": f"{name}.duckdb"}},
            "orchestrator": {"type": "dagster", "version": "1.13.0", "config": section},
        },
        "transforms": {
            "default_compute": "duckdb",
            "models": [{"name": m, "compute": "duckdb"} for m in models],
        },
    }


def parse(project_dir: Path) -> None:
    """Build target/manifest.json with dbt itself, as a real product would."""
    subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--quiet",
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(project_dir),
        ],
        check=True,
    )


def synthetic_product(n_models: int, cache_dir: Path, partitioned: bool = True) -> Path:
    """A parsed synthetic product, reused from `cache_dir` when already built."""
    out_dir = cache_dir / f"synthetic_{n_models}{'' if partitioned else '_flat'}"
    if not (out_dir / "target" / "manifest.json").exists():
        write_project(n_models, out_dir, partitioned)
        parse(out_dir)
    return out_dir


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("models", type=int)
    cli.add_argument("out_dir", type=Path)
    cli.add_argument("--flat", action="store_true", help="no partitions")
    ns = cli.parse_args()
    write_project(ns.models, ns.out_dir, partitioned=not ns.flat)
    parse(ns.out_dir)
    print(ns.out_dir)
