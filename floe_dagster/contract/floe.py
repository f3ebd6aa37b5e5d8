"""floe's own part of `compiled_artifacts.json`, kept in floe's names and shapes.

A file that floe's compiler writes (contract 0.4.x) validates here unchanged, with one
deliberate difference: OTLP credentials are named by environment variable, never inline.
Sections floe defines but this package does not read are kept as open JSON objects.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SEMVER = r"^\d+\.\d+\.\d+$"
ENV_VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Strict(BaseModel):
    """Base: frozen, unknown fields rejected, so a typo is an error rather than a silent default."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class CompilationMetadata(Strict):
    """Provenance: when and from what the artifacts were compiled."""

    compiled_at: datetime = Field(description="When floe compiled these artifacts (ISO 8601).")
    floe_version: str = Field(description="Version of the floe compiler that wrote the file.")
    source_hash: str = Field(
        min_length=1, description="sha256 of the inputs the artifacts were compiled from."
    )
    product_name: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        description="The product's name; must equal the name the code location loads it under.",
    )
    product_version: str = Field(description="The product's own version.")


class ProductIdentity(Strict):
    """Who the product is in the catalog: `domain.product`."""

    product_id: str = Field(
        min_length=1,
        pattern=r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)+$",
        description="Fully qualified id, `domain.product` (e.g. `sales.customer_360`).",
    )
    domain: str = Field(min_length=1, description="The owning domain (e.g. `sales`).")
    repository: str = Field(description="Source repository URL.")
    namespace_registered: bool = Field(
        default=False, description="Whether the namespace is registered in the catalog."
    )
    registration_timestamp: datetime | None = Field(
        default=None, description="When the namespace was first registered."
    )


class ManifestRef(Strict):
    """One platform manifest the product inherits from."""

    name: str = Field(description="Manifest name.")
    version: str = Field(description="Manifest version.")
    scope: Literal["enterprise", "domain"] = Field(description="Where the manifest applies.")
    ref: str = Field(description="OCI reference of the manifest.")


class ResourceAttributes(Strict):
    """OpenTelemetry resource attributes stamped on every span."""

    service_name: str = Field(min_length=1, max_length=128, description="OTel `service.name`.")
    service_version: str = Field(pattern=r"^\d+\.\d+\.\d+.*$", description="OTel `service.version`.")
    deployment_environment: Literal["dev", "staging", "prod"] = Field(
        description="OTel `deployment.environment`; also picks the sampling ratio."
    )
    floe_namespace: str = Field(min_length=1, max_length=128, description="Catalog namespace.")
    floe_product_name: str = Field(min_length=1, max_length=128, description="Product name.")
    floe_product_version: str = Field(description="Product version.")
    floe_mode: Literal["dev", "staging", "prod"] = Field(description="Execution mode.")


class TelemetryAuth(Strict):
    """OTLP credentials, by reference only: the name of an env var that holds them."""

    auth_type: Literal["api_key", "bearer"] = Field(description="How the credential is sent.")
    credential_env: str = Field(
        pattern=ENV_VAR_NAME,
        description="Name of the environment variable (or Kubernetes secret key exposed as one) "
        "holding the API key or bearer token. Never the value itself.",
    )
    header_name: str = Field(default="Authorization", description="HTTP header carrying it.")

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            inline = [k for k in ("api_key", "bearer_token") if k in data]
            if inline:
                raise ValueError(
                    f"inline credential field {inline[0]!r} is not accepted: put the secret in an "
                    "environment variable and name it in `credential_env`"
                )
        return data


class SamplingConfig(Strict):
    """Trace sampling ratio per environment."""

    dev: float = Field(default=1.0, ge=0.0, le=1.0, description="Ratio in dev.")
    staging: float = Field(default=0.5, ge=0.0, le=1.0, description="Ratio in staging.")
    prod: float = Field(default=0.1, ge=0.0, le=1.0, description="Ratio in prod.")


class BatchProcessorConfig(Strict):
    """OTel BatchSpanProcessor settings."""

    max_queue_size: int = Field(default=2048, gt=0, description="Spans buffered in memory.")
    max_export_batch_size: int = Field(default=512, gt=0, description="Spans per export.")
    schedule_delay_millis: int = Field(default=5000, gt=0, description="Export interval (ms).")
    export_timeout_millis: int = Field(
        default=30000, gt=0, description="Per-batch export timeout (ms)."
    )


class LoggingConfig(Strict):
    """floe's structured-logging settings (carried, not interpreted here)."""

    log_level: str = Field(default="INFO", description="Minimum log level.")
    json_output: bool = Field(default=True, description="JSON (true) or console (false).")


class TelemetryConfig(Strict):
    """OpenTelemetry export settings."""

    enabled: bool = Field(default=True, description="Whether spans are exported at all.")
    otlp_endpoint: str = Field(
        default="http://otel-collector:4317", description="OTLP collector endpoint."
    )
    otlp_protocol: Literal["grpc", "http"] = Field(default="grpc", description="OTLP protocol.")
    sampling: SamplingConfig = Field(default_factory=SamplingConfig, description="Sampling.")
    resource_attributes: ResourceAttributes = Field(description="Service identification.")
    authentication: TelemetryAuth | None = Field(
        default=None, description="OTLP credentials by env-var reference."
    )
    batch_processor: BatchProcessorConfig = Field(
        default_factory=BatchProcessorConfig, description="Batch span processor."
    )
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Logging.")
    backend: str = Field(default="console", description="Telemetry backend plugin name.")


class ObservabilityConfig(Strict):
    """Telemetry and lineage switches."""

    telemetry: TelemetryConfig = Field(description="OpenTelemetry settings.")
    lineage: bool = Field(default=True, description="Whether OpenLineage events are emitted.")
    lineage_namespace: str = Field(min_length=1, description="OpenLineage job namespace.")


class PluginRef(Strict):
    """A resolved platform plugin."""

    type: str = Field(min_length=1, description="Plugin type (e.g. `duckdb`, `dagster`).")
    version: str = Field(pattern=SEMVER, description="Plugin version (semver).")
    config: dict[str, Any] | None = Field(default=None, description="Plugin-specific settings.")


class ResolvedPlugins(Strict):
    """Which plugin serves each platform role."""

    compute: PluginRef = Field(
        description="Warehouse. For `duckdb`, `config.path` is the database file, relative to the "
        "project directory (the env var FLOE_DUCKDB_PATH overrides it)."
    )
    orchestrator: PluginRef = Field(description="Orchestrator; `dagster` for this package.")
    catalog: PluginRef | None = Field(default=None, description="Catalog plugin.")
    storage: PluginRef | None = Field(default=None, description="Storage plugin.")
    ingestion: PluginRef | None = Field(default=None, description="Ingestion plugin (`dlt`).")
    semantic: PluginRef | None = Field(default=None, description="Semantic layer plugin.")


class ResolvedModel(Strict):
    """One dbt model as floe resolved it."""

    name: str = Field(min_length=1, description="dbt model name; must exist in the manifest.")
    compute: str = Field(min_length=1, description="Compute target for the model.")
    tags: list[str] | None = Field(default=None, description="dbt tags.")
    depends_on: list[str] | None = Field(default=None, description="Explicit dependencies.")
    quality_checks: list[dict[str, Any]] | None = Field(
        default=None, description="floe quality checks (carried, not interpreted here)."
    )
    quality_tier: Literal["bronze", "silver", "gold"] | None = Field(
        default=None, description="Quality tier; becomes the asset tag `floe/quality_tier`."
    )


class ResolvedTransforms(Strict):
    """The dbt models in the product."""

    models: list[ResolvedModel] = Field(min_length=1, description="Resolved models.")
    default_compute: str = Field(min_length=1, description="Default compute target.")


class ResolvedGovernance(Strict):
    """Governance settings after inheritance."""

    pii_encryption: Literal["required", "optional"] | None = Field(
        default=None, description="PII encryption policy."
    )
    audit_logging: Literal["enabled", "disabled"] | None = Field(
        default=None, description="Audit logging policy."
    )
    policy_enforcement_level: Literal["off", "warn", "strict"] | None = Field(
        default=None, description="Policy enforcement level."
    )
    data_retention_days: int | None = Field(default=None, ge=1, description="Retention in days.")


class EnforcementResultSummary(Strict):
    """Summary of floe's policy enforcement at compile time."""

    passed: bool = Field(description="Whether enforcement passed.")
    error_count: int = Field(ge=0, description="Error-severity violations.")
    warning_count: int = Field(ge=0, description="Warning-severity violations.")
    policy_types_checked: list[str] = Field(description="Policy types enforced.")
    models_validated: int = Field(ge=0, description="Models validated.")
    enforcement_level: Literal["off", "warn", "strict"] = Field(description="Level applied.")
