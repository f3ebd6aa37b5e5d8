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

from floe_dagster.contract.dagster_section import (
    BackfillPolicy,
    DagsterSection,
    IngestionSource,
    PartitionScheme,
)
from floe_dagster.errors import FloeConfigError, Problem
from floe_dagster.loading.manifest import slim_manifest
from floe_dagster.loading.project import ARTIFACTS_FILE, ProductFiles
from floe_dagster.loading.selection import resolve_selections


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
    def dbt_groups(self) -> list[DbtAssetGroup]:
        buckets: dict[tuple, set[str]] = defaultdict(set)
        for uid, s in self.model_settings.items():
            buckets[(s.partition_scheme, s.backfill, s.workload_size, s.pool)].add(uid)
        groups = []
        for (scheme, backfill, size, pool), uids in sorted(buckets.items(), key=lambda kv: str(kv[0])):
            parts = ["dbt", scheme or "unpartitioned"]
            if backfill is not None:
                parts.append(backfill.policy + (str(backfill.chunk_size) if backfill.chunk_size else ""))
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
    models = {
        uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"
    }
    by_name = {node["name"]: uid for uid, node in models.items()}
    problems: list[Problem] = []
    resolved = resolve_selections(
        files.project_dir,
        manifest,
        [(o.select, o.exclude) for o in section.transforms]
        + [(s.select, None) for s in section.schedules],
    )

    def select(select: str, exclude: str | None, field_path: str) -> set[str]:
        result = resolved[(select, exclude)]
        if isinstance(result, Exception):
            problems.append(Problem(where, field_path, f"invalid dbt selection {select!r}: {result}"))
            return set()
        chosen = result & models.keys()
        if not chosen:
            problems.append(
                Problem(
                    where,
                    field_path,
                    f"selection {select!r} matches no dbt model in target/manifest.json; fix the "
                    "selection or rebuild the manifest with `floe-dagster prepare`",
                )
            )
        return chosen

    for i, model in enumerate(artifacts.transforms.models):
        if model.name not in by_name:
            problems.append(
                Problem(
                    where,
                    f"transforms.models[{i}].name",
                    f"model {model.name!r} is not in target/manifest.json; remove it or add the "
                    "model to the dbt project",
                )
            )

    defaults = ModelSettings(
        owners=tuple(section.owners), workload_size=section.execution.default_workload_size
    )
    settings = {uid: defaults for uid in models}
    scheme_source: dict[str, int] = {}
    for i, override in enumerate(section.transforms):
        for uid in select(override.select, override.exclude, f"dagster.transforms[{i}].select"):
            current = settings[uid]
            if override.partition_scheme and current.partition_scheme not in (
                None,
                override.partition_scheme,
            ):
                problems.append(
                    Problem(
                        where,
                        f"dagster.transforms[{i}].partition_scheme",
                        f"model {models[uid]['name']!r} is already assigned to scheme "
                        f"{current.partition_scheme!r} by dagster.transforms[{scheme_source[uid]}]; "
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
    tiers = {m.name: m.quality_tier for m in artifacts.transforms.models}
    settings = {
        uid: _with_tier(s, tiers.get(models[uid]["name"])) for uid, s in settings.items()
    }

    schedule_models = {
        schedule.name: frozenset(select(schedule.select, None, f"dagster.schedules[{i}].select"))
        for i, schedule in enumerate(section.schedules)
    }
    _check_ingestion(section.ingestion, files.project_dir, manifest, where, problems)
    schedule_schemes = _schedule_schemes(section, settings, schedule_models, where, problems)
    if artifacts.plugins.compute.type == "duckdb" and not (artifacts.plugins.compute.config or {}).get(
        "path"
    ):
        problems.append(
            Problem(where, "plugins.compute.config.path", "DuckDB needs the database file's path")
        )
    if problems:
        raise FloeConfigError(files.name, problems)
    files = replace(files, manifest=slim_manifest(manifest))
    return ProductPlan(files, settings, schedule_models, schedule_schemes)


def _with_tier(settings: ModelSettings, tier: str | None) -> ModelSettings:
    if tier is None:
        return settings
    return ModelSettings(**{**settings.__dict__, "quality_tier": tier})


def _schedule_schemes(
    section: DagsterSection,
    settings: dict[str, ModelSettings],
    schedule_models: dict[str, frozenset[str]],
    where: str,
    problems: list[Problem],
) -> dict[str, str]:
    """The one partition scheme each schedule's selection uses, if any; two is an error."""
    sources = {s.name: s for s in section.ingestion}
    found = {}
    for i, spec in enumerate(section.schedules):
        schemes = {settings[u].partition_scheme for u in schedule_models.get(spec.name, ())}
        schemes |= {sources[n].partition_scheme for n in spec.ingestion if n in sources}
        schemes.discard(None)
        if len(schemes) > 1:
            problems.append(
                Problem(
                    where,
                    f"dagster.schedules[{i}].select",
                    f"selects assets of partition schemes {sorted(schemes)}; a schedule runs one "
                    "scheme's partitions: split it into one schedule per scheme",
                )
            )
        elif schemes:
            found[spec.name] = schemes.pop()
    return found


def _check_ingestion(
    sources: list[IngestionSource], project_dir: Path, manifest: dict, where: str, problems: list[Problem]
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
                    f"dagster.ingestion[{i}].source",
                    f"module file {module} does not exist; `module:function` is relative to the "
                    "product directory",
                )
            )
        if source.dbt_source not in tables:
            known = ", ".join(sorted(tables)) or "none"
            problems.append(
                Problem(
                    where,
                    f"dagster.ingestion[{i}].dbt_source",
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
                        f"dagster.ingestion[{i}].tables[{j}]",
                        f"table {table!r} is not a table of dbt source {source.dbt_source!r}; "
                        "add it to the source in sources.yml or remove it here",
                    )
                )
            elif (source.dbt_source, table) in fed:
                problems.append(
                    Problem(
                        where,
                        f"dagster.ingestion[{i}].tables[{j}]",
                        f"table {table!r} is already loaded by ingestion "
                        f"{fed[(source.dbt_source, table)]!r}; one loader per table",
                    )
                )
            else:
                fed[(source.dbt_source, table)] = source.name
