"""Per-partition staleness, with a reason and its evidence, read from instance storage in bulk.

For every partitioned asset and each partition in the last `window` ones:
`missing` (closed, never materialized), `failed` (the last attempt failed after the last
materialization), `stale_code` (materialized under another code version), `stale_upstream`
(an upstream partition materialized after it), `stale_age` (older than `max_age_hours`),
else `fresh`; `in_flight` marks partitions a queued or running run is already producing.
"Later" compares event-log storage ids, which grow monotonically, not clocks.
Everything is read for all assets at once (`staleness_reads`): statements grow with
neither the number of assets nor the number of partitions, only by one per fixed-size chunk.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from enum import Enum
from typing import Any

from dagster import AssetKey, DagsterInstance, PartitionsDefinition

from floe_dagster.automation.staleness_reads import (
    Materialized,
    WindowRead,
    read_evidence,
)
from floe_dagster.contract.dagster_section import StalenessPolicy


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
    from datetime import datetime

    keys = partitions_def.get_partition_keys(current_time=datetime.fromtimestamp(now, UTC))
    return list(keys[-window:])


def compute_states(
    instance: DagsterInstance,
    assets: Sequence[AssetInfo],
    policy: StalenessPolicy,
    now: float | None = None,
) -> list[PartitionState]:
    """Every (asset, partition) in the window with its status, upstream assets first."""
    now = time.time() if now is None else now
    keys_by_def: dict[PartitionsDefinition, tuple[str, ...]] = {}
    judged: dict[tuple[str, ...], set[AssetKey]] = defaultdict(set)
    parents: dict[tuple[str, ...], set[AssetKey]] = defaultdict(set)
    unpartitioned: set[AssetKey] = set()
    for asset in assets:
        if asset.partitions_def not in keys_by_def:  # same scheme, same keys: compute once
            keys_by_def[asset.partitions_def] = tuple(
                window_keys(asset.partitions_def, policy.window, now)
            )
        keys = keys_by_def[asset.partitions_def]
        if not keys:
            continue
        judged[keys].add(asset.key)
        for parent, parent_def in asset.parents:
            if parent_def is None:
                unpartitioned.add(parent)
            elif parent_def == asset.partitions_def:
                parents[keys].add(parent)
    evidence = read_evidence(
        instance,
        [WindowRead(keys, frozenset(judged[keys]), frozenset(parents[keys])) for keys in judged],
        sorted(unpartitioned),
    )
    states: list[PartitionState] = []
    for asset in assets:
        for key in keys_by_def[asset.partitions_def]:
            upstream = {
                parent: evidence.unpartitioned.get(parent)
                if parent_def is None
                else evidence.storage_id(parent, key)
                for parent, parent_def in asset.parents
                if parent_def is None or parent_def == asset.partitions_def
            }
            states.append(
                _judge(
                    asset,
                    key,
                    evidence.materialized.get((asset.key, key)),
                    evidence.failures.get((asset.key, key), []),
                    upstream,
                    (asset.key, key) in evidence.in_flight,
                    policy,
                    now,
                )
            )
    return states


def _judge(
    asset: AssetInfo,
    key: str,
    materialized: Materialized | None,
    failures: list[float],
    upstream: Mapping[AssetKey, int | None],
    in_flight: bool,
    policy: StalenessPolicy,
    now: float,
) -> PartitionState:
    mat_id = materialized.storage_id if materialized else None
    mat_time = materialized.timestamp if materialized else None
    code_version = materialized.code_version if materialized else None
    common: dict[str, Any] = {
        "asset_key": asset.key,
        "partition": key,
        "in_flight": in_flight,
        "failures": len(failures),
        "last_failure_at": max(failures) if failures else None,
    }
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
            **common,
            status=Status.MISSING,
            reason="window closed, never materialized",
            cause="missing",
        )
    if asset.code_version and code_version and code_version != asset.code_version:
        return PartitionState(
            **common,
            status=Status.STALE_CODE,
            reason=f"materialized under code version {code_version[:12]}, now {asset.code_version[:12]}",
            cause=f"code:{asset.code_version}",
            evidence={
                "materialized_code_version": code_version,
                "code_version": asset.code_version,
            },
        )
    for parent, parent_id in upstream.items():
        if parent_id is not None and parent_id > mat_id:
            return PartitionState(
                **common,
                status=Status.STALE_UPSTREAM,
                reason=f"upstream {parent.to_user_string()} materialized after it",
                cause=f"upstream:{parent.to_user_string()}:{parent_id}",
                evidence={
                    "upstream": parent.to_user_string(),
                    "upstream_storage_id": parent_id,
                    "materialized_storage_id": mat_id,
                },
            )
    age_hours = (now - mat_time) / 3600 if mat_time is not None else None
    if (
        policy.max_age_hours is not None
        and age_hours is not None
        and age_hours > policy.max_age_hours
    ):
        return PartitionState(
            **common,
            status=Status.STALE_AGE,
            reason=f"{age_hours:.1f} h old, limit {policy.max_age_hours:g} h",
            cause=f"age:{mat_id}",
            evidence={"age_hours": round(age_hours, 2)},
        )
    return PartitionState(
        **common,
        status=Status.FRESH,
        reason="up to date",
        cause="fresh",
        evidence={"age_hours": round(age_hours, 2) if age_hours is not None else None},
    )
