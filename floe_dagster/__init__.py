"""floe-dagster: a floe data product as a Dagster code location.

The public names are imported on first use, so `import floe_dagster.<module>` (the CLI,
sensors' helpers, worker processes) does not pay for building the whole definitions stack.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from floe_dagster.component import FloeProduct
    from floe_dagster.definitions import load_product_definitions
    from floe_dagster.errors import FloeConfigError

__all__ = ["FloeConfigError", "FloeProduct", "load_product_definitions"]


def __dir__() -> list[str]:
    """The lazy names too: `dg` finds the package's components by listing the module."""
    return sorted({*globals(), *__all__})


def __getattr__(name: str) -> Any:
    if name == "FloeProduct":
        from floe_dagster.component import FloeProduct

        return FloeProduct
    if name == "load_product_definitions":
        from floe_dagster.definitions import load_product_definitions

        return load_product_definitions
    if name == "FloeConfigError":
        from floe_dagster.errors import FloeConfigError

        return FloeConfigError
    raise AttributeError(f"module 'floe_dagster' has no attribute {name!r}")
