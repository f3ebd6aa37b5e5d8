"""How dbt nodes become Dagster asset specs under the product's namespace."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetCheckSpec, AssetKey, AssetSpec, PartitionsDefinition
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from floe_dagster.compat import is_valid_tag_key
from floe_dagster.loading.plan import ModelSettings, ProductPlan
from floe_dagster.names import (
    PRODUCT_TAG,
    SCHEME_TAG,
    SIZE_TAG,
    TIER_TAG,
    model_key,
    table_key,
)


class FloeDbtTranslator(DagsterDbtTranslator):
    """Keys under the product prefix, groups/owners/sizes from the artifacts, checksum code versions."""

    def __init__(
        self, plan: ProductPlan, partitions: Mapping[str, PartitionsDefinition] | None = None
    ) -> None:
        quality = plan.files.artifacts.dagster.quality
        super().__init__(
            DagsterDbtTranslatorSettings(enable_asset_checks=quality.dbt_tests_as_checks)
        )
        self._plan = plan
        self._prefix = plan.files.artifacts.asset_key_prefix
        self._partitions = dict(partitions or {})
        self._blocking = quality.blocking

    def _settings_for(self, props: Mapping[str, Any]) -> ModelSettings | None:
        return self._plan.model_settings.get(props["unique_id"])

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return table_key(
                self._prefix, dbt_resource_props["source_name"], dbt_resource_props["name"]
            )
        return model_key(self._prefix, dbt_resource_props["name"])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        settings = self._settings_for(dbt_resource_props)
        if settings and settings.group:
            return settings.group
        return super().get_group_name(dbt_resource_props)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str] | None:
        settings = self._settings_for(dbt_resource_props)
        if settings and settings.owners:
            return list(settings.owners)
        owners = super().get_owners(dbt_resource_props)
        return list(owners) if owners is not None else None

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        tags = {**super().get_tags(dbt_resource_props), PRODUCT_TAG: self._plan.name}
        settings = self._settings_for(dbt_resource_props)
        if settings:
            tags[SIZE_TAG] = settings.workload_size
            if settings.partition_scheme:
                tags[SCHEME_TAG] = settings.partition_scheme
            if settings.quality_tier:
                tags[TIER_TAG] = settings.quality_tier
            tags.update(
                {t: "" for t in settings.floe_tags if t not in tags and is_valid_tag_key(t)}
            )
        return tags

    def get_code_version(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """The dbt file checksum: it changes exactly when the model's SQL does."""
        checksum = dbt_resource_props.get("checksum", {}).get("checksum")
        return checksum or super().get_code_version(dbt_resource_props)

    def get_partitions_def(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> PartitionsDefinition | None:
        settings = self._settings_for(dbt_resource_props)
        if settings and settings.partition_scheme:
            return self._partitions.get(settings.partition_scheme)
        return None

    def get_asset_check_spec(
        self,
        asset_spec: AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: Any,
    ) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or self._blocking or not spec.blocking:
            return spec
        return AssetCheckSpec(
            name=spec.name,
            asset=spec.asset_key,
            description=spec.description,
            additional_deps=spec.additional_deps,
            metadata=spec.metadata,
            blocking=False,
        )
