"""Per-partition staleness, with a reason and its evidence, read from instance storage in bulk.

For every partitioned asset and each partition in the last `window` ones:
`missing` (closed, never materialized), `failed` (the last attempt failed after the last
materialization), `stale_code` (materialized under another code version), `stale_upstream`
(an upstream partition materialized after it), `stale_age` (older than `max_age_hours`),
else `fresh`; `in_flight` marks partitions a queued or running run is already producing.
"Later" compares event-log storage ids, which grow monotonically, not clocks.
Queries grow with the number of assets, never with the number of partitions.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    PartitionsDefinition,
    RunsFilter,
)

from floe_dagster.compat import (
    failed_and_in_progress_partitions,
    latest_storage_ids_by_partition,
    materialization_times_and_tags,
    planned_materializations,
)
from floe_dagster.contract.dagster_section import StalenessPolicy
from floe_dagster.names import CODE_VERSION_TAG


class Status(str, Enum):
    MISSING = "missing"
    FAILED = "failed"
    STALE_CODE = "stale_code"
    STALE_UPSTREAM = "stale_upstream"
    STALE_AGE = "stale_age"
    FRESH = "fresh"


@dataclass(frozen=True)
class PartitionState:
    """One partition's status, why, and what the status was judged from."""

    asset_key: AssetKey
    partition: str
    status: Status
    reason: str
    cause: str  # stable identity of what made it stale: same cause, same run key
    in_flight: bool = False
    failures: int = 0
    last_failure_at: float | None = None
    evidence: Mapping[str, object] = field(default_factory=dict)

    @property
    def needs_refresh(self) -> bool:
        return self.status is not Status.FRESH


@dataclass(frozen=True)
class AssetInfo:
    """What staleness needs to know about one partitioned asset from the definitions."""

    key: AssetKey
    partitions_def: PartitionsDefinition
    code_version: str | None
    parents: Sequence[tuple[AssetKey, PartitionsDefinition | None]]


def partitioned_assets(asset_graph) -> list[AssetInfo]:
    """Partitioned, materializable assets in topological order (upstream first)."""
    infos = []
    for level in asset_graph.toposorted_asset_keys_by_level:
        for key in sorted(level, key=lambda k: k.to_user_string()):
            node = asset_graph.get(key)
            if not node.is_materializable or node.partitions_def is None:
                continue
            parents = [(p, asset_graph.get(p).partitions_def) for p in sorted(node.parent_keys)]
            infos.append(AssetInfo(key, node.partitions_def, node.code_version, parents))
    return infos


def window_keys(partitions_def: PartitionsDefinition, window: int, now: float) -> list[str]:
    from datetime import datetime, timezone

    keys = partitions_def.get_partition_keys(current_time=datetime.fromtimestamp(now, timezone.utc))
    return list(keys[-window:])


def compute_states(
    instance: DagsterInstance,
    assets: Sequence[AssetInfo],
    policy: StalenessPolicy,
    now: float | None = None,
) -> list[PartitionState]:
    """Every (asset, partition) in the window with its status, upstream assets first."""
    now = time.time() if now is None else now
    states: list[PartitionState] = []
    latest_by_asset: dict[AssetKey, Mapping[str, int]] = {}
    unpartitioned_latest: dict[AssetKey, int | None] = {}
    keys_by_def: dict[PartitionsDefinition, list[str]] = {}
    for asset in assets:
        if asset.partitions_def not in keys_by_def:  # same scheme, same keys: compute once
            keys_by_def[asset.partitions_def] = window_keys(asset.partitions_def, policy.window, now)
        keys = keys_by_def[asset.partitions_def]
        if not keys:
            continue
        mats = latest_storage_ids_by_partition(
            instance, asset.key, DagsterEventType.ASSET_MATERIALIZATION, set(keys)
        )
        latest_by_asset[asset.key] = mats
        fails = _failures_after(instance, asset.key, keys, mats)
        records = materialization_times_and_tags(instance, list(mats.values()))
        failed, in_progress = failed_and_in_progress_partitions(
            instance, asset.key, asset.partitions_def
        )
        for key in failed.intersection(keys) - fails.keys():
            fails[key] = [now]  # failed inside a range run: no per-partition attempt to count
        upstream = {}
        for parent, parent_def in asset.parents:
            if parent_def is None:
                if parent not in unpartitioned_latest:
                    found = instance.fetch_materializations(parent, limit=1).records
                    unpartitioned_latest[parent] = found[0].storage_id if found else None
                upstream[parent] = unpartitioned_latest[parent]
            elif parent_def == asset.partitions_def:
                if parent not in latest_by_asset:
                    latest_by_asset[parent] = latest_storage_ids_by_partition(
                        instance, parent, DagsterEventType.ASSET_MATERIALIZATION, set(keys)
                    )
                upstream[parent] = latest_by_asset[parent]
        for key in keys:
            mat_time, tags = records.get(mats.get(key), (None, {}))
            states.append(
                _judge(
                    asset,
                    key,
                    mats.get(key),
                    mat_time,
                    tags.get(CODE_VERSION_TAG),
                    fails.get(key, []),
                    upstream,
                    key in in_progress,
                    policy,
                    now,
                )
            )
    return states


def _judge(
    asset: AssetInfo,
    key: str,
    mat_id: int | None,
    mat_time: float | None,
    code_version: str | None,
    failures: list[float],
    upstream: Mapping[AssetKey, object],
    in_flight: bool,
    policy: StalenessPolicy,
    now: float,
) -> PartitionState:
    common = dict(
        asset_key=asset.key,
        partition=key,
        in_flight=in_flight,
        failures=len(failures),
        last_failure_at=max(failures) if failures else None,
    )
    if failures:
        return PartitionState(
            **common,
            status=Status.FAILED,
            reason=f"last {len(failures)} attempt(s) failed",
            cause=f"failed:{len(failures)}",
            evidence={"failures": len(failures), "materialized_storage_id": mat_id},
        )
    if mat_id is None:
        return PartitionState(
            **common, status=Status.MISSING, reason="window closed, never materialized",
            cause="missing",
        )
    if asset.code_version and code_version and code_version != asset.code_version:
        return PartitionState(
            **common,
            status=Status.STALE_CODE,
            reason=f"materialized under code version {code_version[:12]}, now {asset.code_version[:12]}",
            cause=f"code:{asset.code_version}",
            evidence={"materialized_code_version": code_version, "code_version": asset.code_version},
        )
    for parent, latest in upstream.items():
        parent_id = latest if isinstance(latest, int) or latest is None else latest.get(key)
        if parent_id is not None and parent_id > mat_id:
            return PartitionState(
                **common,
                status=Status.STALE_UPSTREAM,
                reason=f"upstream {parent.to_user_string()} materialized after it",
                cause=f"upstream:{parent.to_user_string()}:{parent_id}",
                evidence={"upstream": parent.to_user_string(), "upstream_storage_id": parent_id,
                          "materialized_storage_id": mat_id},
            )
    age_hours = (now - mat_time) / 3600 if mat_time is not None else None
    if policy.max_age_hours is not None and age_hours is not None and age_hours > policy.max_age_hours:
        return PartitionState(
            **common,
            status=Status.STALE_AGE,
            reason=f"{age_hours:.1f} h old, limit {policy.max_age_hours:g} h",
            cause=f"age:{mat_id}",
            evidence={"age_hours": round(age_hours, 2)},
        )
    return PartitionState(
        **common, status=Status.FRESH, reason="up to date", cause="fresh",
        evidence={"age_hours": round(age_hours, 2) if age_hours is not None else None},
    )


def _failures_after(
    instance: DagsterInstance, key: AssetKey, partitions: list[str], mats: Mapping[str, int]
) -> dict[str, list[float]]:
    """End times of failed attempts per partition since its last materialization.

    Dagster OSS stores no asset-failure events, so an attempt is a planned materialization
    (stored when a run is created) whose run then failed: two queries per asset.
    """
    after = min(mats.values(), default=None) if len(mats) == len(partitions) else None
    planned: list[tuple[str, str]] = []
    cursor = None
    while True:
        result = planned_materializations(
            instance,
            AssetRecordsFilter(asset_key=key, asset_partitions=partitions, after_storage_id=after),
            cursor,
        )
        planned += [
            (r.partition_key, r.run_id)
            for r in result.records
            if r.partition_key is not None and r.storage_id > mats.get(r.partition_key, -1)
        ]
        if not result.has_more:
            break
        cursor = result.cursor
    if not planned:
        return {}
    failed_at = {
        r.dagster_run.run_id: r.end_time or r.update_timestamp.timestamp()
        for r in instance.get_run_records(
            RunsFilter(run_ids=list({run_id for _, run_id in planned}), statuses=[DagsterRunStatus.FAILURE])
        )
    }
    failures: dict[str, list[float]] = {}
    for partition, run_id in planned:
        if run_id in failed_at:
            failures.setdefault(partition, []).append(failed_at[run_id])
    return failures

