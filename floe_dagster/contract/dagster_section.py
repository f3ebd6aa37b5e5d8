"""This package's own settings: `plugins.orchestrator.config` in `compiled_artifacts.json`.

Everything floe has no field for lives here, in the place floe's compiler gives an
orchestrator's configuration (floe types it as an open object): partition schemes,
per-selection overrides, ingestion, schedules, sensor limits, quality, execution, lineage
transport and telemetry credentials. Secrets appear only as names of environment variables
or Kubernetes secrets. Absent, every setting takes its default.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from floe_dagster.compat import is_valid_cron
from floe_dagster.contract.cron import cron_problem
from floe_dagster.contract.floe import ENV_VAR_NAME, Strict

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
K8S_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
WorkloadSizeName = Literal["small", "medium", "large"]


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {value!r}: use an IANA name such as 'UTC' or 'Europe/Berlin'"
        ) from None
    return value


def _check_cron(value: str) -> str:
    problem = cron_problem(value)
    if problem is None and not is_valid_cron(value):
        problem = "is not accepted by Dagster's scheduler"
    if problem is not None:
        raise ValueError(
            f"malformed cron {value!r}: {problem}; five fields are minute hour day-of-month "
            "month day-of-week, e.g. '0 6 * * *'"
        )
    return value


class PartitionVars(Strict):
    """Names of the dbt vars (and dlt arguments) that receive a run's time window."""

    min: str = Field(
        default="min_date", pattern=IDENTIFIER, description="Window start (inclusive)."
    )
    max: str = Field(default="max_date", pattern=IDENTIFIER, description="Window end (exclusive).")


class PartitionScheme(Strict):
    """A time-window partitioning that selections and ingestion sources refer to by name."""

    name: str = Field(pattern=IDENTIFIER, description="Referred to by `partition_scheme` fields.")
    cadence: Literal["hourly", "daily", "weekly", "monthly"] = Field(
        description="One partition per hour, day, week (starting Sunday) or month."
    )
    start: datetime = Field(description="First partition's start, e.g. `2026-01-01`.")
    end: datetime | None = Field(
        default=None, description="Exclusive end; open-ended (up to now) when absent."
    )
    timezone: str = Field(default="UTC", description="IANA timezone of the partition boundaries.")
    end_offset: int = Field(
        default=0,
        description="Partitions beyond (positive) or short of (negative) the last complete one.",
    )
    vars: PartitionVars = Field(
        default_factory=PartitionVars, description="dbt var names for the window bounds."
    )

    _tz = field_validator("timezone")(_check_timezone)

    @model_validator(mode="after")
    def _start_before_end(self) -> PartitionScheme:
        if self.end is not None and self.end <= self.start:
            raise ValueError(
                f"start {self.start.isoformat()} is not before end {self.end.isoformat()}: "
                "move `start` earlier or `end` later"
            )
        return self


class BackfillPolicy(Strict):
    """How a backfill over many partitions is split into runs."""

    policy: Literal["coalesced", "chunked"] = Field(
        description="`coalesced`: one run (one dbt invocation) for any range; "
        "`chunked`: runs of at most `chunk_size` partitions."
    )
    chunk_size: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Partitions per run (at most 1,000); required for `chunked`.",
    )

    @model_validator(mode="after")
    def _chunk_size_matches_policy(self) -> BackfillPolicy:
        if self.policy == "chunked" and self.chunk_size is None:
            raise ValueError("`chunked` needs `chunk_size` (partitions per run)")
        if self.policy == "coalesced" and self.chunk_size is not None:
            raise ValueError("`coalesced` takes no `chunk_size`; use policy `chunked`")
        return self


class TransformOverride(Strict):
    """Settings for the dbt models a selection matches (later entries win on overlap)."""

    select: str = Field(min_length=1, description="dbt selection syntax, e.g. `tag:orders`.")
    exclude: str | None = Field(default=None, description="dbt exclusion syntax.")
    group: str | None = Field(default=None, pattern=IDENTIFIER, description="Dagster asset group.")
    owners: list[str] | None = Field(default=None, description="Asset owners (emails or `team:x`).")
    workload_size: WorkloadSizeName | None = Field(
        default=None, description="Resources for these models' step (see execution)."
    )
    partition_scheme: str | None = Field(
        default=None, description="Name of a partition scheme; a model may have at most one."
    )
    backfill: BackfillPolicy | None = Field(
        default=None,
        description="How backfills of these models are split into runs; coalesced when absent.",
    )
    pool: str | None = Field(default=None, description="Dagster concurrency pool for the step.")


class IngestionSource(Strict):
    """A dlt source whose tables land where a dbt source reads them."""

    name: str = Field(pattern=IDENTIFIER, description="Name of the ingestion step.")
    kind: Literal["dlt"] = Field(default="dlt", description="Ingestion tool.")
    source: str = Field(
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="`module:function` returning a dlt source, importable from the project dir.",
    )
    dbt_source: str = Field(
        min_length=1, description="The dbt source (name in sources.yml) the tables feed."
    )
    tables: list[str] = Field(
        min_length=1, description="dlt resources to load; each must be a table of `dbt_source`."
    )
    partition_scheme: str | None = Field(
        default=None,
        description="Load only the run's partition window; a range loads in one run.",
    )
    group: str | None = Field(default=None, pattern=IDENTIFIER, description="Dagster asset group.")
    workload_size: WorkloadSizeName | None = Field(default=None, description="Step resources.")
    pool: str | None = Field(default=None, description="Dagster concurrency pool for the step.")


class ScheduleSpec(Strict):
    """A cron schedule over a selection of the product."""

    name: str = Field(pattern=IDENTIFIER, description="Schedule (and job) name.")
    cron: str = Field(description="Five-field cron expression, e.g. `0 6 * * *`.")
    timezone: str = Field(default="UTC", description="IANA timezone the cron is read in.")
    select: str = Field(default="fqn:*", description="dbt selection of models to build.")
    ingestion: list[str] = Field(
        default_factory=list, description="Ingestion sources (by name) to run first."
    )
    default_status: Literal["running", "stopped"] = Field(
        default="stopped", description="Whether the schedule starts on deploy."
    )
    description: str | None = Field(default=None, description="Shown in the UI.")

    _tz = field_validator("timezone")(_check_timezone)
    _cron = field_validator("cron")(_check_cron)


class DefaultSchedule(Strict):
    """The product's one schedule when the platform sets only a cadence: every model and source."""

    cron: str = Field(description="Five-field cron expression, e.g. `0 6 * * *`.")
    timezone: str = Field(default="UTC", description="IANA timezone the cron is read in.")
    enabled: bool = Field(default=True, description="Whether the schedule starts on deploy.")

    _tz = field_validator("timezone")(_check_timezone)
    _cron = field_validator("cron")(_check_cron)


class TelemetryCredentials(Strict):
    """OTLP credentials by reference: floe writes `api_key`/`bearer_token` masked, never usable."""

    credential_env: str | None = Field(
        default=None,
        pattern=ENV_VAR_NAME,
        description="Name of the environment variable (or Kubernetes secret key exposed as one) "
        "holding the API key or bearer token named by `observability.telemetry.authentication`.",
    )


class RunKeyLimits(Strict):
    """Published limits of the global run-key check."""

    max_requests_per_evaluation: int = Field(
        default=1000,
        ge=1,
        le=1000,
        description="Run requests one tick or launch may make (at most 1,000).",
    )
    reservation_retention_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Days a run-key reservation or conflict record is kept.",
    )


class RetryBackoff(Strict):
    """Retry of failed partitions by the staleness sensor."""

    max_attempts: int = Field(default=3, ge=0, description="Attempts before giving up.")
    base_seconds: int = Field(default=300, ge=0, description="Wait after the first failure.")
    factor: float = Field(default=2.0, ge=1.0, description="Multiplier per further failure.")


class StalenessPolicy(Strict):
    """Per-partition staleness and the sensor that heals it."""

    enabled: bool = Field(default=True, description="Whether the staleness sensor is defined.")
    window: int = Field(
        default=30,
        ge=1,
        le=1000,
        description="How many recent partitions are judged (at most 1,000, and at most 100,000 "
        "over all partitioned assets).",
    )
    max_age_hours: float | None = Field(
        default=None, gt=0, description="Older than this is `stale_age`; no limit when absent."
    )
    max_requests_per_tick: int = Field(
        default=25, ge=1, le=1000, description="Refreshes per tick (at most 1,000)."
    )
    minimum_interval_seconds: int = Field(default=60, ge=30, description="Seconds between ticks.")
    retry: RetryBackoff = Field(default_factory=RetryBackoff, description="Failed-partition retry.")
    default_status: Literal["running", "stopped"] = Field(
        default="stopped", description="Whether the sensor starts on deploy."
    )


class SensorsConfig(Strict):
    """Limits for the package's sensors."""

    run_keys: RunKeyLimits = Field(default_factory=RunKeyLimits, description="Run-key check.")
    staleness: StalenessPolicy = Field(default_factory=StalenessPolicy, description="Staleness.")


class QualityConfig(Strict):
    """How dbt tests become Dagster asset checks."""

    dbt_tests_as_checks: bool = Field(default=True, description="Load dbt tests as asset checks.")
    blocking: bool = Field(
        default=True,
        description="A failed error-severity test stops downstream assets in the same run.",
    )


class WorkloadSize(Strict):
    """Kubernetes requests and limits for one step."""

    cpu_request: str = Field(description="e.g. `250m`.")
    cpu_limit: str = Field(description="e.g. `1`.")
    memory_request: str = Field(description="e.g. `512Mi`.")
    memory_limit: str = Field(description="e.g. `1Gi`.")


DEFAULT_WORKLOAD_SIZES: dict[WorkloadSizeName, WorkloadSize] = {
    "small": WorkloadSize(
        cpu_request="250m", cpu_limit="1", memory_request="512Mi", memory_limit="1Gi"
    ),
    "medium": WorkloadSize(
        cpu_request="1", cpu_limit="2", memory_request="2Gi", memory_limit="4Gi"
    ),
    "large": WorkloadSize(
        cpu_request="2", cpu_limit="4", memory_request="8Gi", memory_limit="16Gi"
    ),
}


class RetryConfig(Strict):
    """Dagster's step retry policy."""

    max_retries: int = Field(default=0, ge=0, le=10, description="Retries after a failed step.")
    delay_seconds: float = Field(default=10, ge=0, description="Wait before the first retry.")
    backoff: Literal["linear", "exponential"] = Field(
        default="exponential", description="How the wait grows."
    )


class SecretEnv(Strict):
    """One env var of every step pod taken from a key of a Kubernetes secret (`secretKeyRef`)."""

    name: str = Field(pattern=ENV_VAR_NAME, description="Env var, e.g. `WAREHOUSE_PASSWORD`.")
    secret_name: str = Field(pattern=K8S_NAME, description="Kubernetes secret holding it.")
    key: str = Field(min_length=1, description="Key in that secret.")


class KubernetesConfig(Strict):
    """Where and how steps run when `execution.mode` is `k8s`."""

    image: str = Field(min_length=1, description="Image holding the product and this package.")
    namespace: str = Field(default="default", pattern=K8S_NAME, description="Namespace for Jobs.")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent", description="Pull policy."
    )
    service_account_name: str | None = Field(default=None, description="Pod service account.")
    env_secrets: list[str] = Field(
        default_factory=list, description="Kubernetes secrets exposed to steps as env vars."
    )
    env_vars: list[str] = Field(
        default_factory=list,
        description="Names of env vars copied from the launcher into steps (names, not values).",
    )
    secret_env: list[SecretEnv] = Field(
        default_factory=list,
        description="Env vars from secret keys (`secretKeyRef`), e.g. the warehouse password; "
        "step Jobs and the Helm code server get them by reference only.",
    )
    ttl_seconds_after_finished: int = Field(default=3600, ge=0, description="Job clean-up delay.")


class ExecutionConfig(Strict):
    """How runs execute: locally (a process per step; on DuckDB the run's own, one step at a time) or one Kubernetes Job per step."""

    mode: Literal["local", "k8s"] = Field(default="local", description="Executor.")
    max_concurrent_steps: int = Field(default=2, ge=1, description="Parallel steps per run.")
    retries: RetryConfig = Field(default_factory=RetryConfig, description="Step retries.")
    default_workload_size: WorkloadSizeName = Field(default="small", description="Default size.")
    workload_sizes: dict[WorkloadSizeName, WorkloadSize] = Field(
        default_factory=lambda: dict(DEFAULT_WORKLOAD_SIZES),
        description="Requests and limits per size; missing sizes take the defaults.",
    )
    k8s: KubernetesConfig | None = Field(default=None, description="Required for mode `k8s`.")

    @model_validator(mode="after")
    def _k8s_needs_settings(self) -> ExecutionConfig:
        if self.mode == "k8s" and self.k8s is None:
            raise ValueError("mode `k8s` needs a `k8s` section with at least `image`")
        return self


class LineageTransport(Strict):
    """Where OpenLineage events go (the namespace is `observability.lineage_namespace`)."""

    type: Literal["http", "console", "file", "off"] = Field(default="off", description="Transport.")
    url: str | None = Field(default=None, description="Base URL, for `http`.")
    endpoint: str = Field(default="api/v1/lineage", description="Path under `url`, for `http`.")
    api_key_env: str | None = Field(
        default=None, pattern=ENV_VAR_NAME, description="Env var holding the API key, for `http`."
    )
    path: str | None = Field(default=None, description="File to append events to, for `file`.")
    timeout_seconds: float = Field(
        default=2.0, gt=0, le=30, description="Per-event timeout; a slow endpoint never stalls."
    )

    @model_validator(mode="after")
    def _needs_destination(self) -> LineageTransport:
        if self.type == "http" and not self.url:
            raise ValueError("transport `http` needs `url`")
        if self.type == "file" and not self.path:
            raise ValueError("transport `file` needs `path`")
        return self


class DagsterSection(Strict):
    """Everything floe-dagster needs that floe's contract has no field for."""

    asset_key_prefix: list[str] | None = Field(
        default=None,
        description="Asset key prefix; defaults to `identity.product_id` split on '.'.",
    )
    owners: list[str] = Field(default_factory=list, description="Default owners of every asset.")
    dbt_target: str | None = Field(
        default=None, description="profiles.yml target; default if absent."
    )
    ingestion: list[IngestionSource] = Field(default_factory=list, description="dlt sources.")
    transforms: list[TransformOverride] = Field(
        default_factory=list, description="Per-selection settings for dbt models."
    )
    partition_schemes: list[PartitionScheme] = Field(
        default_factory=list, description="Named time partitionings."
    )
    schedules: list[ScheduleSpec] = Field(default_factory=list, description="Cron schedules.")
    default_schedule: DefaultSchedule | None = Field(
        default=None,
        description="One schedule over the whole product, named `<product>_default`, for a "
        "platform that sets only a cadence.",
    )
    sensors: SensorsConfig = Field(default_factory=SensorsConfig, description="Sensor limits.")
    quality: QualityConfig = Field(default_factory=QualityConfig, description="Asset checks.")
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig, description="Execution.")
    lineage: LineageTransport | None = Field(
        default=None,
        description="OpenLineage transport; when absent, floe's `plugins.lineage_backend` and "
        "`observability.lineage_endpoint`/`lineage_transport` decide.",
    )
    telemetry: TelemetryCredentials = Field(
        default_factory=TelemetryCredentials, description="OTLP credentials by reference."
    )

    def effective_schedules(self, product: str) -> list[ScheduleSpec]:
        """`schedules`, plus `default_schedule` as `<product>_default` over every model and source."""
        if self.default_schedule is None:
            return list(self.schedules)
        default = ScheduleSpec(
            name=f"{product}_default",
            cron=self.default_schedule.cron,
            timezone=self.default_schedule.timezone,
            ingestion=[s.name for s in self.ingestion],
            default_status="running" if self.default_schedule.enabled else "stopped",
            description="The platform's default schedule: every model and source of the product.",
        )
        return [*self.schedules, default]

    def schedule_path(self, index: int) -> str:
        """Where the `index`-th effective schedule is written, for error messages."""
        return f"schedules[{index}]" if index < len(self.schedules) else "default_schedule"

    @model_validator(mode="after")
    def _references_resolve(self) -> DagsterSection:
        schemes = {s.name for s in self.partition_schemes}
        if len(schemes) != len(self.partition_schemes):
            raise ValueError("partition scheme names must be unique")
        scheme_users: list[tuple[str, Sequence[TransformOverride | IngestionSource]]] = [
            ("transforms", self.transforms),
            ("ingestion", self.ingestion),
        ]
        for field, items in scheme_users:
            for i, item in enumerate(items):
                if item.partition_scheme is not None and item.partition_scheme not in schemes:
                    known = ", ".join(sorted(schemes)) or "none declared"
                    raise ValueError(
                        f"{field}[{i}].partition_scheme {item.partition_scheme!r} is not a declared "
                        f"partition scheme (known: {known}); add it to `partition_schemes`"
                    )
        sources = {s.name for s in self.ingestion}
        if len(sources) != len(self.ingestion):
            raise ValueError("ingestion source names must be unique")
        for i, schedule in enumerate(self.schedules):
            for name in schedule.ingestion:
                if name not in sources:
                    raise ValueError(
                        f"schedules[{i}].ingestion names {name!r}, which is not an ingestion source"
                    )
        if len({s.name for s in self.schedules}) != len(self.schedules):
            raise ValueError("schedule names must be unique")
        return self
