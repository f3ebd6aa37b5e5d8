"""A snapshot of what customer_360's definitions contain, so any change to them is seen.

Asset specs, checks, steps (op tags, each step Job's `dagster-k8s/config`), jobs,
schedules and sensors, as plain sorted data; once as shipped (local) and once in k8s mode.
A change here is a change a user sees in the UI or a cluster sees in its Jobs: when it is
meant, update the snapshot and review its diff with the code's:

    pytest tests/test_definitions_snapshot.py --snapshot-update

(tests/__snapshots__/test_definitions_snapshot.ambr is the file it writes).
"""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
from dagster import (
    AssetChecksDefinition,
    AssetsDefinition,
    PartitionsDefinition,
    RepositoryDefinition,
    TimeWindowPartitionsDefinition,
)

from floe_dagster import load_product_definitions
from floe_dagster.names import STEP_CONFIG_TAG
from tests.conftest import DEMO
from tests.test_k8s_step_config import k8s_mode


@pytest.fixture(scope="module")
def demo_repo(demo_manifest) -> RepositoryDefinition:
    return load_product_definitions("customer_360", DEMO).get_repository_def()


@pytest.fixture(scope="module")
def k8s_repo(tmp_path_factory, demo_manifest) -> RepositoryDefinition:
    product = tmp_path_factory.mktemp("snapshot_k8s") / "customer_360"
    shutil.copytree(
        DEMO, product, ignore=shutil.ignore_patterns("warehouse", "logs", "__pycache__")
    )
    artifacts = json.loads((product / "compiled_artifacts.json").read_text())
    k8s_mode(artifacts)
    (product / "compiled_artifacts.json").write_text(json.dumps(artifacts))
    return load_product_definitions("customer_360", product).get_repository_def()


def test_customer_360_definitions_match_the_snapshot(demo_repo, snapshot):
    assert described(demo_repo) == snapshot


def test_customer_360_steps_in_k8s_mode_match_the_snapshot(k8s_repo, snapshot):
    assert {"executor": executor(k8s_repo), "steps": steps(k8s_repo)} == snapshot


def test_a_changed_asset_spec_changes_what_is_snapshotted(demo_repo):
    original = demo_repo.assets_defs_by_key
    step = original[min(original, key=lambda k: k.to_user_string())]
    moved = step.map_asset_specs(lambda spec: spec.replace_attributes(group_name="moved"))
    # every key of the step maps to the changed definition, whatever the dict's order
    changed = {key: moved if d is step else d for key, d in original.items()}
    assert assets(changed) != assets(original)


def described(repo: RepositoryDefinition) -> dict[str, Any]:
    return {
        "assets": assets(repo.assets_defs_by_key),
        "checks": checks(repo),
        "steps": steps(repo),
        "jobs": jobs(repo),
        "schedules": schedules(repo),
        "sensors": sensors(repo),
        "executor": executor(repo),
    }


def assets(assets_defs_by_key: dict) -> dict[str, Any]:
    return {
        spec.key.to_user_string(): {
            "group": spec.group_name,
            "owners": sorted(spec.owners),
            "tags": dict(sorted(spec.tags.items())),
            "kinds": sorted(spec.kinds),
            "partitions": partitions(spec.partitions_def),
            "deps": sorted(dep.asset_key.to_user_string() for dep in spec.deps),
            "step": assets_def.node_def.name if assets_def.is_executable else None,
        }
        for assets_def in _unique(assets_defs_by_key.values())
        for spec in assets_def.specs
    }


def checks(repo: RepositoryDefinition) -> dict[str, Any]:
    defs = [
        *_unique(repo.assets_defs_by_key.values()),
        *_unique(repo.asset_checks_defs_by_key.values()),
    ]
    return dict(
        sorted(
            (
                f"{spec.asset_key.to_user_string()}:{spec.name}",
                {
                    "blocking": spec.blocking,
                    "step": definition.node_def.name,
                    "metadata": {k: _plain(v) for k, v in sorted(spec.metadata.items())},
                },
            )
            for definition in defs
            for spec in definition.check_specs
        )
    )


def steps(repo: RepositoryDefinition) -> dict[str, Any]:
    defs = [
        *_unique(repo.assets_defs_by_key.values()),
        *_unique(repo.asset_checks_defs_by_key.values()),
    ]
    return {
        definition.node_def.name: _step(definition)
        for definition in sorted(
            (d for d in defs if d.is_executable), key=lambda d: d.node_def.name
        )
    }


def _step(definition: AssetsDefinition | AssetChecksDefinition) -> dict[str, Any]:
    op = definition.node_def
    policy = definition.backfill_policy
    retry = op.retry_policy
    tags = dict(sorted(op.tags.items()))
    if STEP_CONFIG_TAG in tags:
        tags[STEP_CONFIG_TAG] = json.loads(tags[STEP_CONFIG_TAG])
    return {
        "assets": sorted(k.to_user_string() for k in definition.keys),
        "checks": sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in definition.check_keys),
        "tags": tags,
        "pool": op.pool,
        "retry": None if retry is None else [retry.max_retries, retry.delay, str(retry.backoff)],
        "backfill": None
        if policy is None
        else [policy.policy_type.value, policy.max_partitions_per_run],
    }


def jobs(repo: RepositoryDefinition) -> dict[str, Any]:
    implicit = set(repo.get_implicit_asset_job_names())
    return {
        job.name: {
            "assets": sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys),
            "tags": dict(sorted(job.tags.items())),
            "partitions": partitions(job.partitions_def),
        }
        for job in sorted(repo.get_all_jobs(), key=lambda j: j.name)
        if job.name not in implicit
    }


def schedules(repo: RepositoryDefinition) -> dict[str, Any]:
    return {
        s.name: {
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "job": s.job_name,
            "default_status": s.default_status.value,
        }
        for s in sorted(repo.schedule_defs, key=lambda s: s.name)
    }


def sensors(repo: RepositoryDefinition) -> dict[str, Any]:
    return {
        s.name: {
            "type": s.sensor_type.value,
            "minimum_interval_seconds": s.minimum_interval_seconds,
            "default_status": s.default_status.value,
            "jobs": sorted(t.job_name for t in s.targets),
            "asset_selection": str(s.asset_selection) if s.asset_selection else None,
        }
        for s in sorted(repo.sensor_defs, key=lambda s: s.name)
    }


def executor(repo: RepositoryDefinition) -> dict[str, Any]:
    """The run's executor and the config the artifacts baked into it."""
    executor_def = repo.get_implicit_global_asset_job_def().executor_def
    schema = executor_def.config_schema
    field = schema.as_field()  # an executor as Dagster ships it: its defaults
    config = field.default_value if field.default_provided else schema.resolve_config({}).value
    return {"name": executor_def.name, "config": config}


def partitions(definition: PartitionsDefinition | None) -> dict[str, Any] | str | None:
    if definition is None or not isinstance(definition, TimeWindowPartitionsDefinition):
        return None if definition is None else str(definition)
    return {
        "type": type(definition).__name__,
        "cron": definition.cron_schedule,
        "start": definition.start.isoformat(),
        "end": definition.end.isoformat() if definition.end else None,
        "timezone": definition.timezone,
        "fmt": definition.fmt,
        "end_offset": definition.end_offset,
    }


def _unique(definitions) -> list:
    return list({id(d): d for d in definitions}.values())


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)
