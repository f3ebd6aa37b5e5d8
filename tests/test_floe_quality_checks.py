"""floe's `quality_checks` become asset checks; `quality_config` gates become load warnings.

One copy of the demo with floe checks on dim_customers and fct_orders, one real
materialization through the dagster CLI, then one behaviour per test read from the instance.
"""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
)

from floe_dagster.assets.floe_quality_checks import build_floe_quality_checks, check_warnings
from floe_dagster.definitions import load_plan
from floe_dagster.loading.project import read_product_files
from floe_dagster.loading.quality_gates import gate_warnings
from tests.conftest import DEMO, REPO, cli_env, floe_dagster_settings

pytestmark = pytest.mark.slow

PREFIX = ["sales", "customer_360"]
DIM = AssetKey([*PREFIX, "dim_customers"])
FCT = AssetKey([*PREFIX, "fct_orders"])


def qc(name: str, type_: str, dimension: str, severity: str = "warning", column=None, **kw) -> dict:
    """A check as floe writes it (floe_core.schemas.quality_score.QualityCheck)."""
    check = {"name": name, "type": type_, "dimension": dimension, "severity": severity}
    if column:
        check["column"] = column
    return {**check, **kw}


CHECKS = {
    "dim_customers": [
        qc("email_present", "not_null", "completeness", column="email"),
        qc("email_unique", "unique", "consistency", "info", column="email"),
        qc(
            "country_known",
            "accepted_values",
            "validity",
            column="country",
            parameters={"values": ["DE"]},
        ),
        qc(
            "lifetime_value_range",
            "expect_column_values_to_be_between",
            "accuracy",
            "critical",
            column="lifetime_value",
            parameters={"max_value": -1},
        ),
        qc("recent", "recency", "timeliness", column="signed_up_on"),
        qc("parked", "not_null", "completeness", column="full_name", enabled=False),
        qc("customer_id_present", "not_null", "completeness", column="customer_id"),
    ],
    "fct_orders": [
        qc(
            "has_orders",
            "expect_table_row_count_to_be_between",
            "completeness",
            "critical",
            parameters={"min_value": 1},
        ),
        qc(
            "small_amounts",
            "expect_column_values_to_be_between",
            "accuracy",
            column="amount",
            parameters={"max_value": 0},
        ),
    ],
}


def with_quality(data: dict[str, Any]) -> None:
    for model in data["transforms"]["models"]:
        if model["name"] in CHECKS:
            model["quality_checks"] = CHECKS[model["name"]]
    data["quality_config"] = {"provider": "great_expectations"}  # floe's default gates
    # country_revenue in a step of its own, so that dim_customers' check runs before it
    floe_dagster_settings(data)["transforms"].append(
        {"select": "country_revenue", "workload_size": "medium"}
    )


@pytest.fixture(scope="module")
def product(tmp_path_factory, demo_manifest) -> Path:
    target = tmp_path_factory.mktemp("floe_quality") / "customer_360"
    shutil.copytree(
        DEMO, target, ignore=shutil.ignore_patterns("target", "warehouse", "logs", "__pycache__")
    )
    (target / "target").mkdir()
    shutil.copy(demo_manifest, target / "target" / "manifest.json")
    path = target / "compiled_artifacts.json"
    data = json.loads(path.read_text())
    with_quality(data)
    path.write_text(json.dumps(data, indent=1))
    return target


@pytest.fixture(scope="module")
def run(product, tmp_path_factory) -> dict[str, Any]:
    """One materialization of everything, for a two-day range; its events and warehouse."""
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    warehouse = home.parent / "wh.duckdb"
    done = subprocess.run(
        ["dagster", "asset", "materialize", "--select", "*",
         "--partition-range", "2026-01-01...2026-01-02", "-f", str(product / "definitions.py")],
        env=cli_env(DAGSTER_HOME=str(home), FLOE_DUCKDB_PATH=str(warehouse)),
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    with DagsterInstance.from_config(str(home)) as instance:
        (record,) = instance.get_runs()
        logs = instance.all_logs(record.run_id)
    evaluations = {
        (e.dagster_event.event_specific_data.asset_key, e.dagster_event.event_specific_data.check_name):
            e.dagster_event.event_specific_data
        for e in logs
        if e.dagster_event and e.dagster_event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    }  # fmt: skip
    materialized = {
        e.dagster_event.asset_key
        for e in logs
        if e.dagster_event and e.dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION
    }
    return dict(
        done=done, status=record.status, evaluations=evaluations,
        materialized=materialized, warehouse=warehouse,
    )  # fmt: skip


@pytest.fixture(scope="module")
def validate(product) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["floe-dagster", "validate", str(product)],
        env=cli_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def scalar(warehouse: Path, sql: str) -> Any:
    with duckdb.connect(str(warehouse), read_only=True) as db:
        return db.execute(sql).fetchone()[0]


def meta(evaluation) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}


# --- floe's own model ----------------------------------------------------------------------


def test_floe_accepts_the_artifacts_with_quality_checks_and_config(product) -> None:
    from floe_core.schemas.compiled_artifacts import CompiledArtifacts

    floe = CompiledArtifacts.model_validate_json((product / "compiled_artifacts.json").read_text())
    checks = {m.name: m.quality_checks for m in floe.transforms.models if m.quality_checks}
    assert {name: len(c) for name, c in checks.items()} == {"dim_customers": 7, "fct_orders": 2}
    assert floe.quality_config is not None


# --- evaluations in a real run -------------------------------------------------------------


def test_a_passing_check_passes_with_rows_dimension_and_severity(run) -> None:
    evaluation = run["evaluations"][(DIM, "email_present")]
    rows = scalar(run["warehouse"], "select count(*) from dim_customers")
    assert evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN
    expected = {
        "rows_checked": rows, "rows_failed": 0, "dimension": "completeness",
        "floe_severity": "warning", "check_type": "not_null", "column": "email",
    }  # fmt: skip
    assert {k: meta(evaluation).get(k) for k in expected} == expected


def test_an_info_check_is_a_warning_severity_check(run) -> None:
    evaluation = run["evaluations"][(DIM, "email_unique")]
    assert evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN
    assert meta(evaluation)["floe_severity"] == "info"


def test_a_failing_accepted_values_check_counts_the_failing_rows(run) -> None:
    evaluation = run["evaluations"][(DIM, "country_known")]
    wrong = scalar(run["warehouse"], "select count(*) from dim_customers where country <> 'DE'")
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN
    assert not evaluation.blocking
    assert wrong > 0
    assert meta(evaluation)["rows_failed"] == wrong
    assert meta(evaluation)["dimension"] == "validity"


def test_a_critical_failure_is_an_error_and_blocks_downstream_assets_in_the_run(run) -> None:
    evaluation = run["evaluations"][(DIM, "lifetime_value_range")]
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.ERROR
    assert evaluation.blocking
    assert meta(evaluation)["floe_severity"] == "critical"
    assert DIM in run["materialized"]
    assert AssetKey([*PREFIX, "country_revenue"]) not in run["materialized"]
    assert run["status"] == DagsterRunStatus.FAILURE
    assert "lifetime_value_range" in run["done"].stderr


def test_a_failing_warning_check_does_not_block_downstream_assets(run) -> None:
    evaluation = run["evaluations"][(FCT, "small_amounts")]
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN
    assert AssetKey([*PREFIX, "int_customer_orders"]) in run["materialized"]


def test_a_row_count_check_on_a_partitioned_model_checks_the_whole_table(run) -> None:
    evaluation = run["evaluations"][(FCT, "has_orders")]
    rows = scalar(run["warehouse"], "select count(*) from fct_orders")
    assert evaluation.passed
    assert meta(evaluation)["rows_checked"] == rows
    assert meta(evaluation)["observed_value"] == rows
    assert "whole table" in meta(evaluation)["scope"]


def test_unbuilt_checks_are_never_evaluated(run) -> None:
    names = {name for key, name in run["evaluations"] if key == DIM}
    assert not names & {"recent", "parked", "customer_id_present"}


# --- warnings ------------------------------------------------------------------------------


def test_an_unsupported_type_is_a_validate_warning_naming_model_and_check(validate) -> None:
    assert validate.returncode == 0, validate.stderr[-3000:]
    lines = [line for line in validate.stderr.splitlines() if "'recent'" in line]
    assert len(lines) == 1, validate.stderr[-3000:]
    assert lines[0].startswith("warning: ")
    assert "'dim_customers'" in lines[0] and "'recency'" in lines[0]
    assert "transforms.models[7].quality_checks[4].type" in lines[0]


def test_a_gold_model_missing_required_test_types_is_a_validate_warning(validate, product) -> None:
    model_file = product / "models" / "marts" / "dim_customers.sql"
    lines = [line for line in validate.stderr.splitlines() if str(model_file) in line]
    assert any(
        "required_tests" in line and "accepted_values, relationships" in line for line in lines
    ), validate.stderr[-3000:]


def test_no_asset_check_is_built_for_unsupported_disabled_or_duplicate_checks(product) -> None:
    checks = build_floe_quality_checks(load_plan("customer_360", product))
    built = {(k.asset_key, k.name) for c in checks for k in c.check_keys}
    assert built == {
        (DIM, "email_present"), (DIM, "email_unique"), (DIM, "country_known"),
        (DIM, "lifetime_value_range"), (FCT, "has_orders"), (FCT, "small_amounts"),
    }  # fmt: skip


def test_a_check_duplicating_a_dbt_test_is_a_warning_as_dbt_takes_precedence(product) -> None:
    (warning,) = [
        w
        for w in check_warnings(read_product_files("customer_360", product))
        if "customer_id_present" in w.message
    ]
    assert "not_null_dim_customers_customer_id" in warning.message


def test_a_compute_other_than_duckdb_is_a_warning_per_check(edit_artifacts) -> None:
    def postgres(data: dict[str, Any]) -> None:
        with_quality(data)
        data["plugins"]["compute"] = {"type": "postgres", "version": "16.0.0", "config": {}}

    warnings = check_warnings(read_product_files("customer_360", edit_artifacts(postgres)))
    enabled = sum(1 for checks in CHECKS.values() for c in checks if c.get("enabled", True))
    assert len(warnings) == enabled
    assert all("'postgres'" in w.message and "DuckDB only" in w.message for w in warnings)


def test_gates_pass_without_warnings_when_the_tests_are_there(edit_artifacts) -> None:
    def bronze_gates(data: dict[str, Any]) -> None:
        data["quality_config"] = {
            "provider": "great_expectations",
            "quality_gates": {"gold": {"required_tests": ["not_null", "unique"]}},
        }

    plan = load_plan("customer_360", edit_artifacts(bronze_gates))
    assert gate_warnings(plan.files, plan.model_settings) == []
