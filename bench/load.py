"""Definitions load at 1,000 / 5,000 / 10,000 models: floe-dagster against plain dagster-dbt.

    .venv/bin/python -m bench.load [--models 1000 5000 10000] [--runs 3]

For each synthetic product (bench/synthetic.py, cached under .artifacts/synthetic/) it
runs, alternating and each in a fresh interpreter so no heap or cache is shared:

- `plain`: `@dbt_assets` on the product's manifest + `Definitions` with a DbtCliResource;
- `floe`: `load_product_definitions` on the same product (schedule, checks, partitions),
  with the selection cache beside the manifest already written (every load after the
  first);
- `floe cold`: the same with that cache deleted (the first load after `dbt parse`).
- `floe component`: the same product through `dg`'s loader, a `floe_dagster.FloeProduct`
  defs.yaml in a dg project beside it (`load_from_defs_folder`, as `dg dev` loads it).

Each child times building the definitions (including the repository, which
`load_product_definitions` resolves), building the repository snapshot the code server
sends (`defer_snapshots=True`, as `dagster api grpc` is asked), and serializing it, and
reports its peak RSS. The table gives medians and floe/plain ratios.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value
from dagster_dbt import DbtCliResource, dbt_assets

from bench.synthetic import synthetic_product
from floe_dagster import load_product_definitions
from floe_dagster.execution.resources import dbt_executable
from floe_dagster.loading.cache import CACHE_FILE

REPO = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO / ".artifacts" / "synthetic"
VARIANTS = ("plain", "floe", "floe cold", "floe component")
PHASES = ("build", "snapshot", "serialize")
DG_MODULE = "bench_dg_product"


def measure(variant: str, project: Path) -> dict[str, float]:
    """Run in the child: time the three phases of one variant and read peak RSS.

    Both stacks are imported at module level, so both variants start from the same heap.
    RepositorySnap and serialize_value are what the code server builds and sends (not
    public API; this script is not part of the package).
    """
    if variant == "floe cold":
        (project / CACHE_FILE).unlink(missing_ok=True)
    if variant == "floe component":
        sys.path.insert(0, str(dg_project(project)))
    start = time.process_time()
    if variant == "plain":

        @dbt_assets(manifest=project / "target" / "manifest.json")
        def plain_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource):
            yield from dbt.cli(["build"], context=context).stream()

        resources = {
            "dbt": DbtCliResource(project_dir=str(project), dbt_executable=dbt_executable())
        }
        repo = dg.Definitions(assets=[plain_dbt], resources=resources).get_repository_def()
    elif variant == "floe component":
        repo = dg.load_from_defs_folder(project_root=dg_project(project)).get_repository_def()
    else:
        repo = load_product_definitions(project.name, project).get_repository_def()
    built = time.process_time()
    snap = RepositorySnap.from_def(repo, defer_snapshots=True)
    snapped = time.process_time()
    serialize_value(snap)
    done = time.process_time()
    return {
        "build": built - start,
        "snapshot": snapped - built,
        "serialize": done - snapped,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def dg_project(project: Path) -> Path:
    """A dg project beside `project` whose one defs.yaml is a FloeProduct naming it."""
    root = project.parent / f"{project.name}_dg"
    defs = root / DG_MODULE / "defs" / "product"
    defs.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f'[tool.dg]\ndirectory_type = "project"\n\n[tool.dg.project]\nroot_module = "{DG_MODULE}"\n'
    )
    (root / DG_MODULE / "__init__.py").touch()
    (defs / "defs.yaml").write_text(
        "type: floe_dagster.FloeProduct\nattributes:\n"
        f"  project_dir: {project.resolve()}\n  product_name: {project.name}\n"
    )
    return root


def run_child(variant: str, project: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.load", "--child", variant, str(project)],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(models: list[int], runs: int) -> list[dict]:
    rows = []
    for n in models:
        project = synthetic_product(n, CACHE_DIR)
        run_child("floe", project)  # write the selection cache once
        samples: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
        for i in range(runs):
            order = VARIANTS if i % 2 == 0 else VARIANTS[::-1]
            for variant in order:
                samples[variant].append(run_child(variant, project))
                print(
                    f"  {n} models, run {i + 1}/{runs}, {variant}: {samples[variant][-1]}",
                    file=sys.stderr,
                )
        run_child("floe", project)  # leave the cache written
        for variant in VARIANTS:
            medians = {
                k: statistics.median(s[k] for s in samples[variant]) for k in samples[variant][0]
            }
            medians["total"] = statistics.median(
                sum(s[p] for p in PHASES) for s in samples[variant]
            )
            rows.append({"models": n, "variant": variant, **medians})
    return rows


def table(rows: list[dict]) -> str:
    """Markdown: medians in seconds / MB, and each floe variant's ratio to plain."""
    lines = [
        "| models | variant | build s | snapshot s | serialize s | total s | peak MB | total / plain | peak / plain |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    plain = {r["models"]: r for r in rows if r["variant"] == "plain"}
    for r in rows:
        base = plain[r["models"]]
        lines.append(
            f"| {r['models']:,} | {r['variant']} | {r['build']:.2f} | {r['snapshot']:.2f} | "
            f"{r['serialize']:.2f} | {r['total']:.2f} | {r['peak_mb']:.0f} | "
            f"{r['total'] / base['total']:.2f} | {r['peak_mb'] / base['peak_mb']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    cli = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    cli.add_argument("--models", type=int, nargs="+", default=[1000, 5000, 10000])
    cli.add_argument("--runs", type=int, default=3, help="runs per variant; medians are reported")
    cli.add_argument("--child", nargs=2, metavar=("VARIANT", "PROJECT"), help=argparse.SUPPRESS)
    ns = cli.parse_args()
    if ns.child:
        print(json.dumps(measure(ns.child[0], Path(ns.child[1]))))
        return
    print(table(bench(ns.models, ns.runs)))


if __name__ == "__main__":
    main()
