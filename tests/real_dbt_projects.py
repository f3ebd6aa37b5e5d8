"""Real dbt projects, not shaped like the demo, become working products through the real CLI.

The specification; tests/test_real_dbt_<fixture>.py runs it on each fixture project.

Each fixture under tests/fixtures/products/ is a dbt project as a team would have it (no
compiled_artifacts.json, definitions.py or profiles.yml). A private copy goes through
`floe-dagster init`, gets a daily partition scheme, a transforms override and a schedule in
its settings (`plugins.orchestrator.config`), as docs/first_product.md tells a user to do,
then `floe-dagster validate` and `dagster asset materialize` on a fresh warehouse.

- corner_shop (floe name `corner-shop`): seeds are the raw layer; staging views and an
  ephemeral model; `orders` is partitioned (delete+insert by day) between unpartitioned
  parents and the unpartitioned `customers`; generic, relationships, singular and unit tests.
- fleet_ops: seeds, a snapshot of one seed, a view on the snapshot; `daily_trips` is
  partitioned (delete+insert by trip) reading a seed, with an unpartitioned child;
  `trip_fares` is partitioned but forgets the window. Scheduled by `default_schedule`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    build_schedule_context,
    build_sensor_context,
)

from floe_dagster import load_product_definitions
from tests.conftest import REPO, VENV_BIN, cli_env, floe_dagster_settings

pytestmark = pytest.mark.slow

FIXTURES = REPO / "tests" / "fixtures" / "products"
FIRST_DAY, LAST_DAY = "2026-03-01", "2026-03-14"
ONE_DAY, OTHER_DAY = "2026-03-05", "2026-03-09"
RANGE = "2026-03-03...2026-03-06"
DAILY = {"name": "daily", "cadence": "daily", "start": FIRST_DAY, "end": "2026-03-15"}


@dataclass(frozen=True)
class Shape:
    """One fixture: how init is called, the settings a user adds, where to count rows."""

    fixture: str
    name: str  # the floe product name
    init_args: tuple[str, ...]
    settings: dict
    table: str  # the partitioned model that reads the window
    day: str  # its day column
    key: str  # its row key
    source: str  # the seed it is built from
    source_day: str
    forgets_window: str | None  # the partitioned model that never reads the window
    schedule: str


SHAPES = [
    Shape(
        fixture="corner_shop",
        name="corner-shop",
        init_args=("--name", "corner-shop"),
        settings={
            "partition_schemes": [DAILY],
            "transforms": [{"select": "orders", "partition_scheme": "daily"}],
            "schedules": [
                {
                    "name": "corner_shop_morning",
                    "cron": "0 6 * * *",
                    "timezone": "Europe/Berlin",
                    "select": "fqn:*",
                }
            ],
            "sensors": {"staleness": {"window": 14}},
        },
        table="main.orders",
        day="order_date",
        key="order_id",
        source="main_raw.raw_orders",
        source_day="order_date",
        forgets_window=None,
        schedule="corner_shop_morning",
    ),
    Shape(
        fixture="fleet_ops",
        name="fleet_ops",
        init_args=(),
        settings={
            "partition_schemes": [DAILY],
            "transforms": [{"select": "daily_trips trip_fares", "partition_scheme": "daily"}],
            "default_schedule": {"cron": "30 5 * * *"},
            "sensors": {"staleness": {"window": 14}},
        },
        table="main.daily_trips",
        day="trip_date",
        key="trip_id",
        source="main.raw_trips",
        source_day="cast(started_at as date)",
        forgets_window="models/trip_fares.sql",
        schedule="fleet_ops_default",
    ),
]


@dataclass
class Product:
    shape: Shape
    dir: Path
    home: Path
    warehouse: Path
    init: subprocess.CompletedProcess
    validate: subprocess.CompletedProcess
    first_run: subprocess.CompletedProcess

    @property
    def definitions(self) -> str:
        return str(self.dir / "definitions.py")


def run(*command: str | Path, home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """A command as a user's shell runs it after setup; the warehouse is the artifacts' own."""
    env = cli_env(DAGSTER_HOME=str(home))
    env.pop("FLOE_DUCKDB_PATH", None)
    return subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=2400
    )


def succeeded(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"{done.args}\n{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
    return done.stdout


def materialize(product: Product, *partition: str) -> subprocess.CompletedProcess:
    return run(
        VENV_BIN / "dagster",
        "asset",
        "materialize",
        "--select",
        "*",
        *partition,
        "-f",
        product.definitions,
        home=product.home,
    )


def built_product(shape: Shape, tmp_path_factory: pytest.TempPathFactory) -> Product:
    """The fixture, init'ed, partitioned, validated and fully materialized once, fresh.

    Each fixture project's test file (test_real_dbt_<fixture>.py) makes it its `product`
    fixture, so the two projects run on separate workers.
    """
    root = tmp_path_factory.mktemp(shape.fixture)
    project = root / shape.fixture
    shutil.copytree(FIXTURES / shape.fixture, project)
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")

    init = run(VENV_BIN / "floe-dagster", "init", project, *shape.init_args, home=home)
    succeeded(init)
    artifacts_file = project / "compiled_artifacts.json"
    artifacts = json.loads(artifacts_file.read_text())
    floe_dagster_settings(artifacts).update(shape.settings)
    artifacts_file.write_text(json.dumps(artifacts, indent=2))
    validate = run(VENV_BIN / "floe-dagster", "validate", project, home=home)

    warehouse = (
        project / json.loads(artifacts_file.read_text())["plugins"]["compute"]["config"]["path"]
    )
    assert not warehouse.exists()
    made = Product(shape, project, home, warehouse, init, validate, None)  # type: ignore[arg-type]
    made.first_run = materialize(made, "--partition-range", f"{FIRST_DAY}...{LAST_DAY}")
    return made


def rows_by_day(product: Product, table: str, day: str) -> dict[date, int]:
    with duckdb.connect(str(product.warehouse), read_only=True) as db:
        return dict(
            db.execute(f"select {day}, count(*) from {table} group by 1 order by 1").fetchall()
        )


def rows_of_day(product: Product, table: str, day: str, when: str) -> list[tuple]:
    with duckdb.connect(str(product.warehouse), read_only=True) as db:
        return db.execute(
            f"select * from {table} where {day} = date '{when}' order by all"
        ).fetchall()


# --- init and validate ---------------------------------------------------------------


def test_init_says_what_it_wrote_and_which_placeholders_to_decide(product):
    out = succeeded(product.init)
    for name in ("compiled_artifacts.json", "definitions.py", "profiles.yml"):
        assert f"{product.dir / name}: written" in out
    assert "identity.repository" in out and "plugins.orchestrator.config.owners" in out
    assert "target/manifest.json: written" in out  # init ran prepare
    assert ": ok:" in out  # ... and validate


def test_init_artifacts_validate_under_floes_own_model(product):
    from floe_core.schemas.compiled_artifacts import CompiledArtifacts as FloeCompiledArtifacts

    floe = FloeCompiledArtifacts.model_validate_json(
        (product.dir / "compiled_artifacts.json").read_text()
    )
    assert floe.metadata.product_name == product.shape.name
    assert floe.plugins.orchestrator.type == "dagster"


def test_validate_passes_and_warns_only_about_the_model_that_forgets_the_window(product):
    out = succeeded(product.validate)
    assert ": ok:" in out
    warnings = [
        line
        for line in product.validate.stderr.splitlines()
        if line.startswith("warning:") and "window" in line
    ]
    if product.shape.forgets_window is None:
        assert warnings == []
    else:
        assert len(warnings) == 1, product.validate.stderr
        assert str(product.dir / product.shape.forgets_window) in warnings[0]


# --- materializing -------------------------------------------------------------------


def test_everything_materializes_on_a_fresh_warehouse_with_every_check_passed(product):
    succeeded(product.first_run)
    graph = (
        load_product_definitions(product.shape.name, product.dir).get_repository_def().asset_graph
    )
    with DagsterInstance.from_config(str(product.home)) as instance:
        first = instance.get_runs()[-1]  # newest first
        assert first.status == DagsterRunStatus.SUCCESS
        materialized = {
            e.dagster_event.event_specific_data.materialization.asset_key
            for e in instance.all_logs(first.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
        }
        evaluations = [
            e.dagster_event.event_specific_data
            for e in instance.all_logs(
                first.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
            )
        ]
    assert materialized == set(graph.get_all_asset_keys())
    assert {(e.asset_key, e.check_name) for e in evaluations} == {
        (c.asset_key, c.name) for c in graph.asset_check_keys
    }
    assert [e for e in evaluations if not e.passed] == []
    days = rows_by_day(product, product.shape.table, product.shape.day)
    assert days == rows_by_day(product, product.shape.source, product.shape.source_day)
    assert len(days) == 14


def test_one_partition_replaces_exactly_that_days_rows(product):
    shape = product.shape
    succeeded(product.first_run)
    before = rows_by_day(product, shape.table, shape.day)
    one_day = rows_of_day(product, shape.table, shape.day, ONE_DAY)
    with duckdb.connect(str(product.warehouse)) as db:  # damage two days
        for day in (ONE_DAY, OTHER_DAY):
            db.execute(
                f"delete from {shape.table} where {shape.key} = "
                f"(select min({shape.key}) from {shape.table} where {shape.day} = '{day}')"
            )
        db.execute(
            f"insert into {shape.table} select * from {shape.table} "
            f"where {shape.day} = '{ONE_DAY}' limit 1"
        )

    succeeded(materialize(product, "--partition", ONE_DAY))

    after = rows_by_day(product, shape.table, shape.day)
    assert rows_of_day(product, shape.table, shape.day, ONE_DAY) == one_day  # rebuilt exactly
    assert (
        after[date.fromisoformat(OTHER_DAY)] == before[date.fromisoformat(OTHER_DAY)] - 1
    )  # untouched
    untouched = {d: n for d, n in before.items() if d.isoformat() != OTHER_DAY}
    assert {d: n for d, n in after.items() if d.isoformat() != OTHER_DAY} == untouched
    with duckdb.connect(str(product.warehouse)) as db:  # put the other day back for later tests
        db.execute(f"delete from {shape.table} where {shape.day} = '{OTHER_DAY}'")
    succeeded(materialize(product, "--partition", OTHER_DAY))
    assert rows_by_day(product, shape.table, shape.day) == before


def test_a_partition_range_is_one_successful_run(product):
    succeeded(product.first_run)
    with DagsterInstance.from_config(str(product.home)) as instance:
        runs_before = len(instance.get_runs())
    done = materialize(product, "--partition-range", RANGE)
    succeeded(done)
    with DagsterInstance.from_config(str(product.home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == runs_before + 1
        assert runs[0].status == DagsterRunStatus.SUCCESS
    assert rows_by_day(product, product.shape.table, product.shape.day) == rows_by_day(
        product, product.shape.source, product.shape.source_day
    )


def test_a_schedule_tick_run_succeeds_on_a_fresh_warehouse(product, tmp_path, monkeypatch):
    warehouse = tmp_path / "fresh.duckdb"
    monkeypatch.setenv("FLOE_DUCKDB_PATH", str(warehouse))
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    repo = load_product_definitions(product.shape.name, product.dir).get_repository_def()
    schedule = repo.get_schedule_def(product.shape.schedule)
    tick = datetime(2026, 3, 10, 6, tzinfo=UTC)
    with DagsterInstance.from_config(str(home)) as instance:
        context = build_schedule_context(
            instance=instance, scheduled_execution_time=tick, repository_def=repo
        )
        requests = schedule.evaluate_tick(context).run_requests
        assert [r.partition_key for r in requests] == ["2026-03-09"]
        result = repo.get_job(schedule.job_name).execute_in_process(
            instance=instance,
            partition_key=requests[0].partition_key,
            tags=requests[0].tags,
            raise_on_error=False,
        )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    with duckdb.connect(str(warehouse), read_only=True) as db:
        days = db.execute(
            f"select distinct {product.shape.day} from {product.shape.table}"
        ).fetchall()
    assert days == [(date(2026, 3, 9),)]


# --- status and staleness ------------------------------------------------------------


def test_status_prints_the_partition_table(product):
    succeeded(product.first_run)
    out = succeeded(run(VENV_BIN / "floe-dagster", "status", product.dir, home=product.home))
    lines = out.splitlines()
    assert lines[0].split() == ["asset", "partition", "status", "reason"]
    table = product.shape.table.split(".")[-1]
    rows = [
        line.split()
        for line in lines[1:]
        if line.split()[:1] and line.split()[0].endswith(f"/{table}")
    ]
    assert {r[1] for r in rows} == {f"2026-03-{d:02d}" for d in range(1, 15)}
    assert {r[2] for r in rows} <= {"fresh", "stale_upstream"}


def test_the_staleness_sensor_evaluates(product):
    succeeded(product.first_run)
    repo = load_product_definitions(product.shape.name, product.dir).get_repository_def()
    sensor = next(s for s in repo.sensor_defs if s.name.endswith("_staleness"))
    with DagsterInstance.from_config(str(product.home)) as instance:
        result = sensor.evaluate_tick(
            build_sensor_context(instance=instance, repository_def=repo, sensor_name=sensor.name)
        )
    assert result is not None
    for request in result.run_requests:
        assert request.partition_key in {f"2026-03-{d:02d}" for d in range(1, 15)}


# --- seeds are resources of their own -------------------------------------------------


def test_a_seed_named_where_floe_expects_a_model_is_an_error_saying_what_it_is(product, tmp_path):
    from floe_dagster import FloeConfigError

    copy = tmp_path / product.dir.name
    shutil.copytree(product.dir, copy, ignore=shutil.ignore_patterns("warehouse", "logs"))
    artifacts_file = copy / "compiled_artifacts.json"
    artifacts = json.loads(artifacts_file.read_text())
    seed = product.shape.source.split(".")[-1]
    transforms = artifacts.get("transforms") or {"models": [], "default_compute": "duckdb"}
    transforms["models"].append({"name": seed, "compute": "duckdb"})
    artifacts["transforms"] = transforms
    artifacts_file.write_text(json.dumps(artifacts))
    with pytest.raises(FloeConfigError) as info:
        load_product_definitions(product.shape.name, copy)
    message = str(info.value)
    assert f"{seed!r} is a dbt seed, not a model" in message
    assert "transforms.models[" in message and "resource_type:seed" in message


def test_seeds_are_assets_with_the_products_owners(product):
    graph = (
        load_product_definitions(product.shape.name, product.dir).get_repository_def().asset_graph
    )
    seed = product.shape.source.split(".")[-1]
    (key,) = [k for k in graph.get_all_asset_keys() if k.path[-1] == seed]
    assert graph.get(key).owners


def test_resource_type_and_path_selections_reach_seeds(product, tmp_path):
    copy = tmp_path / product.dir.name
    shutil.copytree(product.dir, copy, ignore=shutil.ignore_patterns("warehouse", "logs"))
    artifacts_file = copy / "compiled_artifacts.json"
    artifacts = json.loads(artifacts_file.read_text())
    floe_dagster_settings(artifacts)["transforms"] = [
        *floe_dagster_settings(artifacts).get("transforms", []),
        {"select": "resource_type:seed", "group": "raw_layer"},
        {"select": "path:seeds", "owners": ["team:ingest"]},
    ]
    artifacts_file.write_text(json.dumps(artifacts))
    graph = load_product_definitions(product.shape.name, copy).get_repository_def().asset_graph
    seed = product.shape.source.split(".")[-1]
    (key,) = [k for k in graph.get_all_asset_keys() if k.path[-1] == seed]
    assert graph.get(key).group_name == "raw_layer"
    assert graph.get(key).owners == ["team:ingest"]
