"""The staleness sensor and checks: refresh stale partitions, show them per asset.

Each tick judges every partition in the window (`staleness.compute_states`), records the
asset-check evaluation of each partitioned asset whose state changed (`staleness_check`),
and requests refreshes: a run per partition covering its due assets and everything
partitioned downstream of them (upstream first, inside one run), never for a partition in
flight, at most `max_requests_per_tick`, failed partitions only after their backoff and
below `retry.max_attempts`. Requests go through the global run-key check with the causes in
the trigger: the same cause never runs twice.
"""

import time
from collections import defaultdict
from collections.abc import Iterator, Sequence

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSpec,
    AssetKey,
    AssetSelection,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    multi_asset_check,
    sensor,
)

from floe_dagster.automation.staleness import (
    PartitionState,
    Status,
    compute_states,
    partitioned_assets,
)
from floe_dagster.automation.staleness_check import (
    check_result,
    record_changed,
    states_by_asset,
)
from floe_dagster.contract.dagster_section import StalenessPolicy
from floe_dagster.execution.policies import step_op_tags
from floe_dagster.execution.run_keys import RunKeyGuard, skip_reason_text
from floe_dagster.loading.plan import ProductPlan
from floe_dagster.names import (
    SCHEME_TAG,
    STALENESS_CHECK,
    digest,
    model_key,
    step_labels,
    table_key,
)


def retry_due(state: PartitionState, policy: StalenessPolicy, now: float) -> bool:
    """Failed partitions wait base * factor^(n-1) seconds after their n-th failure, up to the limit."""
    if state.status is not Status.FAILED:
        return True
    retry = policy.retry
    if state.failures >= retry.max_attempts:
        return False
    wait = retry.base_seconds * retry.factor ** (state.failures - 1)
    return state.last_failure_at is None or now - state.last_failure_at >= wait


def build_staleness_checks(plan: ProductPlan) -> list[AssetChecksDefinition]:
    """One check per partitioned asset (dbt models and ingested tables with a scheme), all
    evaluated in a single step so a run pays for one extra step, not one per asset."""
    policy = plan.files.artifacts.dagster.sensors.staleness
    if not policy.enabled or not plan.schemes:
        return []
    prefix = plan.files.artifacts.asset_key_prefix
    nodes = plan.manifest["nodes"]
    keys = [
        model_key(prefix, nodes[uid]["name"])
        for uid, settings in plan.model_settings.items()
        if settings.partition_scheme
    ]
    for source in plan.files.artifacts.dagster.ingestion:
        if source.partition_scheme:
            keys += [table_key(prefix, source.dbt_source, t) for t in source.tables]
    specs = [
        AssetCheckSpec(
            STALENESS_CHECK,
            asset=key,
            blocking=False,
            description="Partitions in the staleness window that are missing, failed or stale, "
            "with reasons; the staleness sensor re-evaluates it every tick.",
        )
        for key in sorted(keys, key=lambda k: k.to_user_string())
    ]

    execution = plan.files.artifacts.dagster.execution
    step = f"{plan.name}_{STALENESS_CHECK}"
    tags = step_op_tags(execution, execution.default_workload_size, step_labels(plan.name, step))

    @multi_asset_check(specs=specs, name=step, can_subset=True, op_tags=tags)
    def _checks(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
        selected = {c.asset_key for c in context.selected_asset_check_keys}
        graph = context.op_execution_context.job_def.asset_layer.asset_graph
        assets = [a for a in partitioned_assets(graph) if a.key in selected]
        grouped = states_by_asset(compute_states(context.instance, assets, policy))
        for asset in assets:
            yield AssetCheckResult(
                asset_key=asset.key,
                check_name=STALENESS_CHECK,
                **check_result(grouped[asset.key], policy),
            )

    return [_checks]


def build_staleness_sensor(plan: ProductPlan) -> SensorDefinition | None:
    policy = plan.files.artifacts.dagster.sensors.staleness
    if not policy.enabled or not plan.schemes:
        return None
    guard = RunKeyGuard.for_plan(plan)

    partitioned = AssetSelection.tag(SCHEME_TAG, next(iter(plan.schemes)))
    for scheme in list(plan.schemes)[1:]:
        partitioned |= AssetSelection.tag(SCHEME_TAG, scheme)

    @sensor(
        name=f"{plan.name}_staleness",
        asset_selection=partitioned,
        minimum_interval_seconds=policy.minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING
        if policy.default_status == "running"
        else DefaultSensorStatus.STOPPED,
        description="Refreshes missing, failed and stale partitions, upstream first, within "
        f"the last {policy.window} partitions; at most {policy.max_requests_per_tick} runs a tick.",
    )
    def staleness(context: SensorEvaluationContext) -> Iterator[RunRequest | SkipReason]:
        assert context.repository_def is not None  # a sensor always runs in its repository
        graph = context.repository_def.asset_graph
        assets = partitioned_assets(graph)
        now = time.time()
        states = compute_states(context.instance, assets, policy, now)
        grouped = states_by_asset(states)
        recorded, waiting = record_changed(
            context.instance, {a.key: check_result(grouped[a.key], policy) for a in assets}
        )
        if waiting:
            context.log.info(
                f"recorded {len(recorded)} changed staleness checks; {waiting} more are recorded "
                "on the next ticks"
            )
        planned = [
            guard.plan(
                keys, trigger=f"staleness:{digest('|'.join(causes))[:16]}", partition=partition
            )
            for partition, keys, causes in refresh_plan(graph, states, policy, now)
        ]
        if not planned:
            yield SkipReason(
                "every partition in the window is fresh, in flight, or waiting to retry"
            )
            return
        requests, skipped = guard.request(context, planned)
        yield from requests
        if not requests:
            yield SkipReason(skip_reason_text(skipped))

    return staleness


def refresh_plan(
    graph, states: Sequence[PartitionState], policy: StalenessPolicy, now: float
) -> list[tuple[str, list[AssetKey], list[str]]]:
    """(partition, assets to refresh upstream-first, causes) for at most the per-tick cap."""
    by_partition: dict[str, dict[AssetKey, PartitionState]] = defaultdict(dict)
    for s in states:
        by_partition[s.partition][s.asset_key] = s
    plans = []
    for partition in sorted(by_partition):
        row = by_partition[partition]
        if any(s.in_flight for s in row.values()):
            continue
        due = {k for k, s in row.items() if s.needs_refresh and retry_due(s, policy, now)}
        if not due:
            continue
        affected = _downstream_closure(graph, set(due), row)
        causes = sorted(f"{k.to_user_string()}={row[k].cause}" for k in due)
        plans.append((partition, sorted(affected, key=lambda k: k.to_user_string()), causes))
    return plans[: policy.max_requests_per_tick]


def _downstream_closure(graph, keys: set[AssetKey], row: dict) -> set[AssetKey]:
    frontier = list(keys)
    while frontier:
        for child in graph.get(frontier.pop()).child_keys:
            if child in row and child not in keys:
                keys.add(child)
                frontier.append(child)
    return keys
