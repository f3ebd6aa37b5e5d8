"""The instance's run coordinator: every submitted run goes through the run-key check.

Runs reach the instance from the UI, the launchpad, GraphQL clients, `dagster job launch`,
Dagster's declarative automation, hand-written sensors and this package's own triggers;
all of them are submitted here. So this coordinator keys each run and starts it only if no
run for the same work is queued or running (`RunGate`); a refused run is canceled with
the reason, naming the run it duplicates, in its event log and tags, never dropped.

It also lets `dagster job backfill` honour the assets' backfill policy: Dagster's CLI
backfill creates one run per partition and records the backfill only after it has created
them all. Those runs are held (not started, tagged) instead of queued; the product's
backfill sensor then replaces each held backfill with runs of as many partitions as the
policy allows (one run when coalesced). Every admitted run is queued exactly as by
Dagster's QueuedRunCoordinator.
"""

from __future__ import annotations

from dagster import DagsterRun, QueuedRunCoordinator, SubmitRunContext

from floe_dagster.execution.run_gate import RunGate
from floe_dagster.names import BACKFILL_ID_TAG, HELD_TAG, PARTITION_TAG


class BackfillPolicyRunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator that refuses duplicates of in-flight work and holds CLI backfills."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        backfill_id = run.tags.get(BACKFILL_ID_TAG)
        if (
            backfill_id is not None
            and PARTITION_TAG in run.tags
            and self._instance.get_backfill(backfill_id) is None
        ):
            self._instance.add_run_tags(run.run_id, {HELD_TAG: backfill_id})
            return self._instance.get_run_by_id(run.run_id) or run
        admission = RunGate(self._instance).admit(run)
        if admission.tags:
            self._instance.add_run_tags(run.run_id, admission.tags)
        if admission.cause is None:
            return super().submit_run(context)
        self._logger.warning(f"run {run.run_id} refused: {admission.reason}")
        self._instance.report_run_canceled(run, message=admission.reason)
        return self._instance.get_run_by_id(run.run_id) or run
