"""The whole `compiled_artifacts.json`: floe's contract plus this package's `dagster` section."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator

from floe_dagster.contract.dagster_section import DagsterSection
from floe_dagster.contract.floe import (
    SEMVER,
    CompilationMetadata,
    EnforcementResultSummary,
    ManifestRef,
    ObservabilityConfig,
    ProductIdentity,
    ResolvedGovernance,
    ResolvedPlugins,
    ResolvedTransforms,
    Strict,
)

CURRENT_VERSION = "0.4.0"
SUPPORTED_VERSIONS = ("0.4",)  # major.minor lines this package reads


class CompiledArtifacts(Strict):
    """A product compiled by floe, ready to become Dagster definitions."""

    version: str = Field(
        default=CURRENT_VERSION,
        pattern=SEMVER,
        description="Contract (schema) version; this package reads 0.4.x.",
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
    plugins: ResolvedPlugins = Field(description="Resolved platform plugins.")
    transforms: ResolvedTransforms = Field(description="The product's dbt models.")
    dbt_profiles: dict[str, Any] | None = Field(
        default=None, description="floe's generated profiles (carried; profiles.yml is read)."
    )
    governance: ResolvedGovernance | None = Field(default=None, description="Governance.")
    enforcement_result: EnforcementResultSummary | None = Field(
        default=None, description="Compile-time policy enforcement summary."
    )
    data_contracts: list[dict[str, Any]] = Field(
        default_factory=list, description="floe data contracts (carried, not interpreted)."
    )
    quality_config: dict[str, Any] | None = Field(
        default=None, description="floe quality configuration (carried, not interpreted)."
    )
    dagster: DagsterSection = Field(
        default_factory=DagsterSection, description="floe-dagster's own settings."
    )

    @field_validator("version")
    @classmethod
    def _supported_version(cls, value: str) -> str:
        if ".".join(value.split(".")[:2]) not in SUPPORTED_VERSIONS:
            supported = ", ".join(f"{v}.x" for v in SUPPORTED_VERSIONS)
            raise ValueError(
                f"contract version {value!r} is not supported; this floe-dagster reads {supported}. "
                "Recompile the product with a matching floe, or upgrade floe-dagster"
            )
        return value

    @property
    def product_name(self) -> str:
        return self.metadata.product_name

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
