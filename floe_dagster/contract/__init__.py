"""The compiled-artifacts contract: what a product compiles to, validated before anything is built."""

from floe_dagster.contract.artifacts import SUPPORTED_VERSIONS, CompiledArtifacts
from floe_dagster.contract.dagster_section import DagsterSection

__all__ = ["SUPPORTED_VERSIONS", "CompiledArtifacts", "DagsterSection"]
