"""Every tag, label, metadata key and asset key this package writes or reads, defined once.

A sensor that filters runs on a tag and the code that writes it must agree letter for letter;
a typo in either silently breaks the sensor. So the strings live here and only here
(tests/test_names.py fails on a second literal), and this module imports nothing of the
package: any layer may use it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from dagster import AssetExecutionContext, AssetKey

# Run tags this package writes (and its sensors read back).
PRODUCT_TAG = "floe/product"
RUN_KEY_TAG = "floe/run_key"
FINGERPRINT_TAG = "floe/fingerprint"
TRIGGER_TAG = "floe/trigger"
HELD_TAG = "floe/held_for_backfill"
# A run the instance's coordinator refused: why, and the queued or running run it duplicates.
REFUSED_TAG = "floe/refused"
REFUSED_FOR_TAG = "floe/refused_for_run"

# Asset tags.
TIER_TAG = "floe/quality_tier"
SIZE_TAG = "floe/workload_size"
SCHEME_TAG = "floe/partition_scheme"

# Kubernetes labels on step Jobs and pods (the product's label is PRODUCT_TAG).
STEP_LABEL = "floe/step"

# Metadata of a run-key conflict's asset observation.
CONFLICT_RUN_KEY = "floe/run_key_conflict"
REQUESTED_FINGERPRINT = "floe/requested_fingerprint"
HELD_FINGERPRINT = "floe/held_fingerprint"
HELD_BY_RUN = "floe/held_by_run"

# The staleness check: its name, and the metadata key of the state it last recorded.
STALENESS_CHECK = "partition_staleness"
STATE_DIGEST_KEY = "floe/state_digest"

# Metadata of a floe quality check's spec.
CHECK_NAME_KEY = "floe/check"
CHECK_TYPE_KEY = "floe/check_type"
CHECK_DIMENSION_KEY = "floe/dimension"
CHECK_SEVERITY_KEY = "floe/severity"
CHECK_COLUMN_KEY = "floe/column"

# Dagster's own tags and metadata keys (its constants are not public API).
PARTITION_TAG = "dagster/partition"
MULTI_PARTITION_TAG_PREFIX = "dagster/partition/"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
BACKFILL_ID_TAG = "dagster/backfill"
DAGSTER_RUN_KEY_TAG = "dagster/run_key"
CODE_VERSION_TAG = "dagster/code_version"
TABLE_NAME_KEY = "dagster/table_name"
ICEBERG_TABLE_KEY = "floe/iceberg_table"
ICEBERG_SNAPSHOT_KEY = "floe/iceberg_snapshot_id"
ICEBERG_WRITE_ID_PROPERTY = "floe.write-id"  # snapshot summary: which step attempt wrote it
ROW_COUNT_KEY = "dagster/row_count"
STEP_CONFIG_TAG = "dagster-k8s/config"
# Where a run came from (set by Dagster when it creates the run).
SENSOR_NAME_TAG = "dagster/sensor_name"
SCHEDULE_NAME_TAG = "dagster/schedule_name"
PARENT_RUN_ID_TAG = "dagster/parent_run_id"
AUTOMATION_CONDITION_TAG = "dagster/from_automation_condition"
AUTO_MATERIALIZE_TAG = "dagster/auto_materialize"

RANGE_SEPARATOR = "..."


def model_key(prefix: list[str], model_name: str) -> AssetKey:
    return AssetKey([*prefix, model_name])


def table_key(prefix: list[str], dbt_source: str, table: str) -> AssetKey:
    """Key of a raw table: the dlt asset that loads it and the dbt source that reads it."""
    return AssetKey([*prefix, dbt_source, table])


def step_labels(product: str, step: str) -> dict[str, str]:
    """The labels of one step's Kubernetes Job and pod: whose it is and which step."""
    return {PRODUCT_TAG: product, STEP_LABEL: step}


def range_label(first: str, last: str) -> str:
    """`first...last`: a partition range as Dagster's CLI and `--partition-range` write it."""
    return f"{first}{RANGE_SEPARATOR}{last}"


def parse_range_label(label: str) -> tuple[str, str] | None:
    """(first, last) of a `first...last` label; None when it is not one."""
    parts = label.split(RANGE_SEPARATOR)
    return (parts[0], parts[1]) if len(parts) == 2 else None


def partition_window(context: AssetExecutionContext) -> tuple[datetime, datetime] | None:
    """The run's time window, one partition or a whole range; None when it has no partition."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    window = context.partition_time_window
    return window.start, window.end


def digest(text: str) -> str:
    """sha256 hex of `text`: names derived from content (run keys, triggers, trace ids)."""
    return hashlib.sha256(text.encode()).hexdigest()


def json_digest(value: Any) -> str:
    """`digest` of `value` as canonical JSON, so equal values always get the same name."""
    return digest(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True))
