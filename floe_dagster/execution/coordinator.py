"""A run coordinator that lets `dagster job backfill` honour the assets' backfill policy.

Dagster's CLI backfill creates one run per partition and records the backfill only after
it has created them all. This coordinator holds those runs (not started, tagged) instead
of queueing them; the product's backfill sensor then replaces each held backfill with
runs of as many partitions as the policy allows (one run when coalesced). Every other
run is queued exactly as by Dagster's QueuedRunCoordinator.
"""

from __future__ import annotations

from dagster import DagsterRun, QueuedRunCoordinator, SubmitRunContext

from floe_dagster.names import BACKFILL_ID_TAG, HELD_TAG, PARTITION_TAG


class BackfillPolicyRunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator, except CLI backfill runs wait for the backfill sensor."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        backfill_id = run.tags.get(BACKFILL_ID_TAG)
        is_cli_backfill_run = (
            backfill_id is not None
            and PARTITION_TAG in run.tags
            and self._instance.get_backfill(backfill_id) is None
        )
        if backfill_id is None or not is_cli_backfill_run:
            return super().submit_run(context)
        self._instance.add_run_tags(run.run_id, {HELD_TAG: backfill_id})
        return self._instance.get_run_by_id(run.run_id) or run
