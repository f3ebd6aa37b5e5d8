"""The only place this package touches non-public Dagster or dagster-dbt APIs.

Each wrapper says why; tests/test_compat.py fails if one of them changes shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set as AbstractSet
from pathlib import Path
from typing import Any


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
        spec = graph_cli.parse_union([select], True)
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
            if upstream_id.startswith("source") and translator.settings.enable_source_tests_as_checks:
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


def latest_storage_ids_by_partition(
    instance: Any, asset_key: Any, event_type: Any, partitions: set[str]
) -> Mapping[str, int]:
    """Latest event storage id per partition in one query.

    Staleness compares these ids (monotonic) across assets; DagsterInstance has no public
    bulk equivalent, so this reads the event log storage's own method.
    """
    return instance.event_log_storage.get_latest_storage_id_by_partition(
        asset_key, event_type, partitions
    )


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


def planned_materializations(instance: Any, records_filter: Any, cursor: str | None) -> Any:
    """One page of ASSET_MATERIALIZATION_PLANNED records (a page of 1,000).

    Dagster OSS stores no asset-failure events, so a failed attempt is a planned
    materialization whose run failed; this is the only bulk read of those events, and it is
    deprecated for Dagster 2.0 (tests/test_compat.py fails when it goes).
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return instance.fetch_planned_materializations(records_filter, limit=1000, cursor=cursor)


def materialization_times_and_tags(
    instance: Any, storage_ids: list[int]
) -> dict[int, tuple[float, Mapping[str, str]]]:
    """(timestamp, tags) of the given materialization events, read as raw JSON rows.

    The staleness tick needs two fields of the latest materialization of every partition in
    its window (100,000 events for 100 assets x 1,000 days). `fetch_materializations`
    deserializes each whole event into Dagster objects (metadata included): half the tick.
    This selects the same rows by storage id from the event log's index table, the one
    every SQL event log storage (SQLite, PostgreSQL, MySQL) stores asset events in, and
    reads only what is needed.
    """
    import orjson

    import sqlalchemy as db
    from dagster._core.storage.event_log.schema import SqlEventLogStorageTable

    table = SqlEventLogStorageTable
    found: dict[int, tuple[float, Mapping[str, str]]] = {}
    for start in range(0, len(storage_ids), 5000):
        chunk = storage_ids[start : start + 5000]
        query = db.select(table.c.id, table.c.event).where(table.c.id.in_(chunk))
        with instance.event_log_storage.index_connection() as conn:
            for storage_id, body in conn.execute(query):
                entry = orjson.loads(body)
                data = (entry.get("dagster_event") or {}).get("event_specific_data") or {}
                tags = (data.get("materialization") or {}).get("tags") or {}
                found[storage_id] = (entry["timestamp"], tags)
    return found


def failed_and_in_progress_partitions(
    instance: Any, asset_key: Any, partitions_def: Any
) -> tuple[set[str], set[str]]:
    """Partition keys Dagster's partition-status cache holds as failed and as in progress.

    This is what the UI's partition bar shows, and the only place that knows a range run
    (one run over many partitions) failed or is running. The public
    `get_status_by_partition` reads the same cache but then tests each requested key for
    membership in time-window subsets (a date parse per key): slower than the rest of
    the tick together at 1,000 partitions. Failed and in-progress sets are small, so
    they are expanded once here instead.
    """
    from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

    value = get_and_update_asset_status_cache_value(instance, asset_key, partitions_def)
    if value is None:
        return set(), set()
    failed = value.deserialize_failed_partition_subsets(partitions_def)
    in_progress = value.deserialize_in_progress_partition_subsets(partitions_def)
    return set(failed.get_partition_keys()), set(in_progress.get_partition_keys())
