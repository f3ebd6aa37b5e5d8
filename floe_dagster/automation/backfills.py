"""The backfill sensor: turns held per-partition CLI backfill runs into policy-sized runs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from floe_dagster.loading.plan import ProductPlan
from floe_dagster.names import (
    BACKFILL_ID_TAG,
    HELD_TAG,
    MULTI_PARTITION_TAG_PREFIX,
    PARTITION_TAG,
    PRODUCT_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    range_label,
)


def build_backfill_sensor(plan: ProductPlan, job_defs: Sequence) -> SensorDefinition | None:
    """`job_defs`: the partitioned jobs, the same objects the definitions hold."""
    if not job_defs:
        return None
    jobs = [j.name for j in job_defs]

    @sensor(
        name=f"{plan.name}_backfill_policy",
        jobs=job_defs,
        minimum_interval_seconds=5,
        default_status=DefaultSensorStatus.RUNNING,
        description="Runs `dagster job backfill` requests in chunks of the assets' backfill "
        "policy (one run when coalesced) instead of one run per partition.",
    )
    def backfill_policy(context: SensorEvaluationContext) -> Iterator[RunRequest | SkipReason]:
        not_started = context.instance.get_runs(
            RunsFilter(statuses=[DagsterRunStatus.NOT_STARTED], tags={PRODUCT_TAG: plan.name})
        )
        by_backfill: dict[tuple[str, str], list] = defaultdict(list)
        for run in not_started:
            if HELD_TAG in run.tags and run.job_name in jobs:
                by_backfill[(run.tags[HELD_TAG], run.job_name)].append(run)
        requested = 0
        for (backfill_id, job_name), runs in sorted(by_backfill.items()):
            if context.instance.get_backfill(backfill_id) is None:
                continue  # the CLI is still creating this backfill's runs
            assert context.repository_def is not None  # a sensor always runs in its repository
            job = context.repository_def.get_job(job_name)
            assert job.partitions_def is not None  # job_defs are the partitioned jobs
            ordered = list(job.partitions_def.get_partition_keys())
            # partitions whose replacement run exists are not asked for again: after an
            # interrupted tick only some held runs may be left, and their own ranges would
            # be new keys for work already requested
            waiting = {r.tags[PARTITION_TAG] for r in runs} - _covered(
                ordered, _created(context, backfill_id)
            )
            if not waiting:
                # every replacement run exists (made on an earlier tick): drop the held ones
                for run in runs:
                    context.instance.delete_run(run.run_id)
                continue
            ranges = chunk_ranges(ordered, waiting, job.backfill_policy.max_partitions_per_run)
            for first, last in ranges:
                requested += 1
                yield RunRequest(
                    job_name=job_name,
                    # never twice, even if re-yielded
                    run_key=f"{backfill_id}:{range_label(first, last)}",
                    tags={
                        **{k: v for k, v in runs[0].tags.items() if not _per_run(k)},
                        BACKFILL_ID_TAG: backfill_id,
                        RANGE_START_TAG: first,
                        RANGE_END_TAG: last,
                    },
                )
        if not requested:
            yield SkipReason("no held backfill is waiting for its runs")

    return backfill_policy


def chunk_ranges(
    ordered_keys: list[str], selected: set[str], max_per_run: int | None
) -> list[tuple[str, str]]:
    """Contiguous runs of `selected` keys in partition order, each at most `max_per_run` long."""
    ranges: list[tuple[str, str]] = []
    current: list[str] = []
    for key in ordered_keys:
        if key in selected and (max_per_run is None or len(current) < max_per_run):
            current.append(key)
            continue
        if current:
            ranges.append((current[0], current[-1]))
        current = [key] if key in selected else []
    if current:
        ranges.append((current[0], current[-1]))
    return ranges


def _created(context: SensorEvaluationContext, backfill_id: str) -> set[tuple[str, str]]:
    """Partition ranges of the runs already made for a backfill."""
    runs = context.instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    return {
        (r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG])
        for r in runs
        if RANGE_START_TAG in r.tags and RANGE_END_TAG in r.tags
    }


def _covered(ordered_keys: list[str], ranges: set[tuple[str, str]]) -> set[str]:
    """The partitions inside `ranges`, first and last included, by position in `ordered_keys`."""
    index = {key: i for i, key in enumerate(ordered_keys)}
    covered: set[str] = set()
    for first, last in ranges:
        if first in index and last in index:
            covered.update(ordered_keys[index[first] : index[last] + 1])
    return covered


def _per_run(tag: str) -> bool:
    return tag in (HELD_TAG, PARTITION_TAG) or tag.startswith(MULTI_PARTITION_TAG_PREFIX)
