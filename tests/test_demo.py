"""The README's first command materializes all of customer_360 through the real dagster CLI."""

import subprocess

import duckdb
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from floe_dagster import load_product_definitions
from tests.conftest import DEMO, REPO, cli_env

pytestmark = pytest.mark.slow


def test_demo_command_materializes_every_asset_and_passes_every_check(tmp_path, dagster_home):
    warehouse = tmp_path / "demo.duckdb"
    done = subprocess.run(
        ["bash", "scripts/demo.sh"],
        cwd=REPO,
        env=cli_env(DAGSTER_HOME=str(dagster_home), FLOE_DUCKDB_PATH=str(warehouse)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "dagster dev -w workspace.yaml" in done.stdout

    graph = load_product_definitions("customer_360", DEMO).get_repository_def().asset_graph
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs()
        assert [r.status for r in runs] == [DagsterRunStatus.SUCCESS]
        for key in graph.get_all_asset_keys():
            assert instance.get_latest_materialization_event(key), key
        evaluations = [
            e.dagster_event.event_specific_data
            for e in instance.all_logs(
                runs[0].run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
            )
        ]
    checked = {(e.asset_key, e.check_name) for e in evaluations}
    assert checked == {(c.asset_key, c.name) for c in graph.asset_check_keys}
    assert all(e.passed for e in evaluations)

    with duckdb.connect(str(warehouse), read_only=True) as db:
        tables = db.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('main', 'raw') and table_name not like '\\_dlt%' escape '\\'"
        ).fetchall()
        counts = {
            f"{s}.{t}": db.execute(f"select count(*) from {s}.{t}").fetchone()[0] for s, t in tables
        }
    assert len(counts) == 12
    assert all(n > 0 for n in counts.values()), counts
    assert counts["raw.orders"] + counts["raw.customers"] + counts["raw.payments"] >= 5000
