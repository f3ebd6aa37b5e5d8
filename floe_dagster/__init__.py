"""floe-dagster: a floe data product as a Dagster code location."""

from floe_dagster.definitions import load_product_definitions
from floe_dagster.errors import FloeConfigError

__all__ = ["FloeConfigError", "load_product_definitions"]
