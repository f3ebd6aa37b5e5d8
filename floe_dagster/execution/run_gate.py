"""The run coordinator's check: at most one queued or running run per piece of work.

Dagster's UI, launchpad, GraphQL clients, `dagster job launch`, declarative automation and
hand-written sensors submit runs that never went through `RunKeyGuard`. The coordinator
sees them all, so it keys each one (see docs/run_keys.md) and lets it start only if no
other run for the same *work* (the same assets and the same partition or range) is queued
or running. The work is claimed atomically in `floe_work_in_flight`
(`INSERT ... ON CONFLICT DO NOTHING`); a claim whose run has finished is free, so a deliberate
re-run after the last one ended is new work.

A run the package's own triggers created carries `floe/run_key` and holds its reservation:
its key is kept as it is, and only the work claim is added.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from dagster import DagsterInstance, DagsterRun

from floe_dagster.execution.reservations import Claim, ReservationStore, WorkClaim, now
from floe_dagster.execution.run_keys import RunIdentity
from floe_dagster.names import (
    AUTO_MATERIALIZE_TAG,
    AUTOMATION_CONDITION_TAG,
    BACKFILL_ID_TAG,
    FINGERPRINT_TAG,
    PARENT_RUN_ID_TAG,
    PARTITION_TAG,
    PRODUCT_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    REFUSED_FOR_TAG,
    REFUSED_TAG,
    RUN_KEY_TAG,
    SCHEDULE_NAME_TAG,
    SENSOR_NAME_TAG,
    TRIGGER_TAG,
    json_digest,
)

SUBMITTED = "submitted"  # the UI, the launchpad, GraphQL clients, `dagster job launch`
RefusalCause = Literal["duplicate", "conflict", "in_flight"]
_ATTEMPTS = 3  # claim, free a finished holder's claim, claim again (and once more on a race)


def trigger_of(tags: Mapping[str, str]) -> str:
    """The run's source, from the tags Dagster gives it when it creates the run."""
    if PARENT_RUN_ID_TAG in tags:
        return f"reexecution:{tags[PARENT_RUN_ID_TAG]}"
    if BACKFILL_ID_TAG in tags:
        return f"backfill:{tags[BACKFILL_ID_TAG]}"
    if AUTOMATION_CONDITION_TAG in tags or AUTO_MATERIALIZE_TAG in tags:
        sensor = tags.get(SENSOR_NAME_TAG)
        return f"automation:{sensor}" if sensor else "automation"
    if SENSOR_NAME_TAG in tags:
        return f"sensor:{tags[SENSOR_NAME_TAG]}"
    if SCHEDULE_NAME_TAG in tags:
        return f"schedule:{tags[SCHEDULE_NAME_TAG]}"
    return SUBMITTED


def identity_of(run: DagsterRun) -> RunIdentity:
    """What work `run` is: its assets (or, for a whole-job run, its job), partition or range."""
    tags = run.tags
    origin = run.remote_job_origin
    product = tags.get(PRODUCT_TAG) or (origin.location_name if origin else "")
    if run.asset_selection:
        assets = tuple(sorted(k.to_user_string() for k in run.asset_selection))
    else:
        assets = (f"job:{run.job_name}",)
    span = (
        (tags[RANGE_START_TAG], tags[RANGE_END_TAG])
        if RANGE_START_TAG in tags and RANGE_END_TAG in tags
        else None
    )
    partition = None if span else tags.get(PARTITION_TAG)
    return RunIdentity(product, assets, partition, span, trigger_of(tags))


def work_key(identity: RunIdentity) -> str:
    """The work without its cause: asset keys are unique in a deployment, so no product."""
    work = {k: v for k, v in identity.as_dict().items() if k not in ("product", "trigger")}
    return f"work1-{json_digest(work)[:40]}"


def submitted_fingerprint(run: DagsterRun) -> str:
    """What a run the coordinator keys would do: its config and the job snapshot it runs."""
    return json_digest({"run_config": run.run_config, "job_snapshot": run.job_snapshot_id})


@dataclass(frozen=True)
class Admission:
    """The coordinator's answer for one run: tags to add and, when refused, why."""

    identity: RunIdentity
    run_key: str
    fingerprint: str
    tags: dict[str, str]
    cause: RefusalCause | None = None
    holder: str | None = None

    @property
    def reason(self) -> str:
        what = f"{self.identity.describe()} run key {self.run_key}"
        if self.cause == "duplicate":
            return f"duplicate: {what} is already queued or running as run {self.holder}"
        if self.cause == "conflict":
            return (
                f"CONFLICT: {what} is already queued or running as run {self.holder} "
                "with another fingerprint (config or code changed); not run"
            )
        return (
            f"in flight: the same assets and partition are already queued or running as run "
            f"{self.holder} ({what}); not run"
        )


class RunGate:
    """One admission per submitted run, a constant number of statements each."""

    def __init__(self, instance: DagsterInstance) -> None:
        self._instance = instance
        self._store = ReservationStore(instance)

    def admit(self, run: DagsterRun) -> Admission:
        self._store.ensure_tables()
        identity = identity_of(run)
        keyed = self._own_key(run)
        if keyed:
            run_key, fp = keyed
            new_tags: dict[str, str] = {}
        else:
            run_key, fp = identity.run_key, submitted_fingerprint(run)
            new_tags = {
                RUN_KEY_TAG: run_key,
                FINGERPRINT_TAG: fp,
                TRIGGER_TAG: identity.trigger,
                PRODUCT_TAG: identity.product,
            }
        claim = WorkClaim(work_key(identity), run.run_id, run_key, fp)
        holder = self._claim(claim)
        if holder.run_id == run.run_id:
            return Admission(identity, run_key, fp, new_tags)
        if holder.run_key != run_key:
            cause: RefusalCause = "in_flight"
        elif holder.fingerprint == fp:
            cause = "duplicate"
        else:
            cause = "conflict"
            self._store.record_conflicts(
                [
                    (
                        Claim(run_key, fp, identity.product, identity.as_dict()),
                        holder.fingerprint,
                        holder.run_id,
                    )
                ],
                now(),
            )
        if keyed:
            self._store.release_refused(run_key, fp)
        refused = {**new_tags, REFUSED_TAG: cause, REFUSED_FOR_TAG: holder.run_id}
        return Admission(identity, run_key, fp, refused, cause, holder.run_id)

    def _own_key(self, run: DagsterRun) -> tuple[str, str] | None:
        """(key, fingerprint) of a run one of the package's triggers reserved, else None.

        A re-execution copies its parent's tags but is new work, so it is keyed anew.
        """
        run_key, fp = run.tags.get(RUN_KEY_TAG), run.tags.get(FINGERPRINT_TAG)
        if not run_key or not fp or PARENT_RUN_ID_TAG in run.tags:
            return None
        reservation = self._store.lookup([run_key]).get(run_key)
        if reservation is None or reservation.fingerprint != fp:
            return None
        return run_key, fp

    def _claim(self, claim: WorkClaim) -> WorkClaim:
        """The claim that holds the work: ours, or a queued or running run's."""
        holder = self._store.claim_work(claim, now())
        for _ in range(_ATTEMPTS):
            if holder.run_id == claim.run_id:
                return holder
            run = self._instance.get_run_by_id(holder.run_id)
            if run is not None and not run.is_finished:
                return holder
            self._store.release_work(holder.work_key, holder.run_id)
            holder = self._store.claim_work(claim, now())
        return holder
