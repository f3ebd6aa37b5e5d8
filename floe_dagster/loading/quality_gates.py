"""floe's quality gates (`quality_config.quality_gates`) as load warnings.

floe's compiler checks each model's tier against its gate: the dbt test types it must have
(`required_tests`) and the share of its columns that must be tested (`min_test_coverage`).
Here the same is checked against the dbt manifest the product actually runs, so a model
that lost a test since floe compiled it is reported. A gap is a warning, not an error: the
product still loads and runs, as a missing test does not make the data wrong. A model with
no tier counts as bronze, as floe counts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from floe_dagster.errors import Problem
from floe_dagster.loading.project import ProductFiles

if TYPE_CHECKING:
    from floe_dagster.loading.plan import ModelSettings

DEFAULT_TIER = "bronze"


def gate_warnings(
    files: ProductFiles, model_settings: Mapping[str, ModelSettings]
) -> list[Problem]:
    """A warning per model whose tier's gate asks for test types or coverage it does not have."""
    config = files.artifacts.quality_config
    if config is None or not config.enabled:
        return []
    nodes = files.manifest["nodes"]
    types, columns = _tests_by_model(nodes)
    warnings = []
    for uid, settings in sorted(model_settings.items()):
        node = nodes.get(uid)
        if node is None or node["resource_type"] != "model":
            continue  # floe's gates apply to its transforms: models
        tier = settings.quality_tier or DEFAULT_TIER
        gate = getattr(config.quality_gates, tier)
        model_file = str(files.project_dir / node["original_file_path"])
        field = f"quality_config.quality_gates.{tier}"
        missing = sorted(set(gate.required_tests) - types.get(uid, set()))
        if missing:
            warnings.append(
                Problem(
                    model_file,
                    f"{field}.required_tests",
                    f"model {node['name']!r} is {tier}, whose gate requires dbt tests of type "
                    f"{', '.join(missing)}, and it has none of that type: add them to the "
                    "model's `data_tests` in its schema .yml, or give the model a lower tier "
                    "in floe.yaml",
                )
            )
        coverage = _coverage(node, columns.get(uid, set()))
        if coverage < gate.min_test_coverage:
            documented = len(node.get("columns") or {})
            warnings.append(
                Problem(
                    model_file,
                    f"{field}.min_test_coverage",
                    f"model {node['name']!r} is {tier}, whose gate requires tests on "
                    f"{gate.min_test_coverage:g}% of its columns; {coverage:.0f}% of its "
                    f"{documented} documented columns have one: document and test more "
                    "columns in its schema .yml, or give the model a lower tier in floe.yaml",
                )
            )
    return warnings


def _tests_by_model(
    nodes: Mapping[str, Any],
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per model: the dbt test types on it (`test_metadata.name`), and the columns tested."""
    types: dict[str, set[str]] = {}
    columns: dict[str, set[str]] = {}
    for node in nodes.values():
        if node["resource_type"] != "test":
            continue
        deps = node.get("depends_on", {}).get("nodes", [])
        model = node.get("attached_node") or (deps[0] if deps else None)
        if model is None:
            continue
        name = (node.get("test_metadata") or {}).get("name")
        if name:
            types.setdefault(model, set()).add(name)
        if node.get("column_name"):
            columns.setdefault(model, set()).add(str(node["column_name"]).lower())
    return types, columns


def _coverage(node: Mapping[str, Any], tested: set[str]) -> float:
    """Percent of the model's documented columns with a test, as floe computes it (none: 0)."""
    documented = {str(c).lower() for c in (node.get("columns") or {})}
    if not documented:
        return 0.0
    return 100.0 * len(documented & tested) / len(documented)
