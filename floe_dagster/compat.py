"""The only place this package touches non-public Dagster or dagster-dbt APIs.

Each wrapper says why; tests/test_compat.py fails if one of them changes shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC
from functools import cache
from pathlib import Path
from typing import Any

from floe_dagster.names import CODE_VERSION_TAG


def is_valid_cron(expression: str) -> bool:
    """Dagster's own cron check, so the contract rejects exactly what a schedule would.

    Public API only offers it by constructing a ScheduleDefinition, which raises a
    Dagster error without the field path we want to report.
    """
    from dagster._utils.schedules import is_valid_cron_string

    return is_valid_cron_string(expression)


def is_valid_tag_key(key: str) -> bool:
    """Dagster's tag-key rule, as dagster-dbt applies it to dbt tags, for floe's model tags.

    Dagster exposes no public check; an invalid key would fail the whole definitions load.
    """
    from dagster._utils.tags import is_valid_tag_key as dagster_rule

    return dagster_rule(key)


class DbtSelector:
    """dbt's own node selector over one manifest: built once, then asked each selection.

    dagster-dbt resolves selections with dbt's selector too (`select_unique_ids`, not
    exported), but builds dbt's Manifest and graph on every call: over a second per
    selection at 10,000 models. This builds the same objects the same way, once. The
    project root is set so that `path:` selectors match, as they do under `dbt ls`.
    """

    def __init__(self, manifest: Mapping[str, Any], project_dir: Path) -> None:
        import dbt.graph.selector as graph_selector
        from dagster_dbt.utils import _GRAPH_MEMBER_COLLECTIONS
        from dbt.contracts.graph.manifest import Manifest
        from dbt.contracts.graph.nodes import (
            FunctionNode,
            SavedQuery,
            SemanticModel,
            UnitTestDefinition,
        )
        from networkx import DiGraph

        def shims(collection: str) -> dict[str, Any]:
            return {uid: _DictShim(info) for uid, info in manifest.get(collection, {}).items()}

        def parsed(collection: str, cls: Any) -> dict[str, Any]:
            return {uid: cls.from_dict(info) for uid, info in manifest.get(collection, {}).items()}

        dbt_manifest = Manifest(
            nodes=shims("nodes"),
            sources=shims("sources"),
            metrics=shims("metrics"),
            exposures=shims("exposures"),
            semantic_models=parsed("semantic_models", SemanticModel),
            saved_queries=parsed("saved_queries", SavedQuery),
            unit_tests=parsed("unit_tests", UnitTestDefinition),
            functions=parsed("functions", FunctionNode),
            selectors=shims("selectors"),
        )
        digraph = DiGraph(incoming_graph_data=manifest["child_map"])
        digraph.add_nodes_from(
            uid for collection in _GRAPH_MEMBER_COLLECTIONS for uid in manifest.get(collection, {})
        )
        self._selector = graph_selector.NodeSelector(graph_selector.Graph(digraph), dbt_manifest)
        self._project_dir = project_dir

    def select(self, select: str, exclude: str | None = None) -> set[str]:
        """Unique ids of every node `dbt ls --select SELECT --exclude EXCLUDE` would list."""
        import dbt.graph.cli as graph_cli
        from dagster_dbt.utils import _set_flag_attrs
        from dbt.graph.selector_spec import IndirectSelection
        from dbt_common.events.contextvars import task_contextvars

        _set_flag_attrs({"INDIRECT_SELECTION": IndirectSelection.Eager, "WARN_ERROR": True})
        spec: graph_cli.SelectionSpec = graph_cli.parse_union([select], True)
        if exclude:
            spec = graph_cli.SelectionDifference(
                components=[spec, graph_cli.parse_union([exclude], False)]
            )
        with task_contextvars(project_root=str(self._project_dir)):
            selected, _ = self._selector.select_nodes(spec)
        return set(selected)


class _DictShim(dict):
    """A manifest entry with attribute access, as dbt's selector methods read nodes."""

    def __getattr__(self, item: str) -> Any:
        value = self.get(item)
        return _DictShim(value) if isinstance(value, dict) else value


def dbt_assets_for_unique_ids(
    *,
    manifest: Mapping[str, Any],
    translator: Any,
    unique_ids: AbstractSet[str],
    select: str,
    **multi_asset_kwargs: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """`@dbt_assets(manifest, select=select, ...)` when `select` is already resolved to ids.

    `@dbt_assets` resolves `select` again with dbt's selector, which matches each term of
    the selection against every node: a list of N model names costs O(N^2), minutes at
    10,000 models. This builds the same asset and check specs (dagster-dbt's
    `build_dbt_specs` loop, not exported) from the resolved ids, and the same op tags: at
    run time dagster-dbt reads `select` from them for `dbt build --select`. `unique_ids`
    must be what dbt resolves `select` to, tests included (eager indirect selection).
    """
    from dagster import multi_asset
    from dagster_dbt.asset_utils import (
        ASSET_RESOURCE_TYPES,
        DAGSTER_DBT_SELECT_METADATA_KEY,
        _build_child_map,
        _validate_asset_keys,
        get_node,
        get_upstream_unique_ids,
        is_non_asset_node,
    )

    specs = []
    check_specs = {}
    key_by_unique_id = {}
    child_map = _build_child_map(manifest)

    def add_check_specs(asset_spec: Any, unique_id: str, selected_only: bool) -> None:
        for child in child_map.get(unique_id, []):
            if not child.startswith("test") or (selected_only and child not in unique_ids):
                continue
            check = translator.get_asset_check_spec(
                asset_spec=asset_spec, manifest=manifest, unique_id=child, project=None
            )
            if check:
                check_specs[check.get_python_identifier()] = check

    for unique_id in sorted(unique_ids):
        props = get_node(manifest, unique_id)
        if is_non_asset_node(props) or props["resource_type"] not in ASSET_RESOURCE_TYPES:
            continue
        spec = translator.get_asset_spec(manifest, unique_id, None)
        key_by_unique_id[unique_id] = spec.key
        specs.append(spec)
        add_check_specs(spec, unique_id, selected_only=True)
        for upstream_id in get_upstream_unique_ids(manifest, props):
            upstream = translator.get_asset_spec(manifest, upstream_id, None)
            key_by_unique_id[upstream_id] = upstream.key
            if (
                upstream_id.startswith("source")
                and translator.settings.enable_source_tests_as_checks
            ):
                add_check_specs(upstream, upstream_id, selected_only=False)
    _validate_asset_keys(translator, manifest, key_by_unique_id)

    op_tags = {DAGSTER_DBT_SELECT_METADATA_KEY: select, **multi_asset_kwargs.pop("op_tags", {})}
    return multi_asset(
        specs=specs,
        check_specs=list(check_specs.values()),
        can_subset=True,
        op_tags=op_tags,
        allow_arbitrary_check_specs=True,
        **multi_asset_kwargs,
    )


def run_storage_connection(instance: Any) -> Any:
    """A SQLAlchemy connection (context manager) to the database of the instance's run storage.

    The run-key reservations must live in the same database as the runs (SQLite file or
    PostgreSQL database) and need an atomic INSERT ... ON CONFLICT, which Dagster's public
    instance API does not offer. `SqlRunStorage.connect()` is how Dagster's own storages
    reach that database; it is not public API. Any SQL run storage (SQLite, PostgreSQL,
    MySQL) has it; anything else is refused with a clear message.
    """
    storage = instance.run_storage
    connect = getattr(storage, "connect", None)
    if connect is None:
        raise TypeError(
            f"run-key reservations need SQL run storage; {type(storage).__name__} has no connect()"
        )
    return connect()


def submit_asset_run(
    instance: Any,
    python_file: Path,
    working_directory: Path,
    location_name: str,
    asset_keys: frozenset,
    run_config: Mapping[str, Any],
    tags: Mapping[str, str],
) -> str:
    """Create a run of the implicit asset job for `asset_keys` and submit it to the instance.

    This is what `dagster job launch` and the sensor daemon do (load the code location,
    resolve the job subset, snapshot its execution plan, `create_run`, `submit_run`);
    neither path is public API for an asset subset with our tags. Returns the run id.
    """
    from dagster._core.definitions.selector import JobSubsetSelector
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import PythonFileTarget

    target = PythonFileTarget(
        python_file=str(python_file),
        attribute=None,
        working_directory=str(working_directory),
        location_name=location_name,
    )
    with WorkspaceProcessContext(instance, target) as process_context:
        workspace = process_context.create_request_context()
        location = workspace.get_code_location(location_name)
        (repo,) = location.get_repositories().values()
        selector = JobSubsetSelector(
            location_name=location_name,
            repository_name=repo.name,
            job_name="__ASSET_JOB",
            op_selection=None,
            asset_selection=set(asset_keys),
        )
        job = location.get_job(selector)
        plan = location.get_execution_plan(
            job, run_config, step_keys_to_execute=None, known_state=None, instance=instance
        )
        run = instance.create_run(
            job_name=job.name,
            run_id=None,
            run_config=run_config,
            resolved_op_selection=job.resolved_op_selection,
            step_keys_to_execute=None,
            status=None,
            op_selection=None,
            root_run_id=None,
            parent_run_id=None,
            tags={**(job.run_tags or {}), **tags},
            job_snapshot=job.job_snapshot,
            execution_plan_snapshot=plan.execution_plan_snapshot,
            parent_job_snapshot=job.parent_job_snapshot,
            remote_job_origin=job.get_remote_origin(),
            job_code_origin=job.get_python_origin(),
            asset_selection=frozenset(asset_keys),
            asset_check_selection=None,
            asset_graph=repo.asset_graph,
        )
        instance.submit_run(run.run_id, workspace)
        return run.run_id


def dagster_stub_asset(key: Any, dep_metadata: Mapping[str, Any]) -> Any:
    """The external asset Dagster creates itself for a dependency no asset defines.

    Dagster makes these while resolving dependencies, and first asks the dependency's step
    for its input name (`input_names_by_node_key`, rebuilt over all of the step's inputs
    per call): quadratic for a dbt step of thousands of models reading dbt sources, and
    paid again for every asset graph built (the repository's, each asset job's). Defining
    the same stub up front (the metadata flag marks it as auto-created) skips all that.
    """
    from dagster import AssetsDefinition, AssetSpec
    from dagster._core.definitions.assets.definition.asset_spec import (
        SYSTEM_METADATA_KEY_AUTO_CREATED_STUB_ASSET,
    )

    metadata = {**dep_metadata, SYSTEM_METADATA_KEY_AUTO_CREATED_STUB_ASSET: True}
    return AssetsDefinition(specs=[AssetSpec(key=key, metadata=metadata)])


_CODE_VERSION_PATH = ("dagster_event", "event_specific_data", "materialization", "tags")


def latest_partition_materializations(
    instance: Any, asset_keys: Sequence[Any], partitions: Sequence[str]
) -> dict[tuple[Any, str], tuple[int, float, str | None]]:
    """(storage id, timestamp, code-version tag) of the latest materialization of every
    (asset, partition) asked for, in one statement.

    Dagster's own reads are per asset key (`get_latest_storage_id_by_partition`,
    `fetch_materializations`), so the staleness tick cost a statement per asset and per
    kind of read. This is the same GROUP BY over the event log's index table (the one every
    SQL event log storage, SQLite, PostgreSQL, MySQL, stores asset events in, indexed by
    asset key, event type and partition) for many assets at once, joined back to the rows
    for their timestamp column; the code-version tag is extracted by the database from the
    event's JSON on SQLite and PostgreSQL, so whole events are neither sent nor parsed.
    """
    import sqlalchemy as db
    from dagster import AssetKey, DagsterEventType
    from dagster._core.storage.event_log.schema import SqlEventLogStorageTable as t

    latest = (
        db.select(db.func.max(t.c.id).label("id"))
        .where(
            t.c.asset_key.in_([k.to_string() for k in asset_keys]),
            t.c.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION.value,
            t.c.partition.in_(list(partitions)),
        )
        .group_by(t.c.asset_key, t.c.partition)
        .subquery()
    )
    found: dict[tuple[Any, str], tuple[int, float, str | None]] = {}
    with instance.event_log_storage.index_connection() as conn:
        code_version = _code_version_column(conn.dialect.name, t.c.event)
        query = db.select(t.c.id, t.c.asset_key, t.c.partition, t.c.timestamp, code_version).join(
            latest, t.c.id == latest.c.id
        )
        for storage_id, key, partition, stamp, code in conn.execute(query):
            if code is not None and conn.dialect.name not in ("sqlite", "postgresql"):
                code = _code_version_from_event(code)
            found[(AssetKey.from_db_string(key), partition)] = (storage_id, _epoch(stamp), code)
    return found


def _code_version_column(dialect: str, event: Any) -> Any:
    import sqlalchemy as db

    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSON

        keys = [*_CODE_VERSION_PATH, CODE_VERSION_TAG]
        return db.func.json_extract_path_text(db.cast(event, JSON), *keys)
    if dialect == "sqlite":
        path = "$." + ".".join(_CODE_VERSION_PATH) + f'."{CODE_VERSION_TAG}"'
        return db.func.json_extract(event, path)
    return event  # another SQL storage: the whole event, parsed here


def _code_version_from_event(body: str) -> str | None:
    import orjson

    entry = orjson.loads(body)
    for part in _CODE_VERSION_PATH:
        entry = (entry or {}).get(part) or {}
    return entry.get(CODE_VERSION_TAG)


def _epoch(stamp: Any) -> float:
    """The event log stores UTC timestamps without a zone (see `_event_insert_timestamp`)."""
    return stamp.replace(tzinfo=UTC).timestamp()


def attempts_since_materialization(
    instance: Any, asset_keys: Sequence[Any], partitions: Sequence[str]
) -> list[tuple[Any, str, str, int]]:
    """(asset key, partition, run id, storage id) of every planned materialization stored
    after the partition's latest materialization, for many assets in one statement.

    Dagster OSS stores no asset-failure events: a failed or running attempt is a planned
    materialization (stored, one per partition, when a run is created) that no
    materialization followed, and its run's status says which. Dagster's partition-status
    cache derives the same from the same events, but per asset, with several statements
    each. Planned events that carry only a partition subset (emitted when
    DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS is set, which Dagster itself says stops
    partitions from being marked failed) have no partition column and are not seen.
    """
    import sqlalchemy as db
    from dagster import AssetKey, DagsterEventType
    from dagster._core.storage.event_log.schema import SqlEventLogStorageTable as t

    m = t.alias("later_materialization")
    latest_materialization = (
        db.select(db.func.max(m.c.id))
        .where(
            m.c.asset_key == t.c.asset_key,
            m.c.partition == t.c.partition,
            m.c.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION.value,
        )
        .scalar_subquery()
    )
    query = db.select(t.c.asset_key, t.c.partition, t.c.run_id, t.c.id).where(
        t.c.asset_key.in_([k.to_string() for k in asset_keys]),
        t.c.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value,
        t.c.partition.in_(list(partitions)),
        t.c.id > db.func.coalesce(latest_materialization, 0),
    )
    with instance.event_log_storage.index_connection() as conn:
        return [
            (AssetKey.from_db_string(key), partition, run_id, storage_id)
            for key, partition, run_id, storage_id in conn.execute(query)
        ]


def latest_check_evaluations(instance: Any, check_keys: Sequence[Any]) -> Mapping[Any, Any]:
    """The latest AssetCheckEvaluation of each check key, in one statement.

    The staleness sensor records its check only when an asset's state changed since the
    last evaluation, so it must read the last evaluation of every asset's check each tick.
    The instance's public `get_asset_check_summary_records` does two statements per check;
    the event log storage's `get_latest_asset_check_execution_by_key` (not public API) does
    one for all of them.
    """
    from dagster import AssetCheckEvaluation

    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(check_keys))
    found = {}
    for check_key, record in records.items():
        event = record.event
        data = event.dagster_event.event_specific_data if event and event.dagster_event else None
        if isinstance(data, AssetCheckEvaluation):  # not a planned evaluation still running
            found[check_key] = data
    return found


def checks_surviving_metadata_rewrite(checks_def: Any) -> Any:
    """`checks_def` as an `AssetChecksDefinition` that stays one when dg rewrites its metadata.

    Under `dg`, every component's definitions go through
    `Definitions.with_definition_metadata_update` (the defs.yaml code reference,
    `dagster/component_origin`). That goes through `AssetsDefinition.with_attributes`, which
    builds its result with `self.__class__.dagster_internal_init`, and that always builds a
    plain `AssetsDefinition`. The repository then rebuilds an `AssetChecksDefinition` once
    per check key, each over all specs (`CachingRepositoryData.get_asset_checks_defs_by_key`),
    and the asset graph holds one copy per key: for the 1,000-spec `partition_staleness`
    check at 5,000 models, 1,000 x 1,000 spec visits. A subclass whose
    `dagster_internal_init` builds the subclass keeps the check one object through the
    rewrite, with the same op, specs and step; the repository then uses it as it is.
    """
    return _rewrite_safe_checks_class().dagster_internal_init(**checks_def.get_attributes_dict())


@cache
def _rewrite_safe_checks_class() -> Any:
    import warnings

    from dagster import AssetChecksDefinition, BetaWarning, PreviewWarning

    class RewriteSafeChecksDefinition(AssetChecksDefinition):
        @staticmethod
        def dagster_internal_init(**attributes: Any) -> AssetChecksDefinition:
            with warnings.catch_warnings():  # as Dagster's own dagster_internal_init does
                warnings.simplefilter("ignore", category=PreviewWarning)
                warnings.simplefilter("ignore", category=BetaWarning)
                return RewriteSafeChecksDefinition(**attributes)

    return RewriteSafeChecksDefinition
