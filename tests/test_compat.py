"""The non-public Dagster/dagster-dbt APIs wrapped in floe_dagster.compat still behave."""

import json
from contextlib import contextmanager

import pytest
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from floe_dagster.assets.partitions import build_partitions
from floe_dagster.assets.translator import FloeDbtTranslator
from floe_dagster.compat import (
    DbtSelector,
    checks_surviving_metadata_rewrite,
    dagster_stub_asset,
    dbt_assets_for_unique_ids,
    is_valid_cron,
    is_valid_tag_key,
    submit_asset_run,
)
from floe_dagster.definitions import load_plan
from tests.conftest import DEMO
from tests.test_run_keys import instance_at, storage_home  # noqa: F401


def test_cron_check_accepts_five_fields_and_rejects_nonsense():
    assert is_valid_cron("0 6 * * *")
    assert is_valid_cron("*/15 * * * 1-5")
    assert not is_valid_cron("0 25 * * *")
    assert not is_valid_cron("every day")


def test_tag_key_check_accepts_dbt_style_tags_and_rejects_spaces():
    assert is_valid_tag_key("staging")
    assert is_valid_tag_key("team.sales-data")
    assert not is_valid_tag_key("has space")


def test_dbt_selection_resolves_path_tag_and_graph_operators(demo_manifest):
    selector = DbtSelector(json.loads(demo_manifest.read_text()), DEMO)
    selected = selector.select("path:models/staging")
    assert {u for u in selected if u.startswith("model.")} == {
        f"model.customer_360.stg_{t}" for t in ("customers", "orders", "payments")
    }
    upstream = selector.select("+fct_daily_revenue", exclude="path:models/staging")
    assert "model.customer_360.int_order_payments" in upstream
    assert "model.customer_360.stg_orders" not in upstream


def test_run_storage_connection_reaches_the_instance_runs_table(dagster_home):
    import sqlalchemy as sa
    from dagster import DagsterInstance, DagsterRun

    from floe_dagster.compat import run_storage_connection

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.add_run(DagsterRun(job_name="compat_probe"))
        with run_storage_connection(instance) as conn:
            names = conn.execute(sa.text("SELECT pipeline_name FROM runs")).scalars().all()
            assert conn.dialect.name == "sqlite"
    assert names == ["compat_probe"]


@pytest.mark.parametrize("select", ["fqn:*", "stg_orders fct_orders dim_customers"])
def test_dbt_assets_for_resolved_ids_builds_what_dbt_assets_builds(demo_manifest, select):
    manifest = json.loads(demo_manifest.read_text())
    translator = DagsterDbtTranslator()
    ids = DbtSelector(manifest, DEMO).select(select)

    @dbt_assets(manifest=manifest, select=select, name="step", dagster_dbt_translator=translator)
    def theirs(context, dbt: DbtCliResource): ...

    @dbt_assets_for_unique_ids(
        manifest=manifest, translator=translator, unique_ids=ids, select=select, name="step"
    )
    def ours(context, dbt: DbtCliResource): ...

    assert_built_alike(ours, theirs)


def test_dbt_assets_for_resolved_ids_builds_what_dbt_assets_builds_under_floes_translator(
    demo_manifest,
):
    plan = load_plan("customer_360", DEMO)
    partitions = build_partitions(plan.files.artifacts.dagster.partition_schemes)
    translator = FloeDbtTranslator(plan, partitions)
    selector = DbtSelector(plan.manifest, DEMO)
    for group in plan.dbt_groups:  # the selections the demo's steps are built from
        select = " ".join(sorted(plan.manifest["nodes"][u]["name"] for u in group.unique_ids))
        partitions_def = partitions.get(group.partition_scheme) if group.partition_scheme else None

        @dbt_assets(
            manifest=plan.manifest,
            select=select,
            name=group.name,
            dagster_dbt_translator=translator,
            partitions_def=partitions_def,
        )
        def theirs(context, dbt: DbtCliResource): ...

        @dbt_assets_for_unique_ids(
            manifest=plan.manifest,
            translator=translator,
            unique_ids=selector.select(select),
            select=select,
            name=group.name,
            partitions_def=partitions_def,
        )
        def ours(context, dbt: DbtCliResource): ...

        assert_built_alike(ours, theirs)


def assert_built_alike(ours, theirs) -> None:
    assert {s.key: s for s in ours.specs} == {s.key: s for s in theirs.specs}
    assert {c.key: c for c in ours.check_specs} == {c.key: c for c in theirs.check_specs}
    assert ours.op.tags == theirs.op.tags
    assert ours.partitions_def == theirs.partitions_def
    assert ours.can_subset and ours.node_keys_by_input_name == theirs.node_keys_by_input_name


def test_a_predefined_stub_is_the_asset_dagster_creates_for_a_dangling_dependency():
    from dagster import AssetDep, AssetKey, Definitions, asset

    metadata = {"dagster/table_name": "db.raw.orders"}

    @asset(deps=[AssetDep("raw_orders", metadata=metadata)])
    def orders(): ...

    theirs = Definitions(assets=[orders]).get_repository_def().asset_graph
    ours = Definitions(assets=[orders, dagster_stub_asset(AssetKey("raw_orders"), metadata)])
    node, expected = (
        ours.get_repository_def().asset_graph.get(AssetKey("raw_orders")),
        theirs.get(AssetKey("raw_orders")),
    )
    assert list(node.assets_def.specs) == list(expected.assets_def.specs)
    assert (node.is_external, node.is_materializable, node.child_keys) == (
        expected.is_external,
        expected.is_materializable,
        expected.child_keys,
    )


@pytest.fixture
def event_instance(storage_home):
    """A real instance on SQLite or on a fresh PostgreSQL database."""
    with instance_at(storage_home) as instance:
        yield instance


def test_latest_partition_materializations_of_many_assets_in_one_statement(event_instance):
    from dagster import AssetKey, AssetMaterialization

    from floe_dagster.compat import latest_partition_materializations

    a, b = AssetKey(["x", "a"]), AssetKey("b")
    for key, partition, code in [
        (a, "p1", "v1"),
        (a, "p1", "v2"),
        (b, "p2", None),
        (b, "p9", "v1"),
    ]:
        tags = {"dagster/code_version": code} if code else {}
        event_instance.report_runless_asset_event(
            AssetMaterialization(key, partition=partition, tags=tags)
        )
    latest = {k: event_instance.fetch_materializations(k, limit=3).records for k in (a, b)}
    with count_statements() as statements:
        found = latest_partition_materializations(event_instance, [a, b], ["p1", "p2", "p3"])
    assert len(statements) == 1
    a_p1, b_p2 = latest[a][0], next(r for r in latest[b] if r.partition_key == "p2")
    assert found == {
        (a, "p1"): (a_p1.storage_id, pytest.approx(a_p1.timestamp, abs=1e-3), "v2"),
        (b, "p2"): (b_p2.storage_id, pytest.approx(b_p2.timestamp, abs=1e-3), None),
    }


def test_code_version_is_read_from_a_whole_event_on_other_sql_storages():
    from dagster import AssetKey
    from dagster._serdes import serialize_value

    from bench.staleness import materialization_entry
    from floe_dagster.compat import _code_version_from_event

    tagged = materialization_entry(AssetKey("a"), "p1", "v7", 0.0)
    untagged = materialization_entry(AssetKey("a"), "p1", None, 0.0)
    assert _code_version_from_event(serialize_value(tagged)) == "v7"
    assert _code_version_from_event(serialize_value(untagged)) is None


def test_attempts_since_materialization_are_planned_events_no_materialization_followed(
    event_instance,
):
    from dagster import AssetKey, AssetMaterialization, DagsterEventType, DagsterRun
    from dagster._core.events import AssetMaterializationPlannedData, DagsterEvent

    from floe_dagster.compat import attempts_since_materialization

    key = AssetKey("a")

    def plan(run_id: str, partition: str) -> None:
        event_instance.add_run(DagsterRun(job_name="probe", run_id=run_id))
        event_instance.report_dagster_event(
            DagsterEvent(
                event_type_value=DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value,
                job_name="probe",
                event_specific_data=AssetMaterializationPlannedData(key, partition=partition),
            ),
            run_id=run_id,
        )

    plan("run-before", "p1")
    event_instance.report_runless_asset_event(AssetMaterialization(key, partition="p1"))
    plan("run-after", "p1")
    plan("run-never-materialized", "p2")
    plan("run-outside", "p3")
    with count_statements() as statements:
        found = attempts_since_materialization(event_instance, [key], ["p1", "p2"])
    assert len(statements) == 1
    assert sorted((p, run_id) for _, p, run_id, _ in found) == [
        ("p1", "run-after"),
        ("p2", "run-never-materialized"),
    ]


def test_latest_check_evaluations_give_each_checks_last_evaluation(event_instance):
    from dagster import AssetCheckEvaluation, AssetCheckKey, AssetKey

    from floe_dagster.compat import latest_check_evaluations

    keys = [AssetCheckKey(AssetKey(name), "c") for name in ("a", "b", "never")]
    for check_key, digest in [(keys[0], "1"), (keys[0], "2"), (keys[1], "3")]:
        event_instance.report_runless_asset_event(
            AssetCheckEvaluation(
                asset_key=check_key.asset_key, check_name="c", passed=True, metadata={"d": digest}
            )
        )
    with count_statements() as statements:
        found = latest_check_evaluations(event_instance, keys)
    assert len(statements) == 1
    assert {k: v.metadata["d"].value for k, v in found.items()} == {keys[0]: "2", keys[1]: "3"}


@contextmanager
def count_statements():
    import sqlalchemy as sa

    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)


PROBE_DEFINITIONS = """
from dagster import Definitions, asset

@asset
def upstream(): ...

@asset(deps=[upstream])
def downstream(): ...

defs = Definitions(assets=[upstream, downstream])
"""


def test_submit_asset_run_queues_a_run_of_just_the_selected_assets(tmp_path):
    from dagster import AssetKey, DagsterInstance, DagsterRunStatus

    code = tmp_path / "code"
    code.mkdir()
    (code / "definitions.py").write_text(PROBE_DEFINITIONS)
    queued = {"run_coordinator": {"module": "dagster", "class": "QueuedRunCoordinator"}}
    with DagsterInstance.local_temp(str(tmp_path), overrides=queued) as instance:
        run_id = submit_asset_run(
            instance,
            python_file=code / "definitions.py",
            working_directory=code,
            location_name="probe",
            asset_keys=frozenset({AssetKey("downstream")}),
            run_config={},
            tags={"floe/probe": "yes"},
        )
        run = instance.get_run_by_id(run_id)
        plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    assert run.status == DagsterRunStatus.QUEUED
    assert (run.job_name, run.asset_selection) == ("__ASSET_JOB", {AssetKey("downstream")})
    assert run.tags["floe/probe"] == "yes"
    assert run.remote_job_origin.location_name == "probe"
    assert [step.key for step in plan.steps] == ["downstream"]


def test_a_multi_asset_check_stays_one_definition_through_dgs_metadata_rewrite():
    from dagster import AssetCheckResult, AssetCheckSpec, Definitions, multi_asset_check

    specs = [AssetCheckSpec("fresh", asset=name) for name in ("a", "b", "c")]

    @multi_asset_check(specs=specs, can_subset=True)
    def one_step():
        yield from (AssetCheckResult(passed=True, asset_key=s.asset_key) for s in specs)

    defs = Definitions(asset_checks=[checks_surviving_metadata_rewrite(one_step)])
    # what dg does to every component's definitions
    rewritten = defs.with_definition_metadata_update(lambda metadata: {**metadata, "origin": 1})
    by_key = rewritten.get_repository_def().asset_checks_defs_by_key
    assert len(by_key) == 3
    assert len({id(checks) for checks in by_key.values()}) == 1
    assert all(spec.metadata["origin"] == 1 for spec in next(iter(by_key.values())).check_specs)
