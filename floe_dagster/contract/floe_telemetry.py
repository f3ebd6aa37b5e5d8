"""floe's `observability.telemetry`: OpenTelemetry export (floe_core/schemas/telemetry.py)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, field_validator, model_validator

from floe_dagster.contract.floe_base import SECRET_MASK, Strict

CREDENTIAL_ENV_SETTING = "plugins.orchestrator.config.telemetry.credential_env"


class ResourceAttributes(Strict):
    """OpenTelemetry resource attributes stamped on every span."""

    service_name: str = Field(min_length=1, max_length=128, description="OTel `service.name`.")
    service_version: str = Field(
        pattern=r"^\d+\.\d+\.\d+.*$", description="OTel `service.version` (starts with semver)."
    )
    deployment_environment: Literal["dev", "staging", "prod"] = Field(
        description="OTel `deployment.environment`; also picks the sampling ratio."
    )
    floe_namespace: str = Field(min_length=1, max_length=128, description="Catalog namespace.")
    floe_product_name: str = Field(min_length=1, max_length=128, description="Product name.")
    floe_product_version: str = Field(description="Product version.")
    floe_mode: Literal["dev", "staging", "prod"] = Field(description="Execution mode.")


class TelemetryAuth(Strict):
    """OTLP credentials. floe writes the key or token masked; this package never takes the value.

    `api_key` / `bearer_token` accept only floe's mask (`**********`) or nothing. The real
    credential comes by reference: an environment variable named in
    `plugins.orchestrator.config.telemetry.credential_env`.
    """

    auth_type: Literal["api_key", "bearer"] = Field(description="How the credential is sent.")
    api_key: str | None = Field(
        default=None, description="The API key as floe writes it: masked (`**********`)."
    )
    bearer_token: str | None = Field(
        default=None, description="The bearer token as floe writes it: masked (`**********`)."
    )
    header_name: str = Field(default="Authorization", description="HTTP header carrying it.")

    @field_validator("api_key", "bearer_token")
    @classmethod
    def _masked_only(cls, value: str | None, info) -> str | None:
        if value is None or value == SECRET_MASK:
            return value
        # Never put `value` in the message: it is a credential.
        raise ValueError(
            f"observability.telemetry.authentication.{info.field_name} holds an unmasked "
            "credential, which this package does not accept. Remove the value (floe writes it "
            f"masked as '{SECRET_MASK}') and put the credential in an environment variable; "
            f"name that variable in `{CREDENTIAL_ENV_SETTING}`"
        )

    @model_validator(mode="after")
    def _credential_present(self) -> TelemetryAuth:
        needed = {"api_key": self.api_key, "bearer": self.bearer_token}[self.auth_type]
        if not needed:
            field = "api_key" if self.auth_type == "api_key" else "bearer_token"
            raise ValueError(f"auth_type {self.auth_type!r} needs `{field}` (masked)")
        return self


class SamplingConfig(Strict):
    """Trace sampling ratio per environment."""

    dev: float = Field(default=1.0, ge=0.0, le=1.0, description="Ratio in dev.")
    staging: float = Field(default=0.5, ge=0.0, le=1.0, description="Ratio in staging.")
    prod: float = Field(default=0.1, ge=0.0, le=1.0, description="Ratio in prod.")


class BatchProcessorConfig(Strict):
    """OTel BatchSpanProcessor settings; a batch can be no larger than the queue."""

    max_queue_size: int = Field(default=2048, gt=0, description="Spans buffered in memory.")
    max_export_batch_size: int = Field(default=512, gt=0, description="Spans per export.")
    schedule_delay_millis: int = Field(default=5000, gt=0, description="Export interval (ms).")
    export_timeout_millis: int = Field(
        default=30000, gt=0, description="Per-batch export timeout (ms)."
    )

    @model_validator(mode="after")
    def _batch_fits_queue(self) -> BatchProcessorConfig:
        if self.max_export_batch_size > self.max_queue_size:
            raise ValueError(
                f"max_export_batch_size ({self.max_export_batch_size}) is larger than "
                f"max_queue_size ({self.max_queue_size})"
            )
        return self


BatchSpanProcessorConfig = BatchProcessorConfig  # floe's name


def _log_level_default() -> str:
    """floe's default: FLOE_LOG_LEVEL, else INFO."""
    return os.environ.get("FLOE_LOG_LEVEL", "INFO").upper()


def _json_output_default() -> bool:
    """floe's default: JSON unless FLOE_LOG_JSON is false/0/no."""
    return os.environ.get("FLOE_LOG_JSON", "true").lower() not in ("false", "0", "no")


class LoggingConfig(Strict):
    """floe's structured-logging settings."""

    log_level: str = Field(
        default_factory=_log_level_default,
        pattern=r"^(?i:DEBUG|INFO|WARNING|ERROR|CRITICAL)$",
        description="Minimum log level, any case (default: FLOE_LOG_LEVEL or INFO).",
    )
    json_output: bool = Field(
        default_factory=_json_output_default,
        description="JSON (true) or console (false) (default: FLOE_LOG_JSON or true).",
    )


class TelemetryConfig(Strict):
    """OpenTelemetry export settings."""

    enabled: bool = Field(default=True, description="Whether spans are exported at all.")
    otlp_endpoint: str = Field(
        default="http://localhost:4317", description="OTLP collector endpoint."
    )
    otlp_protocol: Literal["grpc", "http"] = Field(default="grpc", description="OTLP protocol.")
    sampling: SamplingConfig = Field(default_factory=SamplingConfig, description="Sampling.")
    resource_attributes: ResourceAttributes = Field(description="Service identification.")
    authentication: TelemetryAuth | None = Field(
        default=None, description="OTLP credentials (masked; the value comes by env-var reference)."
    )
    batch_processor: BatchProcessorConfig = Field(
        default_factory=BatchProcessorConfig, description="Batch span processor."
    )
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Logging.")
    backend: str = Field(default="console", description="Telemetry backend plugin name.")
