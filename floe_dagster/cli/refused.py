"""`floe-dagster refused`: the runs the instance's coordinator refused, and why.

A refused run is canceled, never deleted; its tags say why (`floe/refused`) and which
queued or running run it duplicated (`floe/refused_for_run`). This lists them, newest first.
"""

from __future__ import annotations

import json

from dagster import DagsterInstance, RunsFilter

from floe_dagster.names import (
    PRODUCT_TAG,
    REFUSED_FOR_TAG,
    REFUSED_TAG,
    RUN_KEY_TAG,
    TRIGGER_TAG,
)

CAUSES = ["duplicate", "conflict", "in_flight"]


def refused_text(
    instance: DagsterInstance, product: str | None, as_json: bool, limit: int = 100
) -> str:
    """The newest `limit` refused runs: a table, or JSON for scripts."""
    tags: dict[str, str | list[str]] = {REFUSED_TAG: CAUSES}
    if product:
        tags[PRODUCT_TAG] = product
    runs = instance.get_runs(filters=RunsFilter(tags=tags), limit=limit)
    rows = [
        {
            "run_id": run.run_id,
            "cause": run.tags[REFUSED_TAG],
            "duplicates_run": run.tags.get(REFUSED_FOR_TAG),
            "run_key": run.tags.get(RUN_KEY_TAG),
            "trigger": run.tags.get(TRIGGER_TAG),
            "product": run.tags.get(PRODUCT_TAG),
            "job": run.job_name,
        }
        for run in runs
    ]
    if as_json:
        return json.dumps(rows, indent=1)
    if not rows:
        return "no refused runs"
    return "\n".join(
        f"{r['run_id']}  {r['cause']}  of run {r['duplicates_run']}  "
        f"trigger={r['trigger']}  {r['product']}  key {r['run_key']}"
        for r in rows
    )
