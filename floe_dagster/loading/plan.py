"""Cross-checks the contract against the dbt manifest and settles each model's settings.

Every selection the artifacts name is resolved once, here, with dbt's own selector (all
against one dbt graph, and cached beside the manifest); the asset builders only read the
result.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from floe_dagster.contract.artifacts import SETTINGS_PATH
from floe_dagster.contract.dagster_section import (
    BackfillPolicy,
    DagsterSection,
    IngestionSource,
    PartitionScheme,
)
from floe_dagster.errors import FloeConfigError, Problem
from floe_dagster.loading.dbt_checks import profile_problems, window_warnings
from floe_dagster.loading.iceberg_outputs import (
    IcebergOutputs,
    iceberg_outputs,
    iceberg_problems,
    iceberg_warnings,
)
from floe_dagster.loading.limits import staleness_problems
from floe_dagster.loading.manifest import slim_manifest
from floe_dagster.loading.project import ARTIFACTS_FILE, ProductFiles
from floe_dagster.loading.quality_gates import gate_warnings
from floe_dagster.loading.selection import resolve_selections

BUILDABLE_TYPES = ("model", "seed", "snapshot")


@dataclass(frozen=True)
class ModelSettings:
    """What the artifacts say about one dbt model after all overrides are applied."""

    group: str | None = None
    owners: tuple[str, ...] = ()
    workload_size: str = "small"
    partition_scheme: str | None = None
    backfill: BackfillPolicy | None = None
    pool: str | None = None
    quality_tier: str | None = None
    floe_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class DbtAssetGroup:
    """Models that run together as one dbt step: same partitioning, backfill, size and pool."""

    name: str
    unique_ids: frozenset[str]
    partition_scheme: str | None
    backfill: BackfillPolicy | None
    workload_size: str
    pool: str | None


@dataclass(frozen=True)
class ProductPlan:
    """A validated product: its files, each model's settings and the selections resolved."""

    files: ProductFiles
    model_settings: dict[str, ModelSettings]
    schedule_models: dict[str, frozenset[str]]
    schedule_schemes: dict[str, str] = field(default_factory=dict)
    warnings: tuple[Problem, ...] = ()

    @property
    def name(self) -> str:
        return self.files.name

    @property
    def project_dir(self) -> Path:
        return self.files.project_dir

    @property
    def manifest(self) -> dict[str, Any]:
        return self.files.manifest

    @cached_property
    def schemes(self) -> dict[str, PartitionScheme]:
        return {s.name: s for s in self.files.artifacts.dagster.partition_schemes}

    @cached_property
    def iceberg(self) -> IcebergOutputs | None:
        """Where materialized tables are also written as Iceberg; None when nowhere."""
        return iceberg_outputs(self.files.artifacts, str(self.project_dir / ARTIFACTS_FILE))

    @cached_property
    def dbt_groups(self) -> list[DbtAssetGroup]:
        buckets: dict[tuple, set[str]] = defaultdict(set)
        for uid, s in self.model_settings.items():
            buckets[(s.partition_scheme, s.backfill, s.workload_size, s.pool)].add(uid)
        groups = []
        for (scheme, backfill, size, pool), uids in sorted(
            buckets.items(), key=lambda kv: str(kv[0])
        ):
            parts = ["dbt", scheme or "unpartitioned"]
            if backfill is not None:
                parts.append(
                    backfill.policy + (str(backfill.chunk_size) if backfill.chunk_size else "")
                )
            if size != self.files.artifacts.dagster.execution.default_workload_size:
                parts.append(size)
            if pool:
                parts.append(pool)
            groups.append(
                DbtAssetGroup("_".join(parts), frozenset(uids), scheme, backfill, size, pool)
            )
        return groups


def build_plan(files: ProductFiles) -> ProductPlan:
    """Resolve every selection against the manifest; raise FloeConfigError listing all mismatches."""
    artifacts = files.artifacts
    section = artifacts.dagster
    where = str(files.project_dir / ARTIFACTS_FILE)
    manifest = files.manifest
    models = buildable_nodes(manifest)
    problems: list[Problem] = []
    selections = [(o.select, o.exclude) for o in section.transforms] + [
        (s.select, None) for s in section.effective_schedules(files.name)
    ]
    resolved = resolve_selections(
        files.project_dir, manifest, [*selections, *_terms_of(selections)]
    )

    def select(select: str, exclude: str | None, field_path: str) -> set[str]:
        result = resolved[(select, exclude)]
        if isinstance(result, Exception):
            problems.append(
                Problem(where, field_path, f"invalid dbt selection {select!r}: {result}")
            )
            return set()
        for term in _terms(select):
            if (term, None) != (select, exclude) and not resolved[(term, None)]:
                problems.append(
                    Problem(
                        where,
                        field_path,
                        f"term {term!r} of selection {select!r} matches nothing in "
                        "target/manifest.json; fix or remove that term",
                    )
                )
        chosen = set(result & models.keys())
        if not chosen:
            problems.append(
                Problem(
                    where,
                    field_path,
                    f"selection {select!r} matches no dbt model, seed or snapshot in "
                    "target/manifest.json; fix the selection or rebuild the manifest with "
                    "`floe-dagster prepare`",
                )
            )
        return chosen

    resolved_models = artifacts.transforms.models if artifacts.transforms else []
    problems += _resolved_models_exist(resolved_models, manifest, where)

    defaults = ModelSettings(
        owners=tuple(section.owners), workload_size=section.execution.default_workload_size
    )
    settings = {uid: defaults for uid in models}
    scheme_source: dict[str, int] = {}
    for i, override in enumerate(section.transforms):
        for uid in select(
            override.select, override.exclude, f"{SETTINGS_PATH}.transforms[{i}].select"
        ):
            current = settings[uid]
            if override.partition_scheme and current.partition_scheme not in (
                None,
                override.partition_scheme,
            ):
                problems.append(
                    Problem(
                        where,
                        f"{SETTINGS_PATH}.transforms[{i}].partition_scheme",
                        f"model {models[uid]['name']!r} is already assigned to scheme "
                        f"{current.partition_scheme!r} by {SETTINGS_PATH}.transforms[{scheme_source[uid]}]; "
                        "a model has one partition scheme: narrow one of the selections",
                    )
                )
                continue
            if override.partition_scheme:
                scheme_source[uid] = i
            settings[uid] = ModelSettings(
                group=override.group or current.group,
                owners=tuple(override.owners) if override.owners is not None else current.owners,
                workload_size=override.workload_size or current.workload_size,
                partition_scheme=override.partition_scheme or current.partition_scheme,
                backfill=override.backfill or current.backfill,
                pool=override.pool or current.pool,
            )
    floe_models = {m.name: m for m in resolved_models}
    settings = {
        uid: _with_floe_model(s, floe_models.get(models[uid]["name"]))
        for uid, s in settings.items()
    }

    schedule_models = {
        schedule.name: frozenset(
            with_upstream_seeds(
                manifest,
                select(schedule.select, None, f"{SETTINGS_PATH}.{section.schedule_path(i)}.select"),
            )
        )
        for i, schedule in enumerate(section.effective_schedules(files.name))
    }
    _check_ingestion(section.ingestion, files.project_dir, manifest, where, problems)
    schedule_schemes = _schedule_schemes(
        files.name, section, settings, schedule_models, where, problems
    )
    if artifacts.plugins.compute.type == "duckdb" and not artifacts.compute_config.get("path"):
        problems.append(
            Problem(where, "plugins.compute.config.path", "DuckDB needs the database file's path")
        )
    problems += profile_problems(files)
    problems += iceberg_problems(artifacts, where)
    problems += staleness_problems(
        section.sensors.staleness, _partitioned_assets(section, settings), where
    )
    if problems:
        raise FloeConfigError(files.name, problems)
    schemes = {s.name: s for s in section.partition_schemes}
    windows = {
        uid: (schemes[s.partition_scheme].vars.min, schemes[s.partition_scheme].vars.max)
        for uid, s in settings.items()
        if s.partition_scheme
    }
    warnings = (
        *window_warnings(files.project_dir, models, windows),
        *gate_warnings(files, settings),
        *iceberg_warnings(artifacts, where),
    )
    files = replace(files, manifest=slim_manifest(manifest))
    return ProductPlan(files, settings, schedule_models, schedule_schemes, warnings)


def buildable_nodes(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The dbt nodes that become assets, as dagster-dbt decides: models, seeds, snapshots.

    An ephemeral model is compiled into its children and never materialized, so it is no asset.
    """
    return {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in BUILDABLE_TYPES
        and node.get("config", {}).get("materialized") != "ephemeral"
    }


def with_upstream_seeds(manifest: dict[str, Any], unique_ids: set[str]) -> set[str]:
    """The selection plus every seed it reads, however indirectly: a run must load its raw data."""
    parents = manifest.get("parent_map", {})
    seen, queue = set(unique_ids), list(unique_ids)
    while queue:
        for parent in parents.get(queue.pop(), ()):
            if parent not in seen and parent.startswith(("model.", "snapshot.", "seed.")):
                seen.add(parent)
                queue.append(parent)
    return set(unique_ids) | {uid for uid in seen if uid.startswith("seed.")}


def _terms(select: str) -> list[str]:
    """dbt's union terms of a selection (space-separated); commas intersect within a term."""
    return select.split()


def _terms_of(selections: list[tuple[str, str | None]]) -> list[tuple[str, None]]:
    return [
        (term, None)
        for select, _ in selections
        if len(_terms(select)) > 1
        for term in _terms(select)
    ]


def _resolved_models_exist(
    resolved: list[Any], manifest: dict[str, Any], where: str
) -> list[Problem]:
    """Each of floe's `transforms.models` is a dbt model; a seed or snapshot there is named as such."""
    kinds = {node["name"]: node["resource_type"] for node in manifest["nodes"].values()}
    problems = []
    for i, model in enumerate(resolved):
        kind = kinds.get(model.name)
        if kind == "model":
            continue
        if kind in ("seed", "snapshot"):
            message = (
                f"{model.name!r} is a dbt {kind}, not a model; floe's `transforms.models` lists "
                f"models only: remove it there ({kind}s are built with the models that read them, "
                f"and `resource_type:{kind}` selects them in this package's settings)"
            )
        else:
            message = (
                f"model {model.name!r} is not in target/manifest.json; remove it or add the "
                "model to the dbt project"
            )
        problems.append(Problem(where, f"transforms.models[{i}].name", message))
    return problems


def _with_floe_model(settings: ModelSettings, model: Any | None) -> ModelSettings:
    """floe's quality tier and tags for the model, where floe resolved it."""
    if model is None or (model.quality_tier is None and not model.tags):
        return settings
    return replace(settings, quality_tier=model.quality_tier, floe_tags=tuple(model.tags or ()))


def _schedule_schemes(
    product: str,
    section: DagsterSection,
    settings: dict[str, ModelSettings],
    schedule_models: dict[str, frozenset[str]],
    where: str,
    problems: list[Problem],
) -> dict[str, str]:
    """The one partition scheme each schedule's selection uses, if any; two is an error."""
    sources = {s.name: s for s in section.ingestion}
    found: dict[str, str] = {}
    for i, spec in enumerate(section.effective_schedules(product)):
        used = [settings[u].partition_scheme for u in schedule_models.get(spec.name, ())]
        used += [sources[n].partition_scheme for n in spec.ingestion if n in sources]
        schemes = {s for s in used if s is not None}
        if len(schemes) > 1:
            problems.append(
                Problem(
                    where,
                    f"{SETTINGS_PATH}.{section.schedule_path(i)}.select",
                    f"selects assets of partition schemes {sorted(schemes)}; a schedule runs one "
                    "scheme's partitions: split it into one schedule per scheme",
                )
            )
        elif schemes:
            found[spec.name] = schemes.pop()
    return found


def _partitioned_assets(section: DagsterSection, settings: dict[str, ModelSettings]) -> int:
    """dbt models and ingested tables with a partition scheme: what a staleness tick judges."""
    models = sum(1 for s in settings.values() if s.partition_scheme)
    return models + sum(len(i.tables) for i in section.ingestion if i.partition_scheme)


def _check_ingestion(
    sources: list[IngestionSource],
    project_dir: Path,
    manifest: dict,
    where: str,
    problems: list[Problem],
) -> None:
    """Each ingested table must be a table of its dbt source, loaded once, by an existing module."""
    tables: dict[str, set[str]] = defaultdict(set)
    for node in manifest["sources"].values():
        tables[node["source_name"]].add(node["name"])
    fed: dict[tuple[str, str], str] = {}
    for i, source in enumerate(sources):
        module = project_dir.joinpath(*source.source.split(":")[0].split(".")).with_suffix(".py")
        if not module.is_file():
            problems.append(
                Problem(
                    where,
                    f"{SETTINGS_PATH}.ingestion[{i}].source",
                    f"module file {module} does not exist; `module:function` is relative to the "
                    "product directory",
                )
            )
        if source.dbt_source not in tables:
            known = ", ".join(sorted(tables)) or "none"
            problems.append(
                Problem(
                    where,
                    f"{SETTINGS_PATH}.ingestion[{i}].dbt_source",
                    f"dbt source {source.dbt_source!r} is not in the manifest (sources: {known}); "
                    "declare it in a sources.yml or fix the name",
                )
            )
            continue
        for j, table in enumerate(source.tables):
            if table not in tables[source.dbt_source]:
                problems.append(
                    Problem(
                        where,
                        f"{SETTINGS_PATH}.ingestion[{i}].tables[{j}]",
                        f"table {table!r} is not a table of dbt source {source.dbt_source!r}; "
                        "add it to the source in sources.yml or remove it here",
                    )
                )
            elif (source.dbt_source, table) in fed:
                problems.append(
                    Problem(
                        where,
                        f"{SETTINGS_PATH}.ingestion[{i}].tables[{j}]",
                        f"table {table!r} is already loaded by ingestion "
                        f"{fed[(source.dbt_source, table)]!r}; one loader per table",
                    )
                )
            else:
                fed[(source.dbt_source, table)] = source.name
