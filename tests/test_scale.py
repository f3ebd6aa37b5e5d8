"""Large products load fast without changing what they load.

Timings live in bench/load.py and docs/benchmarks.md; these tests check behaviour: each
dbt step is exactly what `@dbt_assets` would build for its select string, the manifest
kept is the manifest read, the garbage collector is left as the caller had it, and a
10,000-model product loads and serves in the code server.
"""

import gc
import json
import os
import signal
import subprocess
import time

import pytest
from dagster import DagsterInstance
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin
from dagster_dbt import DbtCliResource, dbt_assets

from bench.synthetic import synthetic_product
from floe_dagster import load_product_definitions
from floe_dagster.assets.dbt import build_dbt_assets
from floe_dagster.assets.partitions import build_partitions
from floe_dagster.assets.translator import FloeDbtTranslator
from floe_dagster.definitions import load_plan
from floe_dagster.loading.cache import CACHE_FILE
from tests.conftest import DEMO, REPO, cli_env, free_port

LOAD_TIMEOUT = 180  # Dagster's code-server load timeout: a failure bound, not a benchmark


def test_each_dbt_step_is_what_dbt_assets_builds_for_its_select_string(demo_manifest):
    plan = load_plan("customer_360", DEMO)
    assets = build_dbt_assets(
        plan, build_partitions(plan.files.artifacts.dagster.partition_schemes)
    )
    steps = [a for a in assets if a.is_executable]
    assert len(steps) > 1  # the demo has partitioned and unpartitioned steps
    for step in steps:
        translator = next(iter(step.specs)).metadata["dagster_dbt/dagster_dbt_translator"]
        assert isinstance(translator, FloeDbtTranslator)

        @dbt_assets(
            manifest=plan.manifest,
            select=step.op.tags["dagster_dbt/select"],
            dagster_dbt_translator=translator,
            partitions_def=step.partitions_def,
        )
        def expected(context, dbt: DbtCliResource): ...

        assert {s.key: s for s in step.specs} == {s.key: s for s in expected.specs}
        assert {c.key: c for c in step.check_specs} == {c.key: c for c in expected.check_specs}


def test_selections_are_cached_beside_the_manifest_and_redone_when_it_changes(product_dir):
    load_plan("customer_360", product_dir)
    cache = product_dir / CACHE_FILE
    first = json.loads(cache.read_text())
    assert first["entries"]["selections"]
    assert (
        load_plan("customer_360", product_dir).model_settings
        == load_plan("customer_360", product_dir).model_settings
    )

    manifest = product_dir / "target" / "manifest.json"
    manifest.write_text(manifest.read_text() + "\n")  # same content, new bytes: a new parse
    load_plan("customer_360", product_dir)
    assert json.loads(cache.read_text())["fingerprint"] != first["fingerprint"]


def test_a_broken_cache_file_is_ignored(product_dir):
    (product_dir / CACHE_FILE).write_text("{not json")
    plan = load_plan("customer_360", product_dir)
    assert plan.model_settings


def test_the_kept_manifest_is_the_manifest_read_with_equal_configs_stored_once(demo_manifest):
    read = json.loads(demo_manifest.read_text())
    kept = load_plan("customer_360", DEMO).manifest
    for section in ("nodes", "sources"):
        assert kept[section].keys() == read[section].keys()
        for uid, node in kept[section].items():
            assert node == {k: v for k, v in read[section][uid].items() if k in node}
            assert "config" in node and list(node["config"]) == list(read[section][uid]["config"])
    configs = [node["config"] for node in kept["nodes"].values()]
    assert len({id(c) for c in configs}) == len({json.dumps(c) for c in configs}) < len(configs)


def test_the_collector_is_left_as_it_was_and_skips_a_repository_only_while_it_lives():
    gc.disable()
    try:
        defs = load_product_definitions("customer_360", DEMO)
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert gc.get_freeze_count() > 0  # what the load built is left out of full collections
    del defs
    assert gc.get_freeze_count() == 0  # the repository is gone: all of it is collectable again
    load_product_definitions("customer_360", DEMO)
    assert gc.isenabled() and gc.get_freeze_count() == 0


@pytest.mark.slow
def test_a_10000_model_product_loads_and_serves_in_the_code_server(tmp_path):
    project = synthetic_product(10000, REPO / ".artifacts" / "synthetic")
    (project / CACHE_FILE).unlink(missing_ok=True)  # the first load after `dbt parse`
    definitions = tmp_path / "definitions.py"
    definitions.write_text(
        "from floe_dagster import load_product_definitions\n"
        f"defs = load_product_definitions('synthetic_10000', {str(project)!r})\n"
    )
    port = free_port()
    log = (tmp_path / "code_server.log").open("w")
    server = subprocess.Popen(
        ["dagster", "api", "grpc", "-f", str(definitions), "-p", str(port), "-h", "127.0.0.1"],
        env=cli_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + LOAD_TIMEOUT
        while subprocess.run(
            ["dagster", "api", "grpc-health-check", "-p", str(port), "-h", "127.0.0.1"],
            env=cli_env(),
            capture_output=True,
        ).returncode:
            assert server.poll() is None, (tmp_path / "code_server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, f"code server did not load in {LOAD_TIMEOUT} s"
            time.sleep(2)

        # What the webserver and daemon do: list the repositories, fetch the snapshot.
        origin = GrpcServerCodeLocationOrigin(
            host="127.0.0.1", port=port, location_name="synthetic"
        )
        with DagsterInstance.ephemeral() as instance, origin.create_location(instance) as location:
            (repo,) = location.get_repositories().values()
            nodes = repo.get_asset_node_snaps()
            models = [
                n for n in nodes if n.asset_key.path[-1].startswith(("stg_", "int_", "mart_"))
            ]
            assert len(models) == 10000
            checks = repo.get_asset_check_node_snaps()
            assert len([c for c in checks if c.name.startswith("not_null_")]) == 2000  # dbt tests
            assert repo.has_schedule("nightly")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
