"""Partition schemes from the artifacts as Dagster time-window partitions."""

from __future__ import annotations

from dagster import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)

from floe_dagster.contract.dagster_section import PartitionScheme

_BY_CADENCE = {
    "hourly": (HourlyPartitionsDefinition, "%Y-%m-%d-%H:%M"),
    "daily": (DailyPartitionsDefinition, "%Y-%m-%d"),
    "weekly": (WeeklyPartitionsDefinition, "%Y-%m-%d"),
    "monthly": (MonthlyPartitionsDefinition, "%Y-%m-%d"),
}


def build_partitions(schemes: list[PartitionScheme]) -> dict[str, TimeWindowPartitionsDefinition]:
    return {scheme.name: partitions_for(scheme) for scheme in schemes}


def partitions_for(scheme: PartitionScheme) -> TimeWindowPartitionsDefinition:
    cls, fmt = _BY_CADENCE[scheme.cadence]
    return cls(
        start_date=scheme.start.strftime(fmt),
        end_date=scheme.end.strftime(fmt) if scheme.end else None,
        timezone=scheme.timezone,
        end_offset=scheme.end_offset,
    )
