"""The dbt profiles a product runs with: floe's compiled `dbt_profiles`, else its profiles.yml.

floe's compiler writes the profiles it resolved into the artifacts, keyed by floe's product
name, with its placeholders expanded in some places and not others. dbt needs a
`profiles.yml` holding the profile `dbt_project.yml` names, so the compiled profiles are
written to a runtime directory outside the (possibly read-only) product directory, under
the dbt-safe name too, as floe's own runtime does.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from floe_dagster.contract.artifacts import CompiledArtifacts, expand_placeholders
from floe_dagster.names import digest

PROFILES_FILE = "profiles.yml"
RUNTIME_PROFILES_ROOT = "floe-dagster-profiles"
DUCKDB_PATH_ENV = "FLOE_DUCKDB_PATH"
SERVER_ADAPTERS = frozenset({"postgres"})  # warehouses many steps and runs write at once
SERVER_FIELDS = ("host", "port", "user", "password", "dbname")  # what dlt needs to connect
_ENV_VAR = re.compile(
    r"\{\{\s*env_var\(\s*['\"](?P<name>[A-Za-z_][A-Za-z0-9_]*)['\"]"
    r"(?:\s*,\s*['\"](?P<default>[^'\"]*)['\"])?\s*\)\s*(?:\|\s*(?:as_number|int|string)\s*)?\}\}"
)


def duckdb_file(artifacts: CompiledArtifacts, project_dir: Path) -> Path:
    """The DuckDB file: FLOE_DUCKDB_PATH if set, else `plugins.compute.config.path`.

    Relative paths are relative to the product directory.
    """
    configured = os.environ.get(DUCKDB_PATH_ENV) or artifacts.compute_config.get(
        "path", f"warehouse/{artifacts.safe_name}.duckdb"
    )
    return (project_dir / str(configured)).resolve()


def compiled_profiles(artifacts: CompiledArtifacts, profile_name: str | None) -> dict[str, Any]:
    """floe's `dbt_profiles`, placeholders expanded, also under dbt_project.yml's profile name."""
    profiles = expand_placeholders(dict(artifacts.dbt_profiles or {}), artifacts.product_name)
    profiles = {name: _duckdb_path_from_env(profile) for name, profile in profiles.items()}
    for alias in (artifacts.safe_name, profile_name):
        if alias and alias not in profiles and artifacts.product_name in profiles:
            profiles[alias] = profiles[artifacts.product_name]
    return profiles


def runtime_profiles_dir(
    artifacts: CompiledArtifacts, project_dir: Path, profiles: dict[str, Any]
) -> Path:
    """Write compiled profiles where dbt will read them; the product directory when it has its own."""
    if not artifacts.dbt_profiles:
        return project_dir
    text = yaml.safe_dump(profiles, sort_keys=True)
    version = digest(f"{project_dir}\n{text}")[:12]
    target = (
        Path(tempfile.gettempdir()) / RUNTIME_PROFILES_ROOT / f"{artifacts.safe_name}-{version}"
    )
    path = target / PROFILES_FILE
    if not path.is_file() or path.read_text() != text:
        target.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(text)
        partial.replace(path)
    return target


def _duckdb_path_from_env(profile: Any) -> Any:
    """A DuckDB output's file comes from FLOE_DUCKDB_PATH (set by the warehouse resource).

    So dbt, dlt and the warehouse resource always name the same file; the compiled path
    stays the default for a bare `dbt` command.
    """
    if not isinstance(profile, dict) or not isinstance(profile.get("outputs"), dict):
        return profile
    outputs = {}
    for target, output in profile["outputs"].items():
        if isinstance(output, dict) and output.get("type") == "duckdb" and output.get("path"):
            output = {
                **output,
                "path": f"{{{{ env_var('{DUCKDB_PATH_ENV}', '{output['path']}') }}}}",
            }
        outputs[target] = output
    return {**profile, "outputs": outputs}


def target_output(
    profiles: dict[str, Any], profile_name: str, target: str | None
) -> dict[str, Any]:
    """The dbt output a run writes with: `target`, else the profile's own; {} if there is none."""
    profile = profiles.get(profile_name)
    if not isinstance(profile, dict) or not isinstance(profile.get("outputs"), dict):
        return {}
    output = profile["outputs"].get(target or profile.get("target"))
    return output if isinstance(output, dict) else {}


def is_env_reference(value: Any) -> bool:
    """Whether a profile value is exactly one dbt `env_var()` reference (a secret's only form)."""
    return isinstance(value, str) and _ENV_VAR.fullmatch(value.strip()) is not None


def resolve_env_refs(value: str, where: str) -> str:
    """A profile value with its `env_var()` references replaced as dbt would, at run time.

    So dlt connects with exactly what dbt does; a reference without a default to an unset
    variable raises KeyError naming the variable and where it is used.
    """

    def one(match: re.Match[str]) -> str:
        name, default = match["name"], match["default"]
        if name in os.environ:
            return os.environ[name]
        if default is None:
            raise KeyError(f"environment variable {name} (read by {where}) is not set; set it")
        return default

    return _ENV_VAR.sub(one, value)


def profiles_dir_for(project_dir: Path) -> Path:
    """Where dbt finds the product's profiles before a full load (e.g. for `dbt parse`)."""
    try:
        text = (project_dir / "compiled_artifacts.json").read_bytes()
        artifacts = CompiledArtifacts.model_validate_json(text)
        dbt_project = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    except (OSError, ValueError, yaml.YAMLError):
        return project_dir  # the load reports what is wrong with the files
    profiles = compiled_profiles(artifacts, dbt_project.get("profile"))
    return runtime_profiles_dir(artifacts, project_dir, profiles)
