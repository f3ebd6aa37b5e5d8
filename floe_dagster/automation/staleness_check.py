"""The `partition_staleness` asset check: its result per asset, recorded only on change.

The staleness sensor judges every asset each tick; writing an evaluation for each would
be 2,000 writes a tick at 2,000 partitioned assets, nearly all repeating the last one.
Each result carries a digest of the asset's state (every partition's status, cause,
in-flight mark and failure count, and the severity); the sensor reads the digest on each
check's latest evaluation (one statement per chunk of checks) and records only the
assets whose digest differs, at most `EVALUATIONS_PER_TICK` a tick. Texts that change with the clock alone (a `stale_age`
partition's age) are not part of the state and do not cause a write.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetKey,
    DagsterInstance,
)

from floe_dagster.automation.staleness import PartitionState, Status
from floe_dagster.compat import latest_check_evaluations
from floe_dagster.contract.dagster_section import StalenessPolicy
from floe_dagster.names import STALENESS_CHECK, STATE_DIGEST_KEY

CHECKS_PER_STATEMENT = 1000
# Writes per tick: each evaluation is four statements (about 16 ms on PostgreSQL here), so a
# first tick over 2,000 assets would spend half the 60 s sensor timeout on them; the rest
# are recorded on the next ticks, where their state still differs.
EVALUATIONS_PER_TICK = 250


def states_by_asset(states: Sequence[PartitionState]) -> dict[AssetKey, list[PartitionState]]:
    grouped: dict[AssetKey, list[PartitionState]] = defaultdict(list)
    for s in states:
        grouped[s.asset_key].append(s)
    return grouped


def check_result(mine: Sequence[PartitionState], policy: StalenessPolicy) -> dict[str, Any]:
    """Passed, severity, description and metadata of one asset's check, from its states."""
    bad = [s for s in mine if s.needs_refresh]
    given_up = [
        s for s in bad if s.status is Status.FAILED and s.failures >= policy.retry.max_attempts
    ]
    counts: dict[str, int] = defaultdict(int)
    for s in mine:
        counts[s.status.value] += 1
    listing = "\n".join(
        f"{s.partition}: {s.status.value}: {s.reason}" + (" (in flight)" if s.in_flight else "")
        for s in bad[:50]
    )
    severity = AssetCheckSeverity.ERROR if given_up else AssetCheckSeverity.WARN
    return {
        "passed": not bad,
        "severity": severity,
        "description": f"{len(bad)} of {len(mine)} partitions in the window need a refresh",
        "metadata": {
            **{f"partitions_{status}": n for status, n in sorted(counts.items())},
            "gave_up_after_retries": len(given_up),
            "stale_partitions": listing or "none",
            STATE_DIGEST_KEY: _digest(mine, severity),
        },
    }


def record_changed(
    instance: DagsterInstance,
    results: Mapping[AssetKey, Mapping[str, Any]],
    limit: int = EVALUATIONS_PER_TICK,
) -> tuple[list[AssetKey], int]:
    """Record the evaluations whose state differs from the check's latest, failing ones
    first and at most `limit`; returns the assets recorded and how many changed ones wait."""
    keys = sorted(results, key=lambda k: k.to_user_string())
    changed = []
    for start in range(0, len(keys), CHECKS_PER_STATEMENT):
        chunk = keys[start : start + CHECKS_PER_STATEMENT]
        latest = latest_check_evaluations(
            instance, [AssetCheckKey(k, STALENESS_CHECK) for k in chunk]
        )
        for key in chunk:
            previous = latest.get(AssetCheckKey(key, STALENESS_CHECK))
            recorded = previous.metadata.get(STATE_DIGEST_KEY) if previous else None
            if recorded is None or recorded.value != results[key]["metadata"][STATE_DIGEST_KEY]:
                changed.append(key)
    changed.sort(key=lambda k: results[k]["passed"])  # stable: failing checks first
    for key in changed[:limit]:
        instance.report_runless_asset_event(
            AssetCheckEvaluation(asset_key=key, check_name=STALENESS_CHECK, **results[key])
        )
    return changed[:limit], max(0, len(changed) - limit)


def _digest(mine: Sequence[PartitionState], severity: AssetCheckSeverity) -> str:
    state = [
        [s.partition, s.status.value, s.cause, s.in_flight, s.failures]
        for s in sorted(mine, key=lambda s: s.partition)
    ]
    text = json.dumps([severity.value, state], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
