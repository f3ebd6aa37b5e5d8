"""Published limits of the automation, checked when a product loads (docs/operations.md#limits).

A staleness tick judges every partitioned asset's window; past what was measured to fit
inside Dagster's 60 s sensor timeout it would time out on every tick instead of saying
why. So the product refuses to load, naming the setting and the largest value that fits.
"""

from __future__ import annotations

from floe_dagster.contract.artifacts import SETTINGS_PATH
from floe_dagster.contract.dagster_section import StalenessPolicy
from floe_dagster.errors import Problem

MAX_JUDGED_PARTITIONS = 100_000  # partitioned assets x window; measured, docs/benchmarks.md


def staleness_problems(
    policy: StalenessPolicy, partitioned_assets: int, where: str
) -> list[Problem]:
    """The staleness window over all partitioned assets must stay within the judged-partition limit."""
    judged = partitioned_assets * policy.window
    if not policy.enabled or judged <= MAX_JUDGED_PARTITIONS:
        return []
    fits = MAX_JUDGED_PARTITIONS // partitioned_assets
    return [
        Problem(
            where,
            f"{SETTINGS_PATH}.sensors.staleness.window",
            f"{partitioned_assets:,} partitioned assets x a window of {policy.window:,} is "
            f"{judged:,} partitions to judge each tick, above the limit of "
            f"{MAX_JUDGED_PARTITIONS:,} (docs/operations.md#limits); set the window to at most "
            f"{fits:,}, or `enabled: false` to go without the staleness sensor",
        )
    ]
