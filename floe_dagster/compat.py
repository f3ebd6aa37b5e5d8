"""The only place this package touches non-public Dagster or dagster-dbt APIs.

Each wrapper says why; tests/test_compat.py fails if one of them changes shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def is_valid_cron(expression: str) -> bool:
    """Dagster's own cron check, so the contract rejects exactly what a schedule would.

    Public API only offers it by constructing a ScheduleDefinition, which raises a
    Dagster error without the field path we want to report.
    """
    from dagster._utils.schedules import is_valid_cron_string

    return is_valid_cron_string(expression)


def select_dbt_unique_ids(
    manifest: Mapping[str, Any], project_dir: Path, select: str, exclude: str | None = None
) -> set[str]:
    """Resolve dbt selection syntax against a manifest, as `dbt ls` would, without running dbt.

    dagster-dbt uses this itself to build @dbt_assets; it is not exported, but it is the
    only way to apply dbt's selector grammar offline. The project root is set so that
    `path:` selectors match, as they do under `dbt ls`.
    """
    from dagster_dbt.utils import select_unique_ids
    from dbt_common.events.contextvars import task_contextvars

    with task_contextvars(project_root=str(project_dir)):
        return set(
            select_unique_ids(
                select=select, exclude=exclude or "", selector="", project=None, manifest_json=manifest
            )
        )
