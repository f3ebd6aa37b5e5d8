"""Mutated artifacts load as valid definitions or fail with FloeConfigError, nothing else."""

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from floe_dagster import FloeConfigError, load_product_definitions
from tests.conftest import DEMO

BASE = json.loads((DEMO / "compiled_artifacts.json").read_text())
INTERESTING = ["", "daily", "0 6 * * *", "UTC", "fqn:*", "tag:nothing", "0.4.1", "k8s", "x" * 200]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(INTERESTING)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths(node, prefix=()):
    yield prefix
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in children:
        yield from paths(child, (*prefix, key))


@st.composite
def mutated_artifacts(draw):
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from([p for p in paths(data) if p]))
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["delete", "replace", "add_unknown"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(VALUES)
    return data


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=mutated_artifacts())
def test_mutated_artifacts_give_definitions_or_the_package_error(product_dir, data):
    (product_dir / "compiled_artifacts.json").write_text(json.dumps(data))
    try:
        defs = load_product_definitions("customer_360", product_dir)
    except FloeConfigError as exc:
        assert exc.problems, "the error lists at least one problem"
        assert all(p.file for p in exc.problems)
    else:
        assert defs.get_repository_def().asset_graph.get_all_asset_keys()
