"""floe's own part of `compiled_artifacts.json`, kept in floe's names, shapes and bounds.

Mirrors floe-core 0.1.0a1's `CompiledArtifacts` contract 0.16.0 (floe_core/schemas/) field for
field, so a file floe's compiler writes at any contract version from 0.4.0 to 0.16.0 validates
here unchanged and nothing in it is dropped. The sub-models live in `floe_telemetry`,
`floe_quality`, `floe_deployment` and `floe_secrets`, and are re-exported here.

Deliberate differences from floe's model:
- `observability.telemetry.authentication.api_key` / `bearer_token`: floe writes them masked
  (`**********`); only the mask (or nothing) is accepted. An unmasked value is an error that
  points to `plugins.orchestrator.config.telemetry.credential_env`, and is never echoed.
- `data_contracts[]`: floe types each entry as an Open Data Contract Standard (ODCS) document,
  a third-party standard; here each is kept as the JSON object it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from floe_dagster.contract.floe_base import (
    ENV_VAR_NAME,
    PRODUCT_NAME_PATTERN,
    SECRET_MASK,
    SEMVER,
    AwsAccountId,
    NonEmptyString,
    Strict,
)
from floe_dagster.contract.floe_deployment import (
    CatalogDeploymentBinding,
    CredentialRef,
    DagsterStorageBinding,
    DbtCatalogBinding,
    DbtStorageBinding,
    DeploymentConfig,
    DltIngestionBinding,
    GlueCatalogDeploymentBinding,
    IcebergRestCatalogBinding,
    IcebergRestOAuth2Binding,
    IngestionDeploymentBinding,
    IngestionOutputTable,
    KubernetesSecretRef,
    PolarisCatalogDeploymentBinding,
    StorageBucketRequirement,
    StorageCapabilities,
    StorageCredentialBinding,
    StorageDeploymentBinding,
    StorageProvisioningIntent,
    StorageRuntimeBinding,
    StorageServiceEndpoint,
    StorageWarehouse,
)
from floe_dagster.contract.floe_quality import (
    CalculationParameters,
    DimensionWeights,
    FloeQualityConfig,
    GateTier,
    QualityCheck,
    QualityGates,
    QualityThresholds,
)
from floe_dagster.contract.floe_secrets import check_dbt_profiles, check_plugin_config
from floe_dagster.contract.floe_telemetry import (
    BatchProcessorConfig,
    BatchSpanProcessorConfig,
    LoggingConfig,
    ResourceAttributes,
    SamplingConfig,
    TelemetryAuth,
    TelemetryConfig,
)


class CompilationMetadata(Strict):
    """Provenance: when and from what the artifacts were compiled."""

    compiled_at: datetime = Field(description="When floe compiled these artifacts (ISO 8601).")
    floe_version: str = Field(description="Version of the floe compiler that wrote the file.")
    source_hash: str = Field(description="Hash of the inputs the artifacts were compiled from.")
    product_name: str = Field(
        min_length=1,
        max_length=128,
        pattern=PRODUCT_NAME_PATTERN,
        description="The product's floe name: a letter, then letters, digits, `_` or `-` "
        "(e.g. `customer-360`).",
    )
    product_version: str = Field(description="The product's own version.")


class ProductIdentity(Strict):
    """Who the product is in the catalog."""

    product_id: str = Field(
        min_length=1, description="Fully qualified id, usually `domain.product`."
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


class ObservabilityConfig(Strict):
    """Telemetry and lineage settings."""

    telemetry: TelemetryConfig = Field(description="OpenTelemetry settings.")
    lineage: bool = Field(default=True, description="Whether OpenLineage events are emitted.")
    lineage_namespace: str = Field(min_length=1, description="OpenLineage job namespace.")
    lineage_endpoint: str | None = Field(
        default=None, description="OpenLineage HTTP endpoint (0.8.0+)."
    )
    lineage_transport: Literal["http", "console", "noop"] | None = Field(
        default=None, description="OpenLineage transport (0.8.0+)."
    )


class PluginRef(Strict):
    """A resolved platform plugin. Its `config` never holds a credential field."""

    type: str = Field(min_length=1, description="Plugin type (e.g. `duckdb`, `dagster`).")
    version: str = Field(pattern=SEMVER, description="Plugin version (semver).")
    config: dict[str, Any] | None = Field(default=None, description="Plugin-specific settings.")

    @model_validator(mode="after")
    def _config_secret_free(self) -> PluginRef:
        config = self.config
        if config is not None and not isinstance(config, dict) and hasattr(config, "model_dump"):
            config = config.model_dump(mode="json")  # a subclass may type `config` as a model
        if config is not None:
            check_plugin_config(config, f"plugins.{self.type}.config")
        return self


class ResolvedPlugins(Strict):
    """Which plugin serves each platform role."""

    compute: PluginRef = Field(description="Warehouse / compute engine.")
    orchestrator: PluginRef = Field(description="Orchestrator; `dagster` for this package.")
    catalog: PluginRef | None = Field(default=None, description="Iceberg catalog.")
    storage: PluginRef | None = Field(default=None, description="Object storage.")
    ingestion: PluginRef | None = Field(default=None, description="Ingestion (0.6.0+).")
    semantic: PluginRef | None = Field(default=None, description="Semantic layer.")
    lineage_backend: PluginRef | None = Field(default=None, description="Lineage backend (0.5.0+).")
    secrets: PluginRef | None = Field(default=None, description="Secrets provider (0.11.0+).")
    identity: PluginRef | None = Field(default=None, description="Identity provider (0.11.0+).")


class ResolvedModel(Strict):
    """One dbt model as floe resolved it."""

    name: str = Field(min_length=1, description="dbt model name.")
    compute: str = Field(min_length=1, description="Compute target for the model.")
    tags: list[str] | None = Field(default=None, description="dbt tags.")
    depends_on: list[str] | None = Field(default=None, description="Explicit dependencies.")
    quality_checks: list[QualityCheck] | None = Field(
        default=None, description="floe quality checks on the model (0.4.0+)."
    )
    quality_tier: Literal["bronze", "silver", "gold"] | None = Field(
        default=None, description="Quality tier (0.4.0+)."
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
    default_ttl_hours: int | None = Field(
        default=None, ge=1, le=8760, description="Partition TTL in hours (0.9.0+)."
    )
    snapshot_keep_last: int | None = Field(
        default=None, ge=1, le=100, description="Iceberg snapshots kept per table (0.9.0+)."
    )
    stale_table_recovery_mode: Literal["strict", "repair"] | None = Field(
        default=None, description="Stale Iceberg metadata recovery (0.10.0+)."
    )


class EnforcementResultSummary(Strict):
    """Summary of floe's policy enforcement at compile time."""

    passed: bool = Field(description="Whether enforcement passed.")
    error_count: int = Field(ge=0, description="Error-severity violations.")
    warning_count: int = Field(ge=0, description="Warning-severity violations.")
    policy_types_checked: list[str] = Field(description="Policy types enforced.")
    models_validated: int = Field(ge=0, description="Models validated.")
    enforcement_level: Literal["off", "warn", "strict"] = Field(description="Level applied.")
    rbac_principal: str | None = Field(
        default=None, description="Principal from RBAC validation (0.7.0+)."
    )
    secrets_scanned: int = Field(
        default=0, ge=0, description="Secret-scanning violations found (0.7.0+)."
    )


DataContract = Annotated[
    dict[str, Any],
    Field(description="An Open Data Contract Standard (ODCS v3) document, as a JSON object."),
]
"""One entry of `data_contracts`.

floe's `DataContract` is not a floe definition: it is the Open Data Contract Standard model
(`open_data_contract_standard.model.OpenDataContractStandard`, a third-party standard) with no
fields of floe's own. It is kept here as the JSON object floe wrote, whole and unchanged.
"""


def check_dbt_profiles_secret_free(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """floe's rule for `dbt_profiles`: no inline credentials; `{{ env_var('X') }}` is fine."""
    if value is not None:
        check_dbt_profiles(value, "dbt_profiles")
    return value


DbtProfiles = Annotated[dict[str, Any] | None, AfterValidator(check_dbt_profiles_secret_free)]
"""The type of `CompiledArtifacts.dbt_profiles`: floe's generated dbt profiles (profile name ->
profile), an open object in which credential fields may only be dbt `env_var()` references."""


__all__ = [
    "ENV_VAR_NAME",
    "PRODUCT_NAME_PATTERN",
    "SECRET_MASK",
    "SEMVER",
    "AwsAccountId",
    "BatchProcessorConfig",
    "BatchSpanProcessorConfig",
    "CalculationParameters",
    "CatalogDeploymentBinding",
    "CompilationMetadata",
    "CredentialRef",
    "DagsterStorageBinding",
    "DataContract",
    "DbtCatalogBinding",
    "DbtProfiles",
    "DbtStorageBinding",
    "DeploymentConfig",
    "DimensionWeights",
    "DltIngestionBinding",
    "EnforcementResultSummary",
    "FloeQualityConfig",
    "GateTier",
    "GlueCatalogDeploymentBinding",
    "IcebergRestCatalogBinding",
    "IcebergRestOAuth2Binding",
    "IngestionDeploymentBinding",
    "IngestionOutputTable",
    "KubernetesSecretRef",
    "LoggingConfig",
    "ManifestRef",
    "NonEmptyString",
    "ObservabilityConfig",
    "PluginRef",
    "PolarisCatalogDeploymentBinding",
    "ProductIdentity",
    "QualityCheck",
    "QualityGates",
    "QualityThresholds",
    "ResolvedGovernance",
    "ResolvedModel",
    "ResolvedPlugins",
    "ResolvedTransforms",
    "ResourceAttributes",
    "SamplingConfig",
    "StorageBucketRequirement",
    "StorageCapabilities",
    "StorageCredentialBinding",
    "StorageDeploymentBinding",
    "StorageProvisioningIntent",
    "StorageRuntimeBinding",
    "StorageServiceEndpoint",
    "StorageWarehouse",
    "Strict",
    "TelemetryAuth",
    "TelemetryConfig",
    "check_dbt_profiles_secret_free",
]
