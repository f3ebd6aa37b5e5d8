"""`floe-dagster launch` and `floe-dagster conflicts`: manual runs through the run-key check.

A launch *submits* the run to the instance (as the UI's Materialize button and
`dagster job launch` do) rather than executing it in this process: it then waits in the
instance's run queue (one run at a time on DuckDB), is launched by the configured run
launcher (a Kubernetes Job in production) and shows in the UI like any other run.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from dagster import AssetSelection, DagsterEventType, DagsterInstance

from floe_dagster.compat import submit_asset_run
from floe_dagster.definitions import build_definitions, load_plan
from floe_dagster.execution.reservations import ReservationStore
from floe_dagster.execution.run_keys import RunKeyGuard, Skipped
from floe_dagster.names import (
    DAGSTER_RUN_KEY_TAG,
    PARTITION_TAG,
    REFUSED_FOR_TAG,
    REFUSED_TAG,
    RUN_KEY_TAG,
    range_label,
)


@dataclass(frozen=True)
class Refused:
    """A submitted run the instance's run coordinator refused (and canceled): it did not run."""

    run_id: str
    cause: str
    holder: str | None
    reason: str

    @property
    def message(self) -> str:
        return (
            f"refused: run {self.run_id} was canceled, not run: {self.reason}. "
            f"Launch again once run {self.holder} has ended"
        )


def refusal_of(instance: DagsterInstance, run_id: str) -> Refused | None:
    """Why the coordinator refused the run `run_id`, read back from the instance; None if not."""
    run = instance.get_run_by_id(run_id)
    if run is None or REFUSED_TAG not in run.tags:
        return None
    holder = run.tags.get(REFUSED_FOR_TAG)
    canceled = instance.all_logs(run_id, of_type=DagsterEventType.RUN_CANCELED)
    # the coordinator's own reason (execution/run_gate.py), as the UI shows it
    reason = next((e.message for e in canceled if e.message), run.tags[REFUSED_TAG])
    return Refused(run_id, run.tags[REFUSED_TAG], holder, reason)


def launch_run(
    instance: DagsterInstance,
    product: str,
    project_dir: Path,
    select: str,
    trigger: str,
    partition: str | None = None,
    partition_range: tuple[str, str] | None = None,
    location: str | None = None,
) -> str | Skipped | Refused:
    """Check the run key, then submit the run; returns its id, or why it was skipped or refused.

    The instance's run coordinator checks the submitted run again, against every queued or
    running run (the UI's, a sensor's): the run is read back, and a refusal returned.
    """
    plan = load_plan(product, project_dir)
    graph = build_definitions(plan).get_repository_def().asset_graph
    asset_keys = AssetSelection.from_string(select).resolve(graph)
    guard = RunKeyGuard.for_plan(plan)
    planned = guard.plan(
        asset_keys, trigger=trigger, partition=partition, partition_range=partition_range
    )
    verdict = guard.check(instance, [planned], owner=f"launch:{uuid.uuid4().hex}")
    if verdict.skipped:
        return verdict.skipped[0]
    tags = {**planned.tags, DAGSTER_RUN_KEY_TAG: planned.tags[RUN_KEY_TAG]}
    if partition:
        tags[PARTITION_TAG] = partition
    run_id = submit_asset_run(
        instance,
        python_file=plan.project_dir / "definitions.py",
        working_directory=plan.project_dir,
        location_name=location or product,
        asset_keys=frozenset(asset_keys),
        run_config=planned.run_config,
        tags=tags,
    )
    return refusal_of(instance, run_id) or run_id


def conflicts_text(instance: DagsterInstance, product: str | None, as_json: bool) -> str:
    """Recorded conflicts, newest first: a table, or JSON lines for scripts."""
    store = ReservationStore(instance)
    store.ensure_tables()
    records = store.list_conflicts(product)
    if as_json:
        return json.dumps([asdict(r) for r in records], indent=1)
    if not records:
        return "no run-key conflicts recorded"
    lines = []
    for r in records:
        identity = r.identity
        span = identity.get("range")
        where = identity.get("partition") or (range_label(*span) if span else "-")
        lines.append(
            f"{r.run_key}  {r.product}  {where}  trigger={identity['trigger']}  "
            f"held by {r.held_by_run_id or 'a pending reservation'} "
            f"({r.held_fingerprint[:12]}), refused {r.requested_fingerprint[:12]} "
            f"x{r.occurrences}, assets: {', '.join(identity['assets'])}"
        )
    return "\n".join(lines)
