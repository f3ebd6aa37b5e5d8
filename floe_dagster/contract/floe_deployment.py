"""floe's `deployment` bindings (contract 0.10.0+) and `ingestion_outputs` (0.14.0+).

Where a product's storage, catalog and ingestion live, as floe's compiler resolved them.
Credentials appear only by reference (Kubernetes secret keys, env-var names, service
accounts); the free-form fragments are checked for secret material (floe_secrets.py).
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from floe_dagster.contract.floe_base import AwsAccountId, NonEmptyString, Strict
from floe_dagster.contract.floe_secrets import (
    check_dlt_filesystem,
    check_fragment,
    source_path_has_credentials,
)

CredentialSource = Literal[
    "kubernetes-secret",
    "environment",
    "workload-identity",
    "external-secret-sync",
    "csi-secret-volume",
    "none",
]
SECRET_BACKED = frozenset({"kubernetes-secret", "external-secret-sync", "csi-secret-volume"})
CreatePolicy = Literal["create-if-missing", "must-exist", "never-create"]

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_TABLE_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

EnvRefs = dict[str, NonEmptyString]


class KubernetesSecretRef(Strict):
    """Keys of a Kubernetes Secret (names only, never values)."""

    name: NonEmptyString = Field(description="Secret name (DNS subdomain, at most 253 chars).")
    namespace: NonEmptyString = Field(description="Secret namespace (DNS label, at most 63 chars).")
    keys: dict[str, NonEmptyString] = Field(
        default_factory=dict, description="Logical credential name -> key in the Secret."
    )

    @field_validator("name")
    @classmethod
    def _k8s_name(cls, value: str) -> str:
        if len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value):
            raise ValueError(
                "a Secret name is a Kubernetes DNS subdomain of at most 253 characters"
            )
        return value

    @field_validator("namespace")
    @classmethod
    def _k8s_namespace(cls, value: str) -> str:
        if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
            raise ValueError("a namespace is a Kubernetes DNS label of at most 63 characters")
        return value


class CredentialRef(Strict):
    """Where a consumer finds one credential. Secret-backed sources name a key; others do not."""

    source: CredentialSource = Field(description="Kind of reference.")
    name: NonEmptyString = Field(description="Secret, env-var or service-account name.")
    key: NonEmptyString | None = Field(default=None, description="Key in the secret.")

    @model_validator(mode="after")
    def _key_matches_source(self) -> CredentialRef:
        if self.source in SECRET_BACKED and self.key is None:
            raise ValueError(f"a {self.source} credential reference needs `key`")
        if self.source not in SECRET_BACKED and self.key is not None:
            raise ValueError(f"a {self.source} credential reference takes no `key`")
        return self


class StorageCredentialBinding(Strict):
    """How storage credentials reach the workload; `mode` decides which reference is given.

    Secret-backed modes take exactly `secret_ref`, `environment` exactly `env_refs`,
    `workload-identity` exactly `service_account_ref`, and `none` nothing.
    """

    mode: CredentialSource = Field(description="Credential projection mode.")
    secret_ref: KubernetesSecretRef | None = Field(default=None, description="Secret holding them.")
    env_refs: EnvRefs = Field(
        default_factory=dict, description="Logical credential name -> env-var name."
    )
    service_account_ref: NonEmptyString | None = Field(
        default=None, description="Service account for workload identity."
    )

    @model_validator(mode="after")
    def _sources_match_mode(self) -> StorageCredentialBinding:
        given = {
            "secret_ref": self.secret_ref is not None,
            "env_refs": bool(self.env_refs),
            "service_account_ref": self.service_account_ref is not None,
        }
        wanted = (
            "secret_ref"
            if self.mode in SECRET_BACKED
            else {"environment": "env_refs", "workload-identity": "service_account_ref"}.get(
                self.mode
            )
        )
        if wanted is None:
            if any(given.values()):
                raise ValueError(
                    "credential mode 'none' takes no secret_ref, env_refs or service_account_ref"
                )
            return self
        if not given[wanted]:
            raise ValueError(f"credential mode {self.mode!r} needs `{wanted}`")
        others = [name for name, present in given.items() if present and name != wanted]
        if others:
            raise ValueError(
                f"credential mode {self.mode!r} takes only `{wanted}`, not `{others[0]}`"
            )
        return self


class StorageWarehouse(Strict):
    """The warehouse location in object storage."""

    uri: NonEmptyString = Field(description="Warehouse URI.")
    bucket: NonEmptyString = Field(description="Bucket.")
    prefix: str = Field(default="", description="Key prefix inside the bucket.")


class StorageBucketRequirement(Strict):
    """A bucket the platform wants, and whether it may be created."""

    name: NonEmptyString = Field(description="Bucket name.")
    uri: NonEmptyString = Field(description="Bucket URI.")
    purpose: Literal[
        "warehouse", "artifacts", "landing", "quarantine", "checkpoints", "exports"
    ] = Field(description="What the bucket holds.")
    create_policy: CreatePolicy = Field(description="Whether it may be created.")
    prefixes: list[str] = Field(default_factory=list, description="Prefixes used in it.")
    features: dict[str, str] = Field(default_factory=dict, description="Bucket features.")
    tags: dict[str, str] = Field(default_factory=dict, description="Bucket tags.")


class StorageCapabilities(Strict):
    """What the storage offers consumers."""

    protocols: list[NonEmptyString] = Field(default_factory=list, description="Protocols.")
    credential_modes: list[NonEmptyString] = Field(
        default_factory=list, description="Credential modes supported."
    )
    identity_modes: list[NonEmptyString] = Field(
        default_factory=list, description="Workload identity modes (0.12.0+)."
    )
    sts_supported: bool = Field(default=False, description="Whether STS is available.")
    path_style_access: bool = Field(default=False, description="Whether path-style URLs are used.")


class StorageProvisioningIntent(Strict):
    """Whether and how buckets get provisioned (intent only)."""

    enabled: bool = Field(default=False, description="Whether provisioning is on.")
    mode: Literal["helm-job", "external", "manual", "future-plugin-runtime"] = Field(
        default="manual", description="Who provisions."
    )
    default_create_policy: CreatePolicy = Field(
        default="never-create", description="Policy for buckets that name none."
    )


class StorageRuntimeBinding(Strict):
    """Storage fragments for the runtimes (secret-free)."""

    pyiceberg_properties: dict[str, str] = Field(
        default_factory=dict, description="PyIceberg catalog properties."
    )
    dbt_profile_fragment: dict[str, Any] = Field(
        default_factory=dict, description="dbt profile keys for storage."
    )
    dagster_resources: dict[str, Any] = Field(
        default_factory=dict, description="Dagster resource config for storage."
    )
    env_refs: EnvRefs = Field(default_factory=dict, description="Setting -> env-var name.")

    @field_validator("pyiceberg_properties", "dbt_profile_fragment", "dagster_resources")
    @classmethod
    def _secret_free(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_fragment(value, "runtime")
        return value


class StorageServiceEndpoint(Strict):
    """The storage service's endpoints."""

    internal_url: NonEmptyString = Field(description="URL inside the cluster.")
    external_url: NonEmptyString = Field(description="URL from outside.")
    region: NonEmptyString = Field(description="Region.")
    warehouse_path: NonEmptyString = Field(description="Warehouse path.")
    path_style_access: bool = Field(default=False, description="Path-style URLs.")


class DbtStorageBinding(Strict):
    """Storage as dbt sees it."""

    profile_name: NonEmptyString = Field(description="dbt profile name.")
    target_name: NonEmptyString = Field(description="dbt target name.")
    schema_name: NonEmptyString = Field(description="dbt schema.")
    profile_fragment: dict[str, Any] = Field(
        default_factory=dict, description="Profile keys (secret-free)."
    )
    env_refs: EnvRefs = Field(default_factory=dict, description="Setting -> env-var name.")

    @field_validator("profile_fragment")
    @classmethod
    def _secret_free(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_fragment(value, "dbt.profile_fragment")
        return value


class DagsterStorageBinding(Strict):
    """Storage as Dagster sees it."""

    resource_key: NonEmptyString = Field(description="Resource key for storage.")
    asset_io_manager_key: NonEmptyString = Field(description="IO manager key for assets.")
    resources: dict[str, Any] = Field(default_factory=dict, description="Resource config.")
    env_refs: EnvRefs = Field(default_factory=dict, description="Setting -> env-var name.")

    @field_validator("resources")
    @classmethod
    def _secret_free(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_fragment(value, "dagster.resources")
        return value


class StorageDeploymentBinding(Strict):
    """Where the product's data is stored, and how each runtime reaches it."""

    provider: NonEmptyString = Field(description="Storage provider (e.g. `minio`, `s3`).")
    protocol: NonEmptyString = Field(default="s3-compatible", description="Storage protocol.")
    endpoint: StorageServiceEndpoint = Field(description="Service endpoints.")
    warehouse: StorageWarehouse | None = Field(default=None, description="Warehouse location.")
    allowed_locations: list[NonEmptyString] = Field(
        default_factory=list, description="Locations tables may use."
    )
    buckets: list[StorageBucketRequirement] = Field(
        default_factory=list, description="Buckets wanted."
    )
    credentials: StorageCredentialBinding = Field(description="Credentials, by reference.")
    capabilities: StorageCapabilities = Field(
        default_factory=StorageCapabilities, description="What the storage offers."
    )
    provisioning: StorageProvisioningIntent = Field(
        default_factory=StorageProvisioningIntent, description="Provisioning intent."
    )
    runtime: StorageRuntimeBinding = Field(
        default_factory=StorageRuntimeBinding, description="Runtime fragments."
    )
    dbt: DbtStorageBinding = Field(description="dbt projection.")
    dagster: DagsterStorageBinding = Field(description="Dagster projection.")
    notes: list[str] = Field(default_factory=list, description="Notes from the compiler.")


class PolarisCatalogDeploymentBinding(Strict):
    """Polaris catalog settings."""

    storage_type: Literal["S3"] = Field(description="Storage type Polaris uses.")
    warehouse: NonEmptyString | None = Field(default=None, description="Polaris catalog name.")
    default_base_location: NonEmptyString = Field(description="Default table location.")
    allowed_locations: list[NonEmptyString] = Field(description="Locations tables may use.")
    endpoint: NonEmptyString = Field(description="Storage endpoint Polaris gives clients.")
    endpoint_internal: NonEmptyString = Field(description="Storage endpoint inside the cluster.")
    catalog_uri: NonEmptyString | None = Field(default=None, description="Catalog REST URI.")
    path_style_access: bool = Field(description="Path-style URLs.")
    sts_unavailable: bool = Field(description="Whether STS is unavailable.")
    credential_refs: dict[str, CredentialRef] = Field(
        default_factory=dict, description="Catalog credentials, by reference."
    )


class GlueCatalogDeploymentBinding(Strict):
    """AWS Glue catalog settings (0.16.0+)."""

    catalog_name: NonEmptyString = Field(default="glue", description="Catalog name.")
    region: NonEmptyString = Field(description="AWS region.")
    warehouse: NonEmptyString = Field(description="Warehouse location (secret-free).")
    catalog_id: AwsAccountId | None = Field(default=None, description="Glue catalog account id.")
    database_prefix: NonEmptyString | None = Field(default=None, description="Database prefix.")
    endpoint: NonEmptyString | None = Field(default=None, description="Glue endpoint override.")
    skip_archive: bool = Field(default=True, description="Skip archiving old table versions.")
    max_retries: int | None = Field(default=None, ge=1, description="Client retries.")
    retry_mode: NonEmptyString | None = Field(default=None, description="Client retry mode.")
    credential_refs: dict[str, CredentialRef] = Field(
        default_factory=dict, description="Credentials, by reference."
    )
    properties: dict[str, str] = Field(
        default_factory=dict, description="Extra catalog properties (secret-free)."
    )

    @field_validator("properties")
    @classmethod
    def _properties_secret_free(cls, value: dict[str, str]) -> dict[str, str]:
        check_fragment(value, "catalog.glue.properties")
        return value

    @field_validator("warehouse")
    @classmethod
    def _warehouse_secret_free(cls, value: str) -> str:
        check_fragment(value, "catalog.glue.warehouse")
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint_secret_free(cls, value: str | None) -> str | None:
        if value is not None:
            check_fragment(value, "catalog.glue.endpoint")
        return value


class IcebergRestOAuth2Binding(Strict):
    """OAuth2 for an Iceberg REST catalog, as env-var names."""

    secret_name: NonEmptyString = Field(default="iceberg", description="Secret holding them.")
    client_id_env: NonEmptyString = Field(description="Env var with the client id.")
    client_secret_env: NonEmptyString = Field(description="Env var with the client secret.")
    oauth2_server_uri_env: NonEmptyString = Field(description="Env var with the token URI.")
    oauth2_scope_env: NonEmptyString | None = Field(
        default=None, description="Env var with the scope."
    )
    oauth2_scope_default: NonEmptyString | None = Field(default=None, description="Default scope.")


class IcebergRestCatalogBinding(Strict):
    """An Iceberg REST catalog connection (0.15.0+)."""

    catalog_name: NonEmptyString = Field(default="iceberg", description="Catalog name.")
    uri: NonEmptyString = Field(description="REST catalog URI.")
    warehouse: NonEmptyString = Field(description="Warehouse.")
    properties: dict[str, str] = Field(
        default_factory=dict, description="Extra properties (secret-free)."
    )
    oauth2: IcebergRestOAuth2Binding | None = Field(default=None, description="OAuth2 references.")

    @field_validator("properties")
    @classmethod
    def _properties_secret_free(cls, value: dict[str, str]) -> dict[str, str]:
        check_fragment(value, "catalog.iceberg_rest.properties")
        return value


class DbtCatalogBinding(Strict):
    """The catalog as dbt sees it."""

    profile_fragment: dict[str, Any] = Field(
        default_factory=dict, description="Profile keys (secret-free)."
    )
    env_refs: EnvRefs = Field(default_factory=dict, description="Setting -> env-var name.")
    iceberg_rest: IcebergRestCatalogBinding | None = Field(
        default=None, description="REST catalog for dbt (0.15.0+)."
    )

    @field_validator("profile_fragment")
    @classmethod
    def _secret_free(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_fragment(value, "dbt.catalog.profile_fragment")
        return value


class CatalogDeploymentBinding(Strict):
    """The Iceberg catalog. Provider `polaris` comes with `polaris` details and `glue` with
    `glue`; neither detail block appears under another provider."""

    provider: NonEmptyString = Field(description="Catalog provider (`polaris`, `glue`, ...).")
    polaris: PolarisCatalogDeploymentBinding | None = Field(default=None, description="Polaris.")
    glue: GlueCatalogDeploymentBinding | None = Field(default=None, description="Glue (0.16.0+).")
    iceberg_rest: IcebergRestCatalogBinding | None = Field(
        default=None, description="REST catalog for runtimes (0.15.0+)."
    )
    dbt: DbtCatalogBinding | None = Field(default=None, description="dbt projection.")

    @model_validator(mode="after")
    def _details_match_provider(self) -> CatalogDeploymentBinding:
        for name in ("polaris", "glue"):
            details = getattr(self, name)
            if self.provider == name and details is None:
                raise ValueError(f"catalog provider {name!r} needs `{name}` details")
            if self.provider != name and details is not None:
                raise ValueError(f"`{name}` details belong to catalog provider {name!r} only")
        return self


class DltIngestionBinding(Strict):
    """dlt runtime settings (secret-free)."""

    plugin_name: NonEmptyString = Field(description="Ingestion plugin name.")
    destination: Literal["filesystem"] = Field(description="dlt destination.")
    table_format: Literal["iceberg"] = Field(description="Table format written.")
    source_filesystem: dict[str, Any] = Field(
        default_factory=dict, description="Source filesystem config."
    )
    destination_filesystem: dict[str, Any] = Field(
        default_factory=dict, description="Destination filesystem config."
    )
    iceberg_catalog_env: dict[str, str] = Field(
        default_factory=dict, description="PyIceberg env settings (non-secret)."
    )
    env_refs: EnvRefs = Field(default_factory=dict, description="Setting -> env-var name.")

    @field_validator("source_filesystem", "destination_filesystem")
    @classmethod
    def _filesystem_secret_free(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_dlt_filesystem(value, "ingestion.dlt.runtime")
        return value

    @field_validator("iceberg_catalog_env")
    @classmethod
    def _catalog_env_secret_free(cls, value: dict[str, str]) -> dict[str, str]:
        check_fragment(value, "ingestion.dlt.iceberg_catalog_env")
        return value


class IngestionDeploymentBinding(Strict):
    """Ingestion runtime binding."""

    provider: Literal["dlt"] = Field(description="Ingestion provider.")
    dlt: DltIngestionBinding = Field(description="dlt settings.")


class DeploymentConfig(Strict):
    """Deployment bindings floe derived from the resolved plugins."""

    storage: StorageDeploymentBinding | None = Field(default=None, description="Storage.")
    catalog: CatalogDeploymentBinding | None = Field(default=None, description="Catalog.")
    ingestion: IngestionDeploymentBinding | None = Field(default=None, description="Ingestion.")


class IngestionOutputTable(Strict):
    """An Iceberg table an ingestion source writes (0.14.0+).

    `logical_table` / `physical_table` are exactly `namespace.table` (identifier characters);
    `source_path` is relative, or an `s3://`, `gs://` or `az://` URI with a bucket, and never
    carries credentials.
    """

    source_name: NonEmptyString = Field(description="Ingestion source name.")
    source_type: Literal["filesystem"] = Field(description="Source kind.")
    table_format: Literal["iceberg"] = Field(default="iceberg", description="Table format.")
    logical_table: NonEmptyString = Field(description="`namespace.table` as products see it.")
    physical_table: NonEmptyString = Field(description="`namespace.table` in the catalog.")
    file_format: Literal["csv", "jsonl", "parquet"] = Field(description="Source file format.")
    source_path: NonEmptyString = Field(description="Where the source files are.")
    write_mode: Literal["append", "replace", "merge"] = Field(description="How loads write.")
    schema_contract: Literal["evolve", "freeze"] = Field(description="Schema change policy.")
    freshness_field: NonEmptyString | None = Field(default=None, description="Freshness column.")
    primary_key: NonEmptyString | list[NonEmptyString] | None = Field(
        default=None, description="Primary key column(s)."
    )
    cursor_field: NonEmptyString | None = Field(default=None, description="Incremental cursor.")
    quality_tier: Literal["bronze", "silver", "gold"] = Field(
        default="bronze", description="Quality tier."
    )

    @field_validator("logical_table", "physical_table")
    @classmethod
    def _namespace_dot_table(cls, value: str) -> str:
        parts = value.split(".")
        if len(parts) != 2 or not all(parts) or any(p != p.strip() for p in parts):
            raise ValueError(
                "a table identifier is exactly `namespace.table`, both parts non-empty"
            )
        if not all(_TABLE_PART.fullmatch(p) for p in parts):
            raise ValueError(
                "table identifier parts are letters, digits and `_`, not starting with a digit"
            )
        return value

    @field_validator("source_path")
    @classmethod
    def _safe_source_path(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("source_path is empty")
        if value != value.strip():
            raise ValueError("source_path has leading or trailing whitespace")
        parts = urlsplit(value)
        if source_path_has_credentials(parts.query) or source_path_has_credentials(parts.fragment):
            raise ValueError("source_path must not carry credentials")
        if parts.scheme:
            if parts.scheme not in {"s3", "gs", "az"}:
                raise ValueError("a source_path URI uses s3://, gs:// or az://")
            if parts.username or parts.password or "@" in parts.netloc:
                raise ValueError("source_path must not carry credentials")
            if not parts.netloc:
                raise ValueError("an object-store source_path names a bucket or container")
            return value
        if value.startswith("/"):
            raise ValueError("a local source_path is relative")
        if "://" in value:
            raise ValueError("a source_path URI uses s3://, gs:// or az://")
        return value
