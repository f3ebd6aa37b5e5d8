"""tests/real_dbt_projects.py's specification on the `fleet_ops` fixture project."""

import pytest

from tests.real_dbt_projects import *  # noqa: F403  (the specification's tests)
from tests.real_dbt_projects import SHAPES, Product, built_product

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Product:
    (shape,) = [s for s in SHAPES if s.fixture == "fleet_ops"]
    return built_product(shape, tmp_path_factory)
