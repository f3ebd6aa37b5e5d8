"""Per-model outcomes of one dbt invocation, read from its run_results.json.

dbt's event stream only turns successes into Dagster events; run_results.json also has the
failures and skips, each model's timing and what the adapter reported (rows affected).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class ModelResult:
    unique_id: str
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    rows_affected: int | None
    message: str | None

    @property
    def succeeded(self) -> bool:
        return self.status == "success"


def model_results(run_results: Mapping[str, Any]) -> dict[str, ModelResult]:
    """Each model of the invocation by unique id (tests, seeds and snapshots left out)."""
    found = {}
    for result in run_results.get("results", []):
        if not result["unique_id"].startswith("model."):
            continue
        timing = result.get("timing") or []
        starts = [_time(t.get("started_at")) for t in timing]
        ends = [_time(t.get("completed_at")) for t in timing]
        rows = (result.get("adapter_response") or {}).get("rows_affected")
        found[result["unique_id"]] = ModelResult(
            unique_id=result["unique_id"],
            status=result["status"],
            started_at=min((s for s in starts if s), default=None),
            completed_at=max((e for e in ends if e), default=None),
            rows_affected=rows if isinstance(rows, int) and rows >= 0 else None,
            message=result.get("message"),
        )
    return found


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # dbt writes UTC
