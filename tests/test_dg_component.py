"""The `FloeProduct` component through the real `dg` CLI: list, check, scaffold, launch, dev."""

import json
import shutil
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from floe_dagster import load_product_definitions
from floe_dagster.cli import main
from tests.conftest import DEMO, REPO, VENV_BIN, cli_env, free_port
from tests.serving import serving
from tests.test_webserver import QUERY, graphql

pytestmark = pytest.mark.slow

COPY = "copied_products"
DEMO_DEFS = Path(COPY, "defs", "customer_360", "defs.yaml")


def dg(*args: str, cwd: Path, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`dg ARGS` as a user runs it in the project, on the repo's venv and a private instance."""
    return subprocess.run(
        [str(VENV_BIN / "dg"), *args],
        cwd=cwd,
        # PYTHONPATH: a copy's project module is importable as an installed project's is
        env=cli_env(
            DAGSTER_HOME=str(home), VIRTUAL_ENV=str(VENV_BIN.parent), PYTHONPATH=str(cwd), **env
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )


def copy_project(tmp_path: Path, product_dir: Path | None) -> Path:
    """The repo's dg project in tmp; with the demo product's copy, or with an empty defs folder."""
    project = tmp_path / "project"
    project.mkdir()
    # Renamed: the repo's own floe_products is importable from anywhere (editable install).
    pyproject = (REPO / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(pyproject.replace('"floe_products"', f'"{COPY}"'))
    shutil.copytree(
        REPO / "floe_products", project / COPY, ignore=shutil.ignore_patterns("__pycache__")
    )
    (project / "products").mkdir()
    if product_dir is None:
        shutil.rmtree(project / COPY / "defs" / "customer_360")
    else:
        shutil.move(product_dir, project / "products" / "customer_360")
    return project


@pytest.fixture
def demo_project(tmp_path, product_dir) -> Path:
    return copy_project(tmp_path, product_dir)


def test_dg_lists_the_floe_product_component(dagster_home):
    done = dg("list", "components", "--json", cwd=REPO, home=dagster_home)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "floe_dagster.FloeProduct" in {c["key"] for c in json.loads(done.stdout)["items"]}


def test_dg_list_defs_is_what_load_product_definitions_builds(dagster_home, demo_manifest):
    done = dg("list", "defs", "--json", cwd=REPO, home=dagster_home)
    assert done.returncode == 0, done.stderr[-3000:]
    listed = json.loads(done.stdout)
    repo = load_product_definitions("customer_360", DEMO).get_repository_def()
    graph = repo.asset_graph
    assert {a["asset_key"] for a in listed["assets"]} == {
        k.to_user_string() for k in graph.get_all_asset_keys()
    }
    assert {c["key"] for c in listed["asset_checks"]} == {
        f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys
    }
    assert {s["name"] for s in listed["schedules"]} == {s.name for s in repo.schedule_defs}
    assert {s["name"] for s in listed["sensors"]} == {s.name for s in repo.sensor_defs}


def test_dg_check_defs_passes_on_the_repo(dagster_home, demo_manifest):
    done = dg("check", "defs", cwd=REPO, home=dagster_home)
    assert done.returncode == 0, done.stderr[-3000:]


def test_dg_check_defs_names_the_broken_products_file(demo_project, dagster_home):
    artifacts = demo_project / "products" / "customer_360" / "compiled_artifacts.json"
    data = json.loads(artifacts.read_text())
    data["metadata"]["product_version"] = 7
    artifacts.write_text(json.dumps(data))
    done = dg("check", "defs", cwd=demo_project, home=dagster_home)
    assert done.returncode != 0
    assert f"{artifacts}: metadata.product_version" in done.stdout + done.stderr


def test_an_unknown_defs_yaml_attribute_names_the_file_and_key(demo_project, dagster_home):
    defs_yaml = demo_project / DEMO_DEFS
    defs_yaml.write_text(defs_yaml.read_text().replace("project_dir:", "project_dirr:"))
    done = dg("check", "yaml", cwd=demo_project, home=dagster_home)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert f"{defs_yaml}:" in output and "attributes.project_dirr" in output


def test_a_missing_product_directory_names_the_file_and_key(demo_project, dagster_home):
    defs_yaml = demo_project / DEMO_DEFS
    defs_yaml.write_text(defs_yaml.read_text().replace("products/customer_360", "products/none"))
    done = dg("check", "defs", cwd=demo_project, home=dagster_home)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert f"{defs_yaml}:" in output and "attributes.project_dir" in output
    assert "products/none is no directory" in output


def test_dg_refresh_defs_state_prepares_the_manifest_and_selection_cache(
    demo_project, dagster_home
):
    target = demo_project / "products" / "customer_360" / "target"
    shutil.rmtree(target)
    done = dg("utils", "refresh-defs-state", cwd=demo_project, home=dagster_home)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (target / "manifest.json").is_file()
    assert json.loads((target / "floe_dagster_cache.json").read_text())["entries"]["selections"]


def test_floe_dagster_prepare_writes_the_same_selection_cache(product_dir):
    cache = product_dir / "target" / "floe_dagster_cache.json"
    assert not cache.exists()
    assert main(["prepare", str(product_dir)]) == 0
    assert json.loads(cache.read_text())["entries"]["selections"]


def test_scaffold_on_a_plain_dbt_project_makes_a_product_that_loads(tmp_path, dagster_home):
    project = copy_project(tmp_path, None)
    shutil.copytree(REPO / "tests/fixtures/products/corner_shop", project / "products/corner_shop")
    done = dg(
        "scaffold",
        "defs",
        "floe_dagster.FloeProduct",
        "corner_shop",
        "--project-path",
        "products/corner_shop",
        cwd=project,
        home=dagster_home,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "decide these placeholders" in done.stdout  # as `floe-dagster init` reports them
    listed = dg("list", "defs", "--json", cwd=project, home=dagster_home)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assets = {a["asset_key"] for a in json.loads(listed.stdout)["assets"]}
    assert {"stg_orders", "customers"} <= {key.rsplit("/", 1)[-1] for key in assets}


def test_dg_launch_materializes_one_partition_of_a_selection(demo_project, dagster_home, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    selection = 'key:"sales/customer_360/shop/orders" or key:"sales/customer_360/stg_orders"'
    done = dg(
        "launch",
        "--assets",
        selection,
        "--partition",
        "2026-01-05",
        cwd=demo_project,
        home=dagster_home,
        FLOE_DUCKDB_PATH=str(warehouse),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as db:
        days = db.execute("select distinct cast(order_date as date) from stg_orders").fetchall()
    assert [str(day) for (day,) in days] == ["2026-01-05"]


def test_dg_dev_serves_the_product(dagster_home, demo_manifest, tmp_path):
    port = free_port()
    env = cli_env(DAGSTER_HOME=str(dagster_home), VIRTUAL_ENV=str(VENV_BIN.parent))
    with serving(
        [str(VENV_BIN / "dg"), "dev", "-p", str(port), "-h", "127.0.0.1"],
        cwd=REPO,
        env=env,
        log=tmp_path / "dg_dev.log",
        ready_url=f"http://127.0.0.1:{port}/server_info",
    ):
        data = wait_for_location(port)
    entries = data["workspaceOrError"]["locationEntries"]
    assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation"
    assets = {"/".join(n["assetKey"]["path"]) for n in data["assetNodes"]}
    assert "sales/customer_360/fct_orders" in assets and len(assets) == 12


def wait_for_location(port: int, timeout: float = 120) -> dict:
    """The GraphQL answer once the code location has loaded (or failed to)."""
    deadline = time.monotonic() + timeout
    while True:
        data = graphql(port, QUERY)
        entries = data["workspaceOrError"]["locationEntries"]
        if entries and entries[0]["locationOrLoadError"]:
            return data
        assert time.monotonic() < deadline, "code location did not load"
        time.sleep(1)
