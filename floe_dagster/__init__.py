"""floe-dagster: a floe data product as a Dagster code location.

The public names are imported on first use, so `import floe_dagster.<module>` (the CLI,
sensors' helpers, worker processes) does not pay for building the whole definitions stack.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from floe_dagster.definitions import load_product_definitions
    from floe_dagster.errors import FloeConfigError

__all__ = ["FloeConfigError", "load_product_definitions"]


def __getattr__(name: str) -> Any:
    if name == "load_product_definitions":
        from floe_dagster.definitions import load_product_definitions

        return load_product_definitions
    if name == "FloeConfigError":
        from floe_dagster.errors import FloeConfigError

        return FloeConfigError
    raise AttributeError(f"module 'floe_dagster' has no attribute {name!r}")
