"""What a staleness judgement reads from instance storage, for every asset at once.

A tick must finish inside Dagster's 60 s sensor timeout at 2,000 partitioned assets, and
PostgreSQL statements cost a connection each under dagster-postgres. So nothing here is
read per asset or per partition: each kind of read is one statement per chunk of assets
(at most `KEYS_PER_STATEMENT` assets and `ROWS_PER_STATEMENT` asset partitions), plus one
per `RUNS_PER_STATEMENT` runs that attempted a partition without materializing it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

from floe_dagster.compat import (
    attempts_since_materialization,
    latest_partition_materializations,
)

KEYS_PER_STATEMENT = 2000
ROWS_PER_STATEMENT = 60_000
RUNS_PER_STATEMENT = 500

AssetPartition = tuple[AssetKey, str]


@dataclass(frozen=True)
class Materialized:
    storage_id: int
    timestamp: float
    code_version: str | None


@dataclass(frozen=True)
class WindowRead:
    """Assets sharing one window of partition keys: those judged, and parents only compared."""

    partitions: tuple[str, ...]
    judged: frozenset[AssetKey]
    parents: frozenset[AssetKey] = frozenset()


@dataclass
class Evidence:
    """Everything the judgement needs, keyed by (asset, partition)."""

    materialized: dict[AssetPartition, Materialized] = field(default_factory=dict)
    failures: dict[AssetPartition, list[float]] = field(default_factory=dict)
    in_flight: set[AssetPartition] = field(default_factory=set)
    unpartitioned: dict[AssetKey, int | None] = field(default_factory=dict)

    def storage_id(self, key: AssetKey, partition: str) -> int | None:
        found = self.materialized.get((key, partition))
        return found.storage_id if found else None


def read_evidence(
    instance: DagsterInstance, windows: Sequence[WindowRead], unpartitioned: Sequence[AssetKey]
) -> Evidence:
    """Latest materializations, failed and running attempts, and unpartitioned parents."""
    evidence = Evidence()
    wiped = _wipe_times(instance, windows, unpartitioned, evidence)
    attempts: list[tuple[AssetKey, str, str, int]] = []
    for window in windows:
        for keys in asset_chunks(sorted(window.judged | window.parents), len(window.partitions)):
            for (key, partition), (sid, ts, code) in latest_partition_materializations(
                instance, keys, window.partitions
            ).items():
                if ts > wiped.get(key, float("-inf")):
                    evidence.materialized[(key, partition)] = Materialized(sid, ts, code)
        for keys in asset_chunks(sorted(window.judged), len(window.partitions)):
            attempts += attempts_since_materialization(instance, keys, window.partitions)
    _judge_attempts(instance, attempts, evidence)
    return evidence


def asset_chunks(keys: Sequence[AssetKey], partitions: int) -> Iterator[Sequence[AssetKey]]:
    """Fixed-size chunks: bind parameters and rows per statement stay bounded."""
    size = max(1, min(KEYS_PER_STATEMENT, ROWS_PER_STATEMENT // max(partitions, 1)))
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def _wipe_times(
    instance: DagsterInstance,
    windows: Sequence[WindowRead],
    unpartitioned: Sequence[AssetKey],
    evidence: Evidence,
) -> Mapping[AssetKey, float]:
    """Wipe times of every asset read (events before a wipe do not count), and the latest
    materialization of each unpartitioned parent, from one asset-record read per chunk."""
    keys = sorted({k for w in windows for k in w.judged | w.parents} | set(unpartitioned))
    wanted = set(unpartitioned)
    wiped: dict[AssetKey, float] = {}
    evidence.unpartitioned.update({k: None for k in unpartitioned})
    for start in range(0, len(keys), KEYS_PER_STATEMENT):
        for record in instance.get_asset_records(keys[start : start + KEYS_PER_STATEMENT]):
            entry = record.asset_entry
            details = entry.asset_details
            if details is not None and details.last_wipe_timestamp:
                wiped[entry.asset_key] = details.last_wipe_timestamp
            if entry.asset_key in wanted:
                evidence.unpartitioned[entry.asset_key] = entry.last_materialization_storage_id
    return wiped


def _judge_attempts(
    instance: DagsterInstance,
    attempts: Sequence[tuple[AssetKey, str, str, int]],
    evidence: Evidence,
) -> None:
    """Failed attempts (with their end times) and partitions whose latest attempt still runs.

    An attempt whose run was deleted (a held backfill run replaced by its chunk) is neither.
    """
    run_ids = sorted({run_id for _, _, run_id, _ in attempts})
    failed_at: dict[str, float] = {}
    running: set[str] = set()
    for start in range(0, len(run_ids), RUNS_PER_STATEMENT):
        chunk = run_ids[start : start + RUNS_PER_STATEMENT]
        for record in instance.get_run_records(RunsFilter(run_ids=chunk)):
            run = record.dagster_run
            if run.status is DagsterRunStatus.FAILURE:
                failed_at[run.run_id] = record.end_time or record.update_timestamp.timestamp()
            elif not run.is_finished:
                running.add(run.run_id)
    for key, partition, run_id, _ in sorted(attempts, key=lambda a: a[3]):  # oldest first
        if run_id in failed_at:
            evidence.failures.setdefault((key, partition), []).append(failed_at[run_id])
        if run_id in running:
            evidence.in_flight.add((key, partition))
        else:
            evidence.in_flight.discard((key, partition))
