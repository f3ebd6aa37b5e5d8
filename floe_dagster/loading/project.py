"""Reads the four files of a product directory and validates them, reporting every problem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from floe_dagster.contract import CompiledArtifacts
from floe_dagster.contract.artifacts import safe_name
from floe_dagster.errors import FloeConfigError, Problem
from floe_dagster.loading.profiles import PROFILES_FILE, compiled_profiles, runtime_profiles_dir

ARTIFACTS_FILE = "compiled_artifacts.json"
DBT_PROJECT_FILE = "dbt_project.yml"
MANIFEST_FILE = "target/manifest.json"

_FIXES = {
    ARTIFACTS_FILE: "compile the product with `floe platform compile` into this directory",
    DBT_PROJECT_FILE: "point project_dir at the dbt project's root",
    MANIFEST_FILE: "run `floe-dagster prepare PROJECT_DIR` (it runs `dbt parse`), or in a dg "
    "project `dg utils refresh-defs-state`",
}
_PROFILES_FIX = (
    "add a profiles.yml beside dbt_project.yml (credentials by env_var only), or compile the "
    "product with floe, which writes `dbt_profiles` into compiled_artifacts.json"
)


@dataclass(frozen=True)
class ProductFiles:
    """The validated contents of a product directory.

    `name` is the dbt- and Dagster-safe product name (floe's may contain `-`); `profiles`
    and `profiles_dir` are what dbt runs with: floe's compiled `dbt_profiles` when the
    artifacts carry them, else the directory's profiles.yml.
    """

    name: str
    project_dir: Path
    artifacts: CompiledArtifacts
    dbt_project: dict[str, Any]
    profiles: dict[str, Any]
    manifest: dict[str, Any]
    profiles_dir: Path


def read_product_files(product_name: str, project_dir: Path) -> ProductFiles:
    """Read and validate the product's files; raise FloeConfigError naming file, field and fix.

    `product_name` may be floe's name (`customer-360`) or its safe form (`customer_360`).
    """
    project_dir = Path(project_dir).resolve()
    if not project_dir.is_dir():
        raise FloeConfigError.single(
            product_name, str(project_dir), "", "is not a directory; pass the product's directory"
        )
    missing = [
        Problem(str(project_dir / f), "", f"file is missing; {fix}")
        for f, fix in _FIXES.items()
        if not (project_dir / f).is_file()
    ]
    if missing:
        raise FloeConfigError(product_name, missing)

    artifacts = _read_artifacts(product_name, project_dir / ARTIFACTS_FILE)
    dbt_project = _read_yaml(product_name, project_dir / DBT_PROJECT_FILE)
    manifest = _read_json(product_name, project_dir / MANIFEST_FILE)
    if artifacts.dbt_profiles:
        profiles = compiled_profiles(artifacts, dbt_project.get("profile"))
    elif (project_dir / PROFILES_FILE).is_file():
        profiles = _read_yaml(product_name, project_dir / PROFILES_FILE)
    else:
        raise FloeConfigError.single(
            product_name, str(project_dir / PROFILES_FILE), "", f"file is missing; {_PROFILES_FIX}"
        )

    problems: list[Problem] = []
    if safe_name(product_name) != artifacts.safe_name:
        problems.append(
            Problem(
                str(project_dir / ARTIFACTS_FILE),
                "metadata.product_name",
                f"is {artifacts.product_name!r} but the code location loads {product_name!r}; "
                "make them the same",
            )
        )
    problems += _dbt_files_agree(project_dir, dbt_project, profiles, manifest, artifacts)
    if problems:
        raise FloeConfigError(product_name, problems)
    return ProductFiles(
        artifacts.safe_name,
        project_dir,
        artifacts,
        dbt_project,
        profiles,
        manifest,
        runtime_profiles_dir(artifacts, project_dir, profiles),
    )


def _read_json(product: str, path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())  # a 10,000-model manifest is ~80 MB
    except orjson.JSONDecodeError as exc:
        raise FloeConfigError.single(
            product,
            str(path),
            f"line {exc.lineno}, column {exc.colno}",
            f"invalid JSON ({exc.msg}); fix the syntax there",
        ) from None
    if not isinstance(data, dict):
        raise FloeConfigError.single(product, str(path), "", "must hold a JSON object at the top")
    return data


def _read_yaml(product: str, path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise FloeConfigError.single(product, str(path), where, f"invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise FloeConfigError.single(product, str(path), "", "must hold a YAML mapping at the top")
    return data


def _read_artifacts(product: str, path: Path) -> CompiledArtifacts:
    data = _read_json(product, path)
    try:
        return CompiledArtifacts.model_validate(data)
    except ValidationError as exc:
        raise FloeConfigError(product, [_problem(str(path), e) for e in exc.errors()]) from None


def _problem(file: str, error: Any) -> Problem:
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field; remove it or correct its spelling (see `floe-dagster schema`)"
    elif error["type"] == "missing":
        message = "is required but missing; add it"
    elif error["type"] in ("literal_error", "enum"):
        message = f"{message} (got {error.get('input')!r})"
    elif error["type"] in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
        message = f"{message} (got {error.get('input')!r}); set a value within the bound"
    return Problem(file, loc or "(top level)", message)


def _dbt_files_agree(
    project_dir: Path,
    dbt_project: dict,
    profiles: dict,
    manifest: dict,
    artifacts: CompiledArtifacts,
) -> list[Problem]:
    problems = []
    name = dbt_project.get("name")
    manifest_project = manifest.get("metadata", {}).get("project_name")
    if manifest_project != name:
        problems.append(
            Problem(
                str(project_dir / MANIFEST_FILE),
                "metadata.project_name",
                f"is {manifest_project!r} but dbt_project.yml names {name!r}; the manifest belongs "
                "to another project: run `floe-dagster prepare PROJECT_DIR` to rebuild it",
            )
        )
    profile = dbt_project.get("profile")
    if profile not in profiles:
        where = (
            (str(project_dir / ARTIFACTS_FILE), "dbt_profiles")
            if artifacts.dbt_profiles
            else (str(project_dir / PROFILES_FILE), str(profile))
        )
        problems.append(
            Problem(
                *where,
                f"profile {profile!r} named by dbt_project.yml is not defined (defined: "
                f"{', '.join(sorted(profiles)) or 'none'}); add it, or name one of these in "
                "dbt_project.yml's `profile`",
            )
        )
    return problems
