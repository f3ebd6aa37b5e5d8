"""`floe-dagster status`: the partition table a person (or a script, with --json) reads."""

from __future__ import annotations

import json
from typing import Any

from dagster import DagsterInstance

from floe_dagster.automation.staleness import compute_states, partitioned_assets
from floe_dagster.loading.plan import ProductPlan


def status_text(instance: DagsterInstance, plan: ProductPlan, asset_graph, as_json: bool) -> str:
    """`asset_graph`: the product's repository's, built by the caller (the CLI)."""
    policy = plan.files.artifacts.dagster.sensors.staleness
    states = compute_states(instance, partitioned_assets(asset_graph), policy)
    rows: list[dict[str, Any]] = [
        {
            "asset": s.asset_key.to_user_string(),
            "partition": s.partition,
            "status": s.status.value,
            "reason": s.reason,
            "in_flight": s.in_flight,
            "failures": s.failures,
            "evidence": {k: v for k, v in s.evidence.items() if v is not None},
        }
        for s in states
    ]
    if as_json:
        return json.dumps(rows, indent=2)
    width = max((len(r["asset"]) for r in rows), default=5)
    lines = [f"{'asset':<{width}}  {'partition':<16}  {'status':<14}  reason"]
    for r in rows:
        flight = " (in flight)" if r["in_flight"] else ""
        lines.append(
            f"{r['asset']:<{width}}  {r['partition']:<16}  {r['status']:<14}  {r['reason']}{flight}"
        )
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    lines.append("")
    lines.append(
        ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no partitions"
    )
    return "\n".join(lines)
