"""`floe-dagster init`: a minimal valid product around an existing dbt project.

Writes `compiled_artifacts.json` (contract 0.16.0, valid under floe's `CompiledArtifacts` and
this package's model), `definitions.py` (the three-line shim) and, when the project has none,
`profiles.yml` (DuckDB). Only what the contract requires is written; what can be derived is
derived (names, versions, telemetry resource attributes, the warehouse path, a hash of the
dbt project's files); what only a person can decide is a placeholder holding `TODO`.
Telemetry and lineage are off, so their endpoints need no decision yet.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from floe_dagster.contract.artifacts import CURRENT_VERSION, safe_name
from floe_dagster.contract.floe_base import PRODUCT_NAME_PATTERN
from floe_dagster.errors import FloeConfigError, Problem
from floe_dagster.loading.profiles import DUCKDB_PATH_ENV

ARTIFACTS = "compiled_artifacts.json"
DEFINITIONS = "definitions.py"
PROFILES = "profiles.yml"
DBT_PROJECT = "dbt_project.yml"
TODO = "TODO"
PLACEHOLDERS = {
    "identity.domain": "the owning domain (e.g. `sales`); also the telemetry/lineage namespace",
    "identity.repository": "the URL of the product's source repository",
    "plugins.orchestrator.config.owners": "who owns every asset: emails or `team:<name>`",
}
# Not part of the product's inputs: what dbt, Dagster and init itself write.
UNHASHED = {
    "target",
    "logs",
    "dbt_packages",
    "warehouse",
    ".user.yml",
    "__pycache__",
    ARTIFACTS,
    DEFINITIONS,
}
SEMVER_PREFIX = re.compile(r"^\d+\.\d+\.\d+")
ENV_VAR_DEFAULT = re.compile(r"""env_var\(\s*['"][^'"]+['"]\s*,\s*['"]([^'"]+)['"]\s*\)""")

DEFINITIONS_TEXT = """from pathlib import Path

from floe_dagster import load_product_definitions

defs = load_product_definitions({name!r}, Path(__file__).parent)
"""

PROFILES_TEXT = """{profile}:
  target: dev
  outputs:
    dev:
      type: duckdb
      # floe-dagster sets {env} to plugins.compute.config.path (absolute) for every dbt
      # invocation; the default serves a bare `dbt` command run from this directory.
      path: "{{{{ env_var('{env}', '{path}') }}}}"
      threads: 2
"""


@dataclass
class InitResult:
    """What init did, for the command to report."""

    project_dir: Path
    name: str
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    placeholders: dict[str, str] = field(default_factory=dict)


def init_product(
    project_dir: Path, name: str | None = None, domain: str | None = None, force: bool = False
) -> InitResult:
    """Write the product files around the dbt project in `project_dir`.

    Raises FloeConfigError (nothing written) when the directory is no dbt project, the name
    is not a valid floe product name, or a file init writes exists and `force` is not set.
    """
    project_dir = project_dir.resolve()
    dbt_project = _read_dbt_project(project_dir, name)
    product = name or str(dbt_project["name"])
    _check_name(product, name is not None, project_dir)
    existing = [f for f in (ARTIFACTS, DEFINITIONS) if (project_dir / f).exists()]
    if existing and not force:
        raise FloeConfigError(
            product,
            [
                Problem(
                    str(project_dir / f),
                    "",
                    "exists; `floe-dagster init` never overwrites a "
                    "product file: pass --force to replace it, or edit it instead",
                )
                for f in existing
            ],
        )

    result = InitResult(project_dir, product, written=[ARTIFACTS, DEFINITIONS])
    profile = str(dbt_project.get("profile") or dbt_project["name"])
    profiles_path = project_dir / PROFILES
    warehouse = f"warehouse/{safe_name(product)}.duckdb"
    write_profiles = force or not profiles_path.exists()
    if write_profiles:
        result.written.append(PROFILES)
    else:  # the project's own profile decides where the data goes
        warehouse = _duckdb_path_of(profiles_path, profile) or warehouse
        result.kept.append(PROFILES)

    artifacts = artifacts_for(
        product, _product_version(dbt_project), domain, warehouse, _source_hash(project_dir)
    )
    (project_dir / ARTIFACTS).write_text(json.dumps(artifacts, indent=2) + "\n")
    (project_dir / DEFINITIONS).write_text(DEFINITIONS_TEXT.format(name=product))
    if write_profiles:
        profiles_path.write_text(
            PROFILES_TEXT.format(profile=profile, env=DUCKDB_PATH_ENV, path=warehouse)
        )
    result.placeholders = {
        k: v for k, v in PLACEHOLDERS.items() if not (k == "identity.domain" and domain)
    }
    return result


def artifacts_for(
    product: str, product_version: str, domain: str | None, warehouse: str, source_hash: str
) -> dict[str, Any]:
    """The smallest compiled_artifacts.json both floe and floe-dagster accept for a product."""
    safe = safe_name(product)
    domain = domain or TODO
    product_id = f"{domain}.{safe}"
    return {
        "version": CURRENT_VERSION,
        "metadata": {
            "compiled_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "floe_version": f"floe-dagster init {_installed('floe-dagster')}",
            "source_hash": source_hash,
            "product_name": product,
            "product_version": product_version,
        },
        "identity": {"product_id": product_id, "domain": domain, "repository": TODO},
        "observability": {
            "telemetry": {
                "enabled": False,
                "resource_attributes": {
                    "service_name": safe,
                    "service_version": product_version,
                    "deployment_environment": "dev",
                    "floe_namespace": domain,
                    "floe_product_name": product,
                    "floe_product_version": product_version,
                    "floe_mode": "dev",
                },
            },
            "lineage": False,
            "lineage_namespace": product_id,
        },
        "plugins": {
            "compute": {
                "type": "duckdb",
                "version": _installed("duckdb"),
                "config": {"path": warehouse},
            },
            "orchestrator": {
                "type": "dagster",
                "version": _installed("dagster"),
                # The asset keys do not depend on the domain placeholder, so filling it in
                # later keeps every asset's history.
                "config": {"asset_key_prefix": [safe], "owners": [f"team:{TODO}"]},
            },
        },
    }


def _read_dbt_project(project_dir: Path, name: str | None) -> dict[str, Any]:
    path = project_dir / DBT_PROJECT
    who = name or project_dir.name
    if not path.is_file():
        raise FloeConfigError.single(
            who,
            str(path),
            "",
            "not found: `floe-dagster init` takes the directory of a dbt "
            "project (the one holding dbt_project.yml)",
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise FloeConfigError.single(who, str(path), "", f"is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not data.get("name"):
        raise FloeConfigError.single(who, str(path), "name", "missing: dbt projects need a name")
    return data


def _check_name(product: str, given: bool, project_dir: Path) -> None:
    if re.fullmatch(PRODUCT_NAME_PATTERN, product) and len(product) <= 128:
        return
    where = ("--name", "") if given else (str(project_dir / DBT_PROJECT), "name")
    raise FloeConfigError.single(
        product,
        where[0],
        where[1],
        f"{product!r} is not a floe product name: a letter, then "
        "letters, digits, `_` or `-` (at most 128); pass a valid one with --name",
    )


def _product_version(dbt_project: dict[str, Any]) -> str:
    """dbt_project.yml's version when it starts with semver (floe's telemetry needs that)."""
    given = str(dbt_project.get("version") or "")
    return given if SEMVER_PREFIX.match(given) else "0.1.0"


def _duckdb_path_of(profiles_path: Path, profile: str) -> str | None:
    """The DuckDB file an existing profiles.yml writes to (an env_var's default counts)."""
    try:
        profiles = yaml.safe_load(profiles_path.read_text()) or {}
        entry = profiles[profile]
        output = entry["outputs"][entry.get("target", "dev")]
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return None
    path = output.get("path") if isinstance(output, dict) else None
    if not isinstance(output, dict) or output.get("type") != "duckdb" or not isinstance(path, str):
        return None
    found = ENV_VAR_DEFAULT.search(path)
    if found:
        return found.group(1)
    return None if "{{" in path or path == ":memory:" else path


def _source_hash(project_dir: Path) -> str:
    """sha256 over the dbt project's files (names and contents), as floe's provenance field."""
    digest = hashlib.sha256()
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if not path.is_file() or UNHASHED & set(relative.parts) or path.suffix == ".duckdb":
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"sha256:{digest.hexdigest()}"


def _installed(distribution: str) -> str:
    """The installed version as plain semver (`1.13.0`), for plugin `version` fields."""
    try:
        found = SEMVER_PREFIX.match(version(distribution))
    except PackageNotFoundError:
        found = None
    return found.group(0) if found else "0.0.0"
