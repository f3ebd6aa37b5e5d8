"""The bench generator's synthetic products load through load_product_definitions."""

import pytest

from bench.synthetic import synthetic_product
from floe_dagster import load_product_definitions
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_a_1000_model_product_loads_with_groups_partitions_and_checks():
    project = synthetic_product(1000, REPO / ".artifacts" / "synthetic")
    repo = load_product_definitions("synthetic_1000", project).get_repository_def()
    graph = repo.asset_graph
    models = [
        k for k in graph.get_all_asset_keys() if k.path[-1].startswith(("stg_", "int_", "mart_"))
    ]
    assert len(models) == 1000
    mart = graph.get(next(k for k in models if k.path[-1].startswith("mart_")))
    assert mart.group_name == "marts"
    assert mart.partitions_def is not None
    dbt_checks = [c for c in graph.asset_check_keys if c.name != "partition_staleness"]
    assert len(dbt_checks) == 200
    assert repo.get_schedule_def("nightly")
