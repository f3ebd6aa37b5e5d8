"""floe's per-model `quality_checks` as Dagster asset checks, evaluated by SQL in the warehouse.

floe attaches checks to a model in floe.yaml (`transforms[].quality_checks`) and carries
them into `transforms.models[].quality_checks`. dbt tests already become asset checks
(dagster-dbt); these are the checks floe defines beyond them. Each checked model gets one
check step that runs after the model materializes, opens the DuckDB file read-only only
while it runs (DuckDB products run one step at a time), and reports one evaluation per
check with the rows checked and failed, floe's dimension and floe's severity.

- severity `critical` -> ERROR and blocking (unless this package's `quality.blocking` is
  off): assets downstream of the model that run in a *later step* of the same run do not
  run. Models built in the same dbt step are already built when the check runs; a check
  that must gate those belongs in dbt as an error-severity test.
- `warning` / `info` -> WARN, never blocking.
- A partitioned model is checked as a whole table: which column holds the partition
  window is not known here, so a check sees every partition, not only the run's.
- A type this package cannot evaluate, parameters it cannot use, a compute other than
  DuckDB, or a check floe's own rule makes redundant (a dbt test of the same type on the
  same column takes precedence) is not dropped silently: it is a load warning naming the
  model, the check and why, and no asset check is built for it.
"""

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    Failure,
    multi_asset_check,
)

from floe_dagster.contract.floe_quality import QualityCheck
from floe_dagster.errors import Problem
from floe_dagster.execution.policies import retry_policy, step_op_tags
from floe_dagster.loading.profiles import duckdb_file
from floe_dagster.loading.project import ARTIFACTS_FILE, ProductFiles
from floe_dagster.names import (
    CHECK_COLUMN_KEY,
    CHECK_DIMENSION_KEY,
    CHECK_NAME_KEY,
    CHECK_SEVERITY_KEY,
    CHECK_TYPE_KEY,
    model_key,
    step_labels,
)

if TYPE_CHECKING:
    from floe_dagster.loading.plan import ProductPlan

STEP_SUFFIX = "floe_quality"
WHOLE_TABLE = "whole table (the partition column is not known here)"


@dataclass(frozen=True)
class _Measure:
    """What one evaluation found: rows seen, rows failing (None for table-level checks)."""

    rows_checked: int
    rows_failed: int | None
    passed: bool
    observed: Any = None


@dataclass(frozen=True)
class _Kind:
    """How floe's check type is evaluated: needs a column? which parameters? what SQL?"""

    column: bool
    problems: Callable[[dict[str, Any]], list[tuple[str, str]]]
    measure: Callable[[duckdb.DuckDBPyConnection, str, str | None, dict[str, Any]], _Measure]


@dataclass(frozen=True)
class PlannedCheck:
    """One floe check this package evaluates: the model it is on, its Dagster check name."""

    model: str
    unique_id: str
    check_name: str
    check: QualityCheck
    relation: str
    schema: str
    table: str


# --- evaluation --------------------------------------------------------------------------


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _rows_failing(
    db: duckdb.DuckDBPyConnection, relation: str, where: str, args: list
) -> tuple[int, int]:
    row = db.execute(
        f"select count(*), count(*) filter (where {where}) from {relation}", args
    ).fetchone()
    assert row is not None  # an aggregate always returns one row
    return int(row[0]), int(row[1])


def _column_result(checked: int, failed: int, parameters: dict[str, Any]) -> _Measure:
    """Passed when no row fails, or at least `mostly` of them pass (Great Expectations' `mostly`)."""
    mostly = parameters.get("mostly")
    if mostly is None or checked == 0:
        return _Measure(checked, failed, failed == 0)
    return _Measure(checked, failed, (checked - failed) / checked >= float(mostly))


def _not_null(db, relation, column, parameters) -> _Measure:
    return _column_result(*_rows_failing(db, relation, f"{column} is null", []), parameters)


def _unique(db, relation, column, parameters) -> _Measure:
    """Rows whose (non-null) value occurs more than once; nulls pass, as in dbt's test."""
    row = db.execute(
        f"select (select count(*) from {relation}), coalesce(sum(n), 0) from "
        f"(select count(*) as n from {relation} where {column} is not null "
        f"group by {column} having count(*) > 1)"
    ).fetchone()
    return _column_result(int(row[0]), int(row[1]), parameters)


def _values(parameters: dict[str, Any]) -> list:
    return list(parameters.get("values", parameters.get("value_set")) or [])


def _in_set(db, relation, column, parameters) -> _Measure:
    values = _values(parameters)
    marks = ", ".join("?" for _ in values)
    where = f"{column} is not null and {column} not in ({marks})"
    return _column_result(*_rows_failing(db, relation, where, values), parameters)


def _bounds_sql(subject: str, parameters: dict[str, Any]) -> tuple[str, list]:
    """`subject` outside [min_value, max_value] (strict_min / strict_max exclude the bound)."""
    parts, args = [], []
    if parameters.get("min_value") is not None:
        parts.append(f"{subject} {'<=' if parameters.get('strict_min') else '<'} ?")
        args.append(parameters["min_value"])
    if parameters.get("max_value") is not None:
        parts.append(f"{subject} {'>=' if parameters.get('strict_max') else '>'} ?")
        args.append(parameters["max_value"])
    return " or ".join(parts), args


def _between(db, relation, column, parameters) -> _Measure:
    outside, args = _bounds_sql(column, parameters)
    where = f"{column} is not null and ({outside})"
    return _column_result(*_rows_failing(db, relation, where, args), parameters)


def _regex(db, relation, column, parameters) -> _Measure:
    where = f"{column} is not null and not regexp_matches(cast({column} as varchar), ?)"
    return _column_result(*_rows_failing(db, relation, where, [parameters["regex"]]), parameters)


def _in_bounds(value: Any, parameters: dict[str, Any]) -> bool:
    if value is None:
        return False
    low, high = parameters.get("min_value"), parameters.get("max_value")
    too_low = low is not None and (value <= low if parameters.get("strict_min") else value < low)
    too_high = high is not None and (
        value >= high if parameters.get("strict_max") else value > high
    )
    return not (too_low or too_high)


def _aggregate(function: str) -> Callable[..., _Measure]:
    """min / max / avg of the column within the bounds, compared in SQL (dates work too)."""

    def measure(db, relation, column, parameters) -> _Measure:
        outside, args = _bounds_sql("v", parameters)
        rows, value, passed = db.execute(
            f"select n, v, v is not null and not ({outside}) from "
            f"(select count(*) as n, {function}({column}) as v from {relation})",
            args,
        ).fetchone()
        return _Measure(int(rows), None, bool(passed), value)

    return measure


def _row_count(db, relation, column, parameters) -> _Measure:
    (rows,) = db.execute(f"select count(*) from {relation}").fetchone()
    return _Measure(int(rows), None, _in_bounds(int(rows), parameters), int(rows))


def _column_exists(db, relation, column, parameters) -> _Measure:
    cursor = db.execute(f"select * from {relation} limit 0")
    names = {d[0].lower() for d in cursor.description}
    wanted = parameters["_column"].lower()
    return _Measure(0, None, wanted in names, sorted(names))


# --- parameter checks (at load, so a bad check is a warning, not a failed run) -----------


def _no_parameters(parameters: dict[str, Any]) -> list[tuple[str, str]]:
    return _mostly(parameters)


def _mostly(parameters: dict[str, Any]) -> list[tuple[str, str]]:
    mostly = parameters.get("mostly")
    if mostly is not None and not (_is_number(mostly) and 0 <= mostly <= 1):
        return [("parameters.mostly", f"is {mostly!r}; give a fraction between 0 and 1")]
    return []


def _needs_values(parameters: dict[str, Any]) -> list[tuple[str, str]]:
    values = parameters.get("values", parameters.get("value_set"))
    if not isinstance(values, list) or not values:
        return [("parameters.values", "must be a non-empty list of the accepted values")]
    return _mostly(parameters)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _needs_bounds(numbers_only: bool) -> Callable[[dict[str, Any]], list[tuple[str, str]]]:
    def problems(parameters: dict[str, Any]) -> list[tuple[str, str]]:
        given = {k: parameters.get(k) for k in ("min_value", "max_value")}
        if all(v is None for v in given.values()):
            return [("parameters", "needs `min_value`, `max_value` or both")]
        found = []
        for key, value in given.items():
            if value is None:
                continue
            if numbers_only and not _is_number(value):
                found.append((f"parameters.{key}", f"is {value!r}; give a number"))
            elif not (_is_number(value) or isinstance(value, str)):
                found.append((f"parameters.{key}", f"is {value!r}; give a number or an ISO date"))
        return found + _mostly(parameters)

    return problems


def _needs_regex(parameters: dict[str, Any]) -> list[tuple[str, str]]:
    regex = parameters.get("regex")
    if not isinstance(regex, str) or not regex:
        return [("parameters.regex", "must be the regular expression values must match")]
    try:
        re.compile(regex)
    except re.error as exc:
        return [("parameters.regex", f"is not a valid regular expression: {exc}")]
    return _mostly(parameters)


# floe's check type names (floe_core.compilation.dbt_test_mapper); `row_count` is an alias.
KINDS: dict[str, _Kind] = {
    "not_null": _Kind(True, _no_parameters, _not_null),
    "unique": _Kind(True, _no_parameters, _unique),
    "accepted_values": _Kind(True, _needs_values, _in_set),
    "expect_column_values_to_be_in_set": _Kind(True, _needs_values, _in_set),
    "expect_column_values_to_be_between": _Kind(True, _needs_bounds(False), _between),
    "expect_column_values_to_match_regex": _Kind(True, _needs_regex, _regex),
    "expect_column_min_to_be_between": _Kind(True, _needs_bounds(False), _aggregate("min")),
    "expect_column_max_to_be_between": _Kind(True, _needs_bounds(False), _aggregate("max")),
    "expect_column_mean_to_be_between": _Kind(True, _needs_bounds(True), _aggregate("avg")),
    "expect_column_to_exist": _Kind(True, lambda p: [], _column_exists),
    "expect_table_row_count_to_be_between": _Kind(False, _needs_bounds(True), _row_count),
    "row_count": _Kind(False, _needs_bounds(True), _row_count),
}


# --- planning -----------------------------------------------------------------------------


def plan_floe_checks(files: ProductFiles) -> tuple[list[PlannedCheck], list[Problem]]:
    """The floe checks that become asset checks, and a warning for each one that cannot."""
    artifacts = files.artifacts
    models = artifacts.transforms.models if artifacts.transforms else []
    where = str(files.project_dir / ARTIFACTS_FILE)
    nodes = {
        node["name"]: (uid, node)
        for uid, node in files.manifest["nodes"].items()
        if node["resource_type"] == "model"
    }
    dbt_tests = _dbt_tests_by_model(files.manifest)
    compute = artifacts.plugins.compute.type
    planned: list[PlannedCheck] = []
    warnings: list[Problem] = []
    for i, model in enumerate(models):
        checks = [(j, c) for j, c in enumerate(model.quality_checks or []) if c.enabled]
        if not checks or model.name not in nodes:
            continue  # a model missing from the manifest is already a load error
        uid, node = nodes[model.name]
        tests = dbt_tests.get(uid, _DbtTests({}, set()))
        taken: set[str] = set()
        for j, check in checks:
            name = re.sub(r"[^A-Za-z0-9_]", "_", check.name)
            unevaluated = _why_not_evaluated(check, name, node, compute, tests, taken)
            if unevaluated is not None:
                field, why = unevaluated
                warnings.append(
                    Problem(
                        where,
                        f"transforms.models[{i}].quality_checks[{j}]{'.' + field if field else ''}",
                        f"floe quality check {check.name!r} on model {model.name!r} is not "
                        f"evaluated: {why}",
                    )
                )
                continue
            taken.add(name)
            schema, table = node["schema"], node.get("alias") or node["name"]
            planned.append(
                PlannedCheck(
                    model=model.name,
                    unique_id=uid,
                    check_name=name,
                    check=check,
                    relation=f"{_quote(schema)}.{_quote(table)}",
                    schema=schema,
                    table=table,
                )
            )
    return planned, warnings


def _why_not_evaluated(
    check: Any, name: str, node: dict[str, Any], compute: str, tests: "_DbtTests", taken: set[str]
) -> tuple[str, str] | None:
    """The field at fault and why, when a floe check gets no asset check; None when it gets one."""
    kind = KINDS.get(check.type)
    if compute != "duckdb":
        return (
            "",
            f"plugins.compute.type is {compute!r} and this package evaluates floe "
            "quality checks on DuckDB only; write it as a dbt test (dbt tests become "
            "asset checks on any warehouse)",
        )
    if kind is None:
        return (
            "type",
            f"type {check.type!r} is not one this package can evaluate (it can: "
            f"{', '.join(sorted(KINDS))}); write it as a dbt test, or use one of those",
        )
    if node.get("config", {}).get("materialized") == "ephemeral":
        return "", "the model is ephemeral, so there is no table to check"
    if kind.column and not check.column:
        return "column", f"type {check.type!r} checks a column: name it in `column`"
    problems = kind.problems(check.parameters)
    if problems:
        return problems[0]
    duplicate = tests.by_signature.get((check.type, check.column))
    if duplicate:
        return (
            "",
            f"dbt test {duplicate!r} checks the same ({check.type} on "
            f"{check.column or 'the table'}) and, by floe's rule, takes precedence (it "
            "runs with the model's dbt step); remove one of the two",
        )
    if name in taken or name in tests.names:
        return (
            "name",
            f"another check on this model is already named {name!r} as a Dagster "
            "check name (only letters, digits and `_`); rename one of them",
        )
    return None


def check_warnings(files: ProductFiles) -> list[Problem]:
    """The load warnings for floe quality checks that get no asset check (see module doc)."""
    return plan_floe_checks(files)[1]


@dataclass
class _DbtTests:
    """One model's dbt tests: test name by (type, column), and every name (Dagster's check names)."""

    by_signature: dict[tuple[str, str | None], str]
    names: set[str]


def _dbt_tests_by_model(manifest: Mapping[str, Any]) -> dict[str, _DbtTests]:
    found: dict[str, _DbtTests] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or not node.get("test_metadata"):
            continue
        attached = node.get("attached_node") or next(
            iter(node.get("depends_on", {}).get("nodes", [])), None
        )
        if attached is None:
            continue
        mine = found.setdefault(attached, _DbtTests({}, set()))
        mine.by_signature[(node["test_metadata"]["name"], node.get("column_name"))] = node["name"]
        mine.names.add(node["name"])
    return found


# --- Dagster ------------------------------------------------------------------------------


def build_floe_quality_checks(plan: "ProductPlan") -> list[AssetChecksDefinition]:
    """One check step per model with floe checks this package evaluates (see module doc)."""
    planned, _ = plan_floe_checks(plan.files)
    by_model: dict[str, list[PlannedCheck]] = {}
    for item in planned:
        by_model.setdefault(item.model, []).append(item)
    return [_model_checks(plan, items) for _, items in sorted(by_model.items())]


def _severity(check: QualityCheck) -> AssetCheckSeverity:
    return AssetCheckSeverity.ERROR if check.severity == "critical" else AssetCheckSeverity.WARN


def _spec_metadata(item: PlannedCheck) -> dict[str, str]:
    check = item.check
    metadata = {
        CHECK_NAME_KEY: check.name,
        CHECK_TYPE_KEY: check.type,
        CHECK_DIMENSION_KEY: check.dimension,
        CHECK_SEVERITY_KEY: check.severity,
    }
    if check.column:
        metadata[CHECK_COLUMN_KEY] = check.column
    return metadata


def _model_checks(plan: "ProductPlan", items: list[PlannedCheck]) -> AssetChecksDefinition:
    artifacts = plan.files.artifacts
    prefix = artifacts.asset_key_prefix
    settings = plan.model_settings.get(items[0].unique_id)
    blocking_allowed = artifacts.dagster.quality.blocking
    key = model_key(prefix, items[0].model)
    specs = [
        AssetCheckSpec(
            item.check_name,
            asset=key,
            blocking=blocking_allowed and item.check.severity == "critical",
            description=_describe(item),
            metadata=_spec_metadata(item),
        )
        for item in items
    ]
    by_key = {AssetCheckKey(key, item.check_name): item for item in items}
    execution = artifacts.dagster.execution
    step = f"{plan.name}_{STEP_SUFFIX}_{items[0].model}"
    project_dir = plan.project_dir
    scope = WHOLE_TABLE if settings is not None and settings.partition_scheme else "whole table"

    @multi_asset_check(
        specs=specs,
        name=step,
        can_subset=True,
        retry_policy=retry_policy(execution),
        pool=settings.pool if settings is not None else None,
        op_tags=step_op_tags(
            execution, execution.default_workload_size, step_labels(plan.name, step)
        ),
        description=f"floe quality checks of {items[0].model}, by SQL on its table.",
    )
    def _checks(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
        selected = [by_key[k] for k in context.selected_asset_check_keys if k in by_key]
        path = duckdb_file(artifacts, project_dir)
        with _read_only(path) as db:
            for item in selected:
                yield _evaluate(db, key, item, scope)

    return _checks


def _describe(item: PlannedCheck) -> str:
    check = item.check
    on = f" on column {check.column}" if check.column else ""
    return (
        f"floe quality check {check.name}: {check.type}{on} ({check.dimension}, {check.severity})"
    )


class _read_only:
    """The DuckDB file opened read-only for one check step, closed when the step ends."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        if not self._path.is_file():
            raise Failure(
                f"DuckDB file {self._path} does not exist, so floe quality checks have no "
                "table to read; materialize the model first (FLOE_DUCKDB_PATH, if set, "
                "overrides plugins.compute.config.path)"
            )
        try:
            self._db = duckdb.connect(str(self._path), read_only=True)
        except duckdb.Error as exc:
            raise Failure(
                f"cannot open DuckDB file {self._path} read-only: {exc}. DuckDB allows one "
                "writer: run nothing else against this file while the checks run"
            ) from exc
        return self._db

    def __exit__(self, *exc: object) -> None:
        self._db.close()


def _evaluate(
    db: duckdb.DuckDBPyConnection, key: AssetKey, item: PlannedCheck, scope: str
) -> AssetCheckResult:
    check = item.check
    kind = KINDS[check.type]
    column = _quote(check.column) if check.column else None
    parameters = {**check.parameters, "_column": check.column or ""}
    metadata: dict[str, Any] = {
        "dimension": check.dimension,
        "floe_severity": check.severity,
        "check_type": check.type,
        "relation": f"{item.schema}.{item.table}",
        "scope": scope,
    }
    if check.column:
        metadata["column"] = check.column
    try:
        measure = kind.measure(db, item.relation, column, parameters)
    except duckdb.Error as exc:
        return AssetCheckResult(
            asset_key=key,
            check_name=item.check_name,
            passed=False,
            severity=_severity(check),
            description=f"could not be evaluated on {item.schema}.{item.table}: {exc}",
            metadata={**metadata, "error": str(exc)},
        )
    metadata["rows_checked"] = measure.rows_checked
    if measure.rows_failed is not None:
        metadata["rows_failed"] = measure.rows_failed
    if measure.observed is not None:
        observed = measure.observed
        metadata["observed_value"] = (
            observed if isinstance(observed, (int, float)) else str(observed)
        )
    if measure.rows_failed is not None:
        outcome = f"{measure.rows_failed} of {measure.rows_checked} rows failed"
    else:
        outcome = f"observed {measure.observed!r}"
    return AssetCheckResult(
        asset_key=key,
        check_name=item.check_name,
        passed=measure.passed,
        severity=_severity(check),
        description=f"{_describe(item)}: {outcome}",
        metadata=metadata,
    )
