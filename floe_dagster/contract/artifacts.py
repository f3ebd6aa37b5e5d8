"""The whole `compiled_artifacts.json`: floe's contract, with this package's settings inside it.

floe's compiler writes the file; everything floe has no field for lives where floe puts an
orchestrator's own configuration, `plugins.orchestrator.config`, which floe types as an open
object and this package validates strictly. So one file is valid under floe's model and here.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, field_validator

from floe_dagster.contract.dagster_section import DagsterSection
from floe_dagster.contract.floe import (
    SEMVER,
    CompilationMetadata,
    DataContract,
    DbtProfiles,
    DeploymentConfig,
    EnforcementResultSummary,
    FloeQualityConfig,
    IngestionOutputTable,
    ManifestRef,
    ObservabilityConfig,
    PluginRef,
    ProductIdentity,
    ResolvedGovernance,
    ResolvedPlugins,
    ResolvedTransforms,
    Strict,
)

CURRENT_VERSION = "0.16.0"
OLDEST_MINOR, NEWEST_MINOR = (0, 4), (0, 16)
SUPPORTED_VERSIONS = tuple(f"0.{minor}" for minor in range(OLDEST_MINOR[1], NEWEST_MINOR[1] + 1))
SUPPORTED_RANGE = f"{OLDEST_MINOR[0]}.{OLDEST_MINOR[1]}.0 to {NEWEST_MINOR[0]}.{NEWEST_MINOR[1]}.x"
ORCHESTRATOR_TYPE = "dagster"
SETTINGS_PATH = "plugins.orchestrator.config"


def safe_name(product_name: str) -> str:
    """The dbt- and Dagster-safe form of a floe product name, derived as floe's compiler does.

    floe allows `-` in product names; dbt project/profile names and Dagster job, sensor and
    code-location names do not. floe replaces each other character by `_` and trims `_`.
    """
    return re.sub(r"[^A-Za-z0-9_]", "_", product_name).strip("_") or "floe"


def expand_placeholders(value: Any, product_name: str) -> Any:
    """floe's manifest placeholders, expanded as floe's compiler expands them in dbt profiles.

    `{product_name}` is the name as given; `{product_slug}` collapses each run of other
    characters to one `_`. floe leaves them unexpanded in `plugins.*.config`.
    """
    if isinstance(value, str):
        slug = re.sub(r"[^A-Za-z0-9_]+", "_", product_name).strip("_") or "product"
        return value.replace("{product_name}", product_name).replace("{product_slug}", slug)
    if isinstance(value, list):
        return [expand_placeholders(item, product_name) for item in value]
    if isinstance(value, dict):
        return {key: expand_placeholders(item, product_name) for key, item in value.items()}
    return value


class DagsterOrchestrator(PluginRef):
    """floe's orchestrator plugin entry, for `dagster`, with this package's settings as `config`."""

    type: Literal["dagster"] = Field(
        description="Orchestrator plugin; this package runs products compiled for `dagster`."
    )
    config: DagsterSection | None = Field(  # type: ignore[assignment]  # floe types it open (a dict); here it is ours
        default=None,
        description="floe-dagster's own settings (partitions, schedules, sensors, execution, "
        "lineage transport, ...); floe carries them as the orchestrator's open config.",
    )


class Plugins(ResolvedPlugins):
    """floe's resolved plugins, with the orchestrator's config read as this package's settings."""

    orchestrator: DagsterOrchestrator = Field(
        description="Orchestrator; `dagster` for this package, its settings in `config`."
    )


class CompiledArtifacts(Strict):
    """A product compiled by floe (contract 0.4.0 to 0.16.x), ready to become Dagster definitions."""

    version: str = Field(
        default=CURRENT_VERSION,
        pattern=SEMVER,
        description=f"Contract (schema) version; this package reads {SUPPORTED_RANGE}.",
    )
    metadata: CompilationMetadata = Field(description="Compilation provenance.")
    identity: ProductIdentity = Field(description="Product identity in the catalog.")
    mode: Literal["simple", "centralized", "mesh"] = Field(
        default="simple", description="floe deployment mode."
    )
    inheritance_chain: list[ManifestRef] = Field(
        default_factory=list, description="Platform manifests inherited from."
    )
    observability: ObservabilityConfig = Field(description="Telemetry and lineage settings.")
    plugins: Plugins = Field(
        description="Resolved platform plugins; floe-dagster's settings are in `orchestrator.config`."
    )
    deployment: DeploymentConfig | None = Field(
        default=None, description="Storage, catalog and ingestion bindings (by reference only)."
    )
    ingestion_outputs: list[IngestionOutputTable] = Field(
        default_factory=list, description="Iceberg tables ingestion sources create."
    )
    transforms: ResolvedTransforms | None = Field(
        default=None, description="The dbt models floe resolved, with tags and quality tiers."
    )
    dbt_profiles: DbtProfiles = Field(
        default=None,
        description="dbt profiles floe generated; used instead of profiles.yml when present.",
    )
    governance: ResolvedGovernance | None = Field(default=None, description="Governance.")
    enforcement_result: EnforcementResultSummary | None = Field(
        default=None, description="Compile-time policy enforcement summary."
    )
    data_contracts: list[DataContract] = Field(
        default_factory=list, description="floe data contracts."
    )
    quality_config: FloeQualityConfig | None = Field(
        default=None, description="floe quality gates and dimension weights."
    )

    @field_validator("version")
    @classmethod
    def _supported_version(cls, value: str) -> str:
        major, minor = (int(part) for part in value.split(".")[:2])
        if (major, minor) > NEWEST_MINOR:
            raise ValueError(
                f"contract version {value!r} is newer than this floe-dagster reads "
                f"({SUPPORTED_RANGE}); upgrade floe-dagster, or compile with a floe whose "
                f"contract is at most {NEWEST_MINOR[0]}.{NEWEST_MINOR[1]}"
            )
        if (major, minor) < OLDEST_MINOR:
            raise ValueError(
                f"contract version {value!r} is older than this floe-dagster reads "
                f"({SUPPORTED_RANGE}); recompile the product with a current floe"
            )
        return value

    @property
    def product_name(self) -> str:
        """The name floe gave the product (it may contain `-`)."""
        return self.metadata.product_name

    @property
    def safe_name(self) -> str:
        """The product name as dbt and Dagster accept it (`customer-360` -> `customer_360`)."""
        return safe_name(self.metadata.product_name)

    @cached_property
    def dagster(self) -> DagsterSection:
        """This package's settings; defaults throughout when floe's file carries none."""
        return self.plugins.orchestrator.config or DagsterSection()

    @cached_property
    def compute_config(self) -> dict[str, Any]:
        """`plugins.compute.config` with floe's placeholders expanded."""
        return expand_placeholders(self.plugins.compute.config or {}, self.product_name)

    @property
    def asset_key_prefix(self) -> list[str]:
        return self.dagster.asset_key_prefix or self.identity.product_id.split(".")


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors use to check `compiled_artifacts.json`."""
    schema = CompiledArtifacts.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "floe-dagster compiled_artifacts.json"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
