"""Global run keys: one check, against the instance, for every run this package requests.

Dagster dedupes `run_key` only inside one sensor (and a schedule inside one tick). Here a
run's key is derived from *what work* it is:

    run_key = "floe1-" + sha256(canonical JSON of {product, assets, partition, range, trigger})[:40]

- `assets`: the sorted asset keys (`a/b/c` strings) the run materializes;
- `partition` or `range` (`[first, last]`): the partitions, or none;
- `trigger`: the *cause* of the work, chosen by the caller: `schedule:<name>` for a
  partitioned schedule (its later ticks asking for the same partition are duplicates),
  `schedule:<name>@<tick>` for an unpartitioned one (each tick is new work), `manual` for
  `floe-dagster launch` unless `--trigger` says otherwise, a staleness cause for a sensor.

and its *fingerprint* from what the run would do:

    fingerprint = sha256(canonical JSON of {run_config, artifact_version, code_versions})

with `artifact_version` = `metadata.source_hash` of compiled_artifacts.json and
`code_versions` = the dbt checksum of each selected model. Canonical JSON (sorted keys, no
whitespace) and SHA-256 make both stable across processes and Python hash seeds.

Before a run is requested, `RunKeyGuard.check` asks the instance, in bulk, about all keys:

- a run holds the key (tag `floe/run_key`) with the same fingerprint -> `duplicate`;
- the key is held (by a run or a live reservation) with another fingerprint -> `conflict`:
  recorded in `floe_run_key_conflicts`, logged, and reported as an AssetObservation on
  each selected asset; `floe-dagster conflicts` lists them;
- a live reservation of another evaluator, no run yet -> `in_flight`;
- otherwise the key is reserved atomically (INSERT ... ON CONFLICT DO NOTHING) and only
  the evaluator whose row landed gets to request the run.

A reservation whose run never appeared (the evaluator died) is released for its own owner
at once (a schedule's interrupted tick re-evaluates under the same owner) and for anyone
after `LEASE_SECONDS`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from dagster import AssetKey, AssetObservation, DagsterInstance, DagsterRun, RunRequest, RunsFilter

from floe_dagster.contract.dagster_section import RunKeyLimits
from floe_dagster.execution.reservations import Claim, ReservationStore, chunks, now
from floe_dagster.loading.plan import ProductPlan
from floe_dagster.names import (
    CONFLICT_RUN_KEY,
    FINGERPRINT_TAG,
    HELD_BY_RUN,
    HELD_FINGERPRINT,
    PRODUCT_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    REFUSED_TAG,
    REQUESTED_FINGERPRINT,
    RUN_KEY_TAG,
    TRIGGER_TAG,
    json_digest,
    range_label,
)

KEY_VERSION = "floe1"
LEASE_SECONDS = 600  # far longer than an evaluation plus run creation takes
_DAY = 86400.0

SkipCause = Literal["duplicate", "conflict", "in_flight", "over_limit"]


@dataclass(frozen=True)
class RunIdentity:
    """What work a run is; the run key is a hash of it."""

    product: str
    assets: tuple[str, ...]
    partition: str | None = None
    partition_range: tuple[str, str] | None = None
    trigger: str = "manual"

    def as_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "assets": list(self.assets),
            "partition": self.partition,
            "range": list(self.partition_range) if self.partition_range else None,
            "trigger": self.trigger,
        }

    @property
    def run_key(self) -> str:
        return f"{KEY_VERSION}-{json_digest(self.as_dict())[:40]}"

    def describe(self) -> str:
        where = self.partition or (
            range_label(*self.partition_range) if self.partition_range else ""
        )
        assets = self.assets[0] if len(self.assets) == 1 else f"{len(self.assets)} assets"
        return f"{assets}{' [' + where + ']' if where else ''} ({self.trigger})"


def fingerprint(
    run_config: Mapping[str, Any], artifact_version: str, code_versions: Mapping[str, str | None]
) -> str:
    """What the run would do: its config and the versions of the code and artifacts it runs."""
    return json_digest(
        {
            "run_config": run_config,
            "artifact_version": artifact_version,
            "code": dict(code_versions),
        }
    )


@dataclass(frozen=True)
class PlannedRun:
    """A run this package wants to request, with its key and fingerprint."""

    identity: RunIdentity
    asset_keys: tuple[AssetKey, ...]
    fingerprint: str
    run_config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def run_key(self) -> str:
        return self.identity.run_key

    @property
    def tags(self) -> dict[str, str]:
        """Tags every run of this package carries; partition tags are Dagster's own."""
        tags = {
            RUN_KEY_TAG: self.run_key,
            FINGERPRINT_TAG: self.fingerprint,
            TRIGGER_TAG: self.identity.trigger,
            PRODUCT_TAG: self.identity.product,
        }
        if self.identity.partition_range:
            first, last = self.identity.partition_range
            tags[RANGE_START_TAG] = first
            tags[RANGE_END_TAG] = last
        return tags

    def run_request(self) -> RunRequest:
        return RunRequest(
            run_key=self.run_key,
            run_config=dict(self.run_config),
            tags=self.tags,
            asset_selection=list(self.asset_keys),
            partition_key=self.identity.partition,
        )


@dataclass(frozen=True)
class Skipped:
    """A planned run not requested, and why."""

    planned: PlannedRun
    cause: SkipCause
    run_id: str | None = None
    held_fingerprint: str | None = None

    @property
    def message(self) -> str:
        what = f"{self.planned.identity.describe()} run key {self.planned.run_key}"
        holder = (
            f"run {self.run_id}" if self.run_id else "a reservation whose run is not created yet"
        )
        if self.cause == "duplicate":
            return f"duplicate: {what} is already held by {holder}"
        if self.cause == "conflict":
            return (
                f"CONFLICT: {what} is held by {holder} with fingerprint "
                f"{(self.held_fingerprint or '')[:12]}, this request has {self.planned.fingerprint[:12]} "
                "(config, artifacts or code changed); not run. Launch with another trigger to run anyway"
            )
        if self.cause == "in_flight":
            return f"in flight: {what} is reserved by another evaluator; its run is being created"
        return f"over limit: {what} deferred, the evaluation already has the maximum run requests"


@dataclass(frozen=True)
class Verdict:
    granted: list[PlannedRun]
    skipped: list[Skipped]


class RunKeyGuard:
    """The one check every run request of this package goes through."""

    def __init__(
        self,
        product: str,
        artifact_version: str,
        code_versions: Mapping[str, str | None],
        limits: RunKeyLimits,
    ) -> None:
        self.product = product
        self.artifact_version = artifact_version
        self.code_versions = dict(code_versions)
        self.limits = limits

    @classmethod
    def for_plan(cls, plan: ProductPlan) -> RunKeyGuard:
        """Versions from the product: artifacts' source hash, each dbt model's checksum."""
        prefix = plan.files.artifacts.asset_key_prefix
        code = {
            AssetKey([*prefix, node["name"]]).to_user_string(): node["checksum"]["checksum"]
            for node in plan.manifest["nodes"].values()
            if node["resource_type"] == "model"
        }
        return cls(
            plan.name,
            plan.files.artifacts.metadata.source_hash,
            code,
            plan.files.artifacts.dagster.sensors.run_keys,
        )

    def plan(
        self,
        asset_keys: Iterable[AssetKey],
        *,
        trigger: str,
        partition: str | None = None,
        partition_range: tuple[str, str] | None = None,
        run_config: Mapping[str, Any] | None = None,
    ) -> PlannedRun:
        keys = tuple(sorted(set(asset_keys), key=lambda k: k.to_user_string()))
        names = tuple(k.to_user_string() for k in keys)
        config = dict(run_config or {})
        return PlannedRun(
            identity=RunIdentity(self.product, names, partition, partition_range, trigger),
            asset_keys=keys,
            fingerprint=fingerprint(
                config, self.artifact_version, {n: self.code_versions.get(n) for n in names}
            ),
            run_config=config,
        )

    def request(
        self, context: Any, planned: Sequence[PlannedRun], owner: str | None = None
    ) -> tuple[list[RunRequest], list[Skipped]]:
        """For a schedule's or sensor's evaluation: RunRequests to return, and what was skipped.

        `owner` defaults to `sensor_owner(context)`; a schedule passes `schedule_owner(...)`.
        Skips are logged on the tick's log; return `SkipReason(skip_reason_text(skipped))`
        when no request is left.
        """
        owner = owner or sensor_owner(context)
        verdict = self.check(context.instance, planned, owner, context.log)
        return [p.run_request() for p in verdict.granted], verdict.skipped

    def check(
        self,
        instance: DagsterInstance,
        planned: Sequence[PlannedRun],
        owner: str,
        log: logging.Logger | None = None,
    ) -> Verdict:
        """Reserve the keys of `planned` for `owner`; granted runs must then be requested."""
        log = log or logging.getLogger(__name__)
        unique: dict[str, PlannedRun] = {}
        for p in planned:
            unique.setdefault(p.run_key, p)
        wanted = list(unique.values())
        limit = self.limits.max_requests_per_evaluation
        skipped = [Skipped(p, "over_limit") for p in wanted[limit:]]
        wanted = wanted[:limit]
        store = ReservationStore(instance)
        store.ensure_tables()
        started = now()
        store.prune(older_than=started - self.limits.reservation_retention_days * _DAY)

        keys = [p.run_key for p in wanted]
        runs = runs_by_key(instance, keys)
        held = store.lookup(keys)
        free: list[PlannedRun] = []
        conflicts: list[Skipped] = []
        for p in wanted:
            run, reservation = runs.get(p.run_key), held.get(p.run_key)
            if run is not None:
                run_fingerprint = run.tags.get(FINGERPRINT_TAG)
                if run_fingerprint == p.fingerprint:
                    skipped.append(Skipped(p, "duplicate", run.run_id))
                else:
                    conflicts.append(Skipped(p, "conflict", run.run_id, run_fingerprint))
            elif (
                reservation is None
                or reservation.owner == owner
                or reservation.reserved_at < started - LEASE_SECONDS
            ):
                free.append(p)
            elif reservation.fingerprint == p.fingerprint:
                skipped.append(Skipped(p, "in_flight"))
            else:
                conflicts.append(Skipped(p, "conflict", None, reservation.fingerprint))

        store.release(
            [p.run_key for p in free if p.run_key in held], owner, started - LEASE_SECONDS
        )
        won = store.reserve([_claim(p) for p in free], owner, started)
        granted = []
        for p in free:
            reservation = won[p.run_key]
            if reservation.owner == owner:
                granted.append(p)
            elif reservation.fingerprint == p.fingerprint:
                skipped.append(Skipped(p, "in_flight"))
            else:
                conflicts.append(Skipped(p, "conflict", None, reservation.fingerprint))

        self._record(instance, store, conflicts, started, log)
        for s in skipped:
            log.info(s.message)
        return Verdict(granted, [*conflicts, *skipped])

    def _record(
        self,
        instance: DagsterInstance,
        store: ReservationStore,
        conflicts: Sequence[Skipped],
        at: float,
        log: logging.Logger,
    ) -> None:
        """Conflicts: durable row, a warning, and (first time) an observation on each asset."""
        if not conflicts:
            return
        new = set(
            store.record_conflicts(
                [(_claim(s.planned), s.held_fingerprint or "", s.run_id) for s in conflicts], at
            )
        )
        for s in conflicts:
            log.warning(s.message)
            if s.planned.run_key not in new:
                continue
            for asset_key in s.planned.asset_keys:
                instance.report_runless_asset_event(
                    AssetObservation(
                        asset_key=asset_key,
                        partition=s.planned.identity.partition,
                        description=s.message,
                        metadata={
                            CONFLICT_RUN_KEY: s.planned.run_key,
                            TRIGGER_TAG: s.planned.identity.trigger,
                            REQUESTED_FINGERPRINT: s.planned.fingerprint,
                            HELD_FINGERPRINT: s.held_fingerprint or "",
                            HELD_BY_RUN: s.run_id or "",
                        },
                    )
                )


def _claim(p: PlannedRun) -> Claim:
    return Claim(p.run_key, p.fingerprint, p.identity.product, p.identity.as_dict())


def runs_by_key(instance: DagsterInstance, keys: Sequence[str]) -> dict[str, DagsterRun]:
    """The oldest run holding each key, in one query per chunk of keys.

    A run the coordinator refused (`floe/refused`) did no work, so it holds no key: once the
    run that held the work has ended, the same request runs.
    """
    found: dict[str, DagsterRun] = {}
    for part in chunks(list(keys)):
        runs = instance.get_runs(filters=RunsFilter(tags={RUN_KEY_TAG: list(part)}))
        for run in reversed(runs):  # newest first from storage
            if REFUSED_TAG not in run.tags:
                found.setdefault(run.tags[RUN_KEY_TAG], run)
    return found


def schedule_owner(schedule_name: str, scheduled_execution_time: datetime) -> str:
    """A tick's owner: Dagster re-runs an interrupted tick at the same time, as the same owner."""
    return f"schedule:{schedule_name}@{scheduled_execution_time.isoformat()}"


def sensor_owner(context: Any) -> str:
    """A sensor evaluation's owner: re-evaluating from the same cursor is the same owner."""
    return f"sensor:{context.sensor_name}@{context.cursor or ''}"


def skip_reason_text(skipped: Sequence[Skipped]) -> str:
    """One line per skipped run, conflicts first, for a tick's SkipReason."""
    return "; ".join(s.message for s in skipped)
