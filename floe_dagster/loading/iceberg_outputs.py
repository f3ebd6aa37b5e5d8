"""Where a product's tables land as Iceberg: one typed config from floe's deployment bindings.

floe's compiler writes the catalog and the object storage it resolved under `deployment`
(contract 0.10.0+). They are read here the way floe's own runtime reads them
(`build_runtime_catalog_connection`): the REST catalog binding first, Polaris' details over
it, then the storage endpoint and its `pyiceberg_properties`. A SQL catalog (pyiceberg's
`SqlCatalog`) is named by `type: sql` and its `uri` in those properties. Credentials stay
references (env-var names) until a step opens the catalog.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from dagster import AssetKey

from floe_dagster.contract.artifacts import CompiledArtifacts
from floe_dagster.contract.floe_deployment import SECRET_BACKED
from floe_dagster.errors import FloeConfigError, Problem
from floe_dagster.names import model_key

CatalogType = Literal["sql", "rest"]
_EXPORTED = {"table", "incremental", "seed", "snapshot"}
_WINDOW_CALL = re.compile(r"floe_dagster\.partition_window\(\s*['\"](\w+)['\"]")
_TRUE = {"true", "1", "yes"}
# Names of the storage credentials in floe's `credentials.env_refs` / secret `keys`.
ACCESS_KEY_ID, SECRET_ACCESS_KEY = "access_key_id", "secret_access_key"
# Where a step finds secret-projected storage credentials: the names AWS clients read.
PROJECTED_ENV = {ACCESS_KEY_ID: "AWS_ACCESS_KEY_ID", SECRET_ACCESS_KEY: "AWS_SECRET_ACCESS_KEY"}
CATALOG_URI_REF = "catalog_uri"  # env_refs key naming the catalog URI's env var, as floe's
CONNECT_TIMEOUT_SECONDS = "10"  # an object store that is down fails the step, not hangs it


@dataclass(frozen=True)
class OAuth2Refs:
    """A REST catalog's OAuth2 client, as env-var names (floe's `iceberg_rest.oauth2`)."""

    client_id_env: str
    client_secret_env: str
    server_uri_env: str
    scope_env: str | None = None
    scope_default: str | None = None


@dataclass(frozen=True)
class Governance:
    """floe's table lifecycle settings (`governance`), as far as they act on Iceberg tables."""

    snapshot_keep_last: int | None = None
    default_ttl_hours: int | None = None
    stale_table_recovery_mode: Literal["strict", "repair"] | None = None


@dataclass(frozen=True)
class IcebergOutputs:
    """The catalog and object store every materialized table is written to."""

    product: str
    catalog_name: str
    catalog_type: CatalogType
    uri: str | None
    warehouse: str
    s3_endpoint: str
    s3_region: str
    s3_path_style: bool
    credential_envs: Mapping[str, str] = field(default_factory=dict)
    oauth2: OAuth2Refs | None = None
    properties: Mapping[str, str] = field(default_factory=dict)
    governance: Governance = field(default_factory=Governance)
    uri_env: str | None = None

    def catalog_uri(self, environ: Mapping[str, str] | None = None) -> str:
        """The catalog's URI: given in the artifacts, or read from the env var they name."""
        if self.uri:
            return self.uri
        env = os.environ if environ is None else environ
        return self._required(
            env, self.uri_env or "", "deployment.storage.runtime.env_refs.catalog_uri"
        )

    def catalog_properties(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """pyiceberg's `load_catalog` properties, credentials read from the environment now."""
        env = os.environ if environ is None else environ
        props = {
            "type": self.catalog_type,
            "uri": self.catalog_uri(env),
            "warehouse": self.warehouse,
            "s3.endpoint": self.s3_endpoint,
            "s3.region": self.s3_region,
            **({"s3.force-virtual-addressing": "false"} if self.s3_path_style else {}),
            "s3.connect-timeout": CONNECT_TIMEOUT_SECONDS,
            **self.properties,
        }
        keys = {ACCESS_KEY_ID: "s3.access-key-id", SECRET_ACCESS_KEY: "s3.secret-access-key"}
        for name, env_name in self.credential_envs.items():
            if name in keys and env.get(env_name):
                props[keys[name]] = env[env_name]
        if self.oauth2 is not None:
            oauth2 = "deployment.catalog.iceberg_rest.oauth2."
            client_id = self._required(env, self.oauth2.client_id_env, f"{oauth2}client_id_env")
            secret = self._required(
                env, self.oauth2.client_secret_env, f"{oauth2}client_secret_env"
            )
            props["credential"] = f"{client_id}:{secret}"
            props["oauth2-server-uri"] = self._required(
                env, self.oauth2.server_uri_env, f"{oauth2}oauth2_server_uri_env"
            )
            scope = env.get(self.oauth2.scope_env or "") or self.oauth2.scope_default
            if scope:
                props["scope"] = scope
        return props

    def _required(self, env: Mapping[str, str], name: str, field_name: str) -> str:
        if not env.get(name):
            raise FloeConfigError.single(
                self.product,
                "compiled_artifacts.json",
                field_name,
                f"names env var {name!r}, which is not set in the step's environment; set it "
                "(from the Kubernetes secret the platform provides) before the run",
            )
        return env[name]


@dataclass(frozen=True)
class WarehouseTable:
    """A table in the DuckDB warehouse, and the column a partition window filters on."""

    schema: str
    name: str
    window_column: str | None = None


def exported_dbt_tables(
    manifest: Mapping[str, Any], prefix: list[str]
) -> dict[AssetKey, WarehouseTable]:
    """Every dbt node that leaves a table in the warehouse (views hold no rows), by asset key.

    A partitioned model's window column is the one it passes to the window macro.
    """
    found = {}
    for node in manifest["nodes"].values():
        if node.get("config", {}).get("materialized") not in _EXPORTED:
            continue
        column = _WINDOW_CALL.search(node.get("raw_code") or "")
        found[model_key(prefix, node["name"])] = WarehouseTable(
            node["schema"],
            node.get("alias") or node["name"],
            column.group(1) if column else None,
        )
    return found


def iceberg_outputs(artifacts: CompiledArtifacts, where: str) -> IcebergOutputs | None:
    """The Iceberg outputs the artifacts name; None when they name no catalog and storage."""
    config, problems = _resolve(artifacts, where)
    if problems:
        raise FloeConfigError(artifacts.product_name, problems)
    return config


def iceberg_problems(artifacts: CompiledArtifacts, where: str) -> list[Problem]:
    """Every problem with the catalog and storage bindings, for the load's one error."""
    return _resolve(artifacts, where)[1]


def iceberg_warnings(artifacts: CompiledArtifacts, where: str) -> list[Problem]:
    """Catalogs the artifacts name that this package does not write to (the load goes on)."""
    deployment = artifacts.deployment
    catalog = deployment.catalog if deployment else None
    if catalog is not None and catalog.glue is not None:
        return [
            Problem(
                where,
                "deployment.catalog.glue",
                "tables are not written to a Glue catalog (only REST/Polaris and SQL catalogs "
                "are supported); they stay in the warehouse only",
            )
        ]
    plugins = artifacts.plugins
    if catalog is None and plugins.catalog is not None and plugins.storage is not None:
        return [
            Problem(
                where,
                "deployment",
                f"plugins.catalog names {plugins.catalog.type!r} but there are no deployment "
                "bindings, so tables are not written to Iceberg; recompile with floe 0.10 or "
                "later, which writes deployment.catalog and deployment.storage",
            )
        ]
    return []


def _resolve(
    artifacts: CompiledArtifacts, where: str
) -> tuple[IcebergOutputs | None, list[Problem]]:
    deployment = artifacts.deployment
    catalog = deployment.catalog if deployment else None
    storage = deployment.storage if deployment else None
    if catalog is None and storage is None:
        return None, []
    if catalog is None or storage is None:
        present, absent = ("catalog", "storage") if storage is None else ("storage", "catalog")
        return None, [
            Problem(
                where,
                f"deployment.{absent}",
                f"deployment.{present} is set but deployment.{absent} is not; Iceberg outputs "
                f"need both: recompile with the platform's {absent} plugin, or remove "
                f"deployment.{present}",
            )
        ]
    if catalog.glue is not None:
        return None, []  # not supported here: iceberg_warnings says so
    problems: list[Problem] = []
    rest = catalog.iceberg_rest
    polaris = catalog.polaris
    props: dict[str, str | None] = {
        **(rest.properties if rest else {}),
        **storage.runtime.pyiceberg_properties,
    }
    kind = props.pop("type", None) or ("rest" if rest or polaris else None)
    uri = props.pop("uri", None) if kind == "sql" else None
    env_refs = {**(catalog.dbt.env_refs if catalog.dbt else {}), **storage.runtime.env_refs}
    uri_env = env_refs.get(CATALOG_URI_REF) if kind == "sql" and not uri else None
    if kind == "rest":
        uri = (polaris.catalog_uri if polaris else None) or (rest.uri if rest else None)
    if kind not in ("sql", "rest"):
        problems.append(
            Problem(
                where,
                "deployment.storage.runtime.pyiceberg_properties.type",
                f"catalog type {kind!r} is not supported; set deployment.catalog.iceberg_rest "
                "(a REST catalog) or pyiceberg_properties `type: sql` with its `uri`",
            )
        )
    elif not uri and not uri_env:
        field_path = (
            "deployment.catalog.iceberg_rest.uri"
            if kind == "rest"
            else f"deployment.storage.runtime.env_refs.{CATALOG_URI_REF}"
        )
        problems.append(
            Problem(
                where,
                field_path,
                f"a {kind} catalog needs its URI: set {field_path}"
                + (" to the env var holding it" if kind == "sql" else ""),
            )
        )
    warehouse = (polaris.warehouse if polaris else None) or (rest.warehouse if rest else None)
    if kind == "sql" or warehouse is None:
        warehouse = storage.warehouse.uri if storage.warehouse else storage.endpoint.warehouse_path
    credentials = storage.credentials
    if credentials.mode == "environment":
        envs = dict(credentials.env_refs)
        missing = [k for k in (ACCESS_KEY_ID, SECRET_ACCESS_KEY) if k not in envs]
        if missing:
            problems.append(
                Problem(
                    where,
                    "deployment.storage.credentials.env_refs",
                    f"credential mode 'environment' names no env var for {missing}; add "
                    f"`{missing[0]}: <ENV_VAR_NAME>`",
                )
            )
    elif credentials.mode in SECRET_BACKED:
        envs = dict(PROJECTED_ENV)
    else:
        envs = {}
    path_style = props.pop("s3.path-style-access", None)
    s3_path_style = (
        path_style.lower() in _TRUE
        if path_style is not None
        else (polaris.path_style_access if polaris else storage.endpoint.path_style_access)
    )
    oauth2 = rest.oauth2 if rest else None
    governance = artifacts.governance
    config = IcebergOutputs(
        product=artifacts.product_name,
        catalog_name=("polaris" if polaris else (rest.catalog_name if rest else "iceberg")),
        catalog_type="rest" if kind == "rest" else "sql",
        uri=uri,
        uri_env=uri_env,
        warehouse=warehouse,
        s3_endpoint=props.pop("s3.endpoint", None) or storage.endpoint.internal_url,
        s3_region=props.pop("s3.region", None) or storage.endpoint.region,
        s3_path_style=s3_path_style,
        credential_envs=envs,
        oauth2=(
            OAuth2Refs(
                oauth2.client_id_env,
                oauth2.client_secret_env,
                oauth2.oauth2_server_uri_env,
                oauth2.oauth2_scope_env,
                oauth2.oauth2_scope_default,
            )
            if oauth2
            else None
        ),
        properties={k: v for k, v in props.items() if v is not None},
        governance=Governance(
            governance.snapshot_keep_last if governance else None,
            governance.default_ttl_hours if governance else None,
            governance.stale_table_recovery_mode if governance else None,
        ),
    )
    return (None, problems) if problems else (config, [])
