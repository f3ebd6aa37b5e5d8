"""`FloeProduct`: a product as a Dagster Component, so `dg` can scaffold, list, check and run it.

A `defs.yaml` of type `floe_dagster.FloeProduct` builds exactly what
`load_product_definitions` builds for the product directory it names; the component adds
no behaviour of its own, so `workspace.yaml` and `definitions.py` users get the same assets.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from dagster import Definitions
from dagster.components import (
    ComponentLoadContext,
    DefsStateConfig,
    ResolutionContext,
    Resolvable,
    Resolver,
    Scaffolder,
    StateBackedComponent,
)
from dagster.components.component_scaffolding import scaffold_component
from dagster.components.scaffold.scaffold import ScaffoldRequest, scaffold_with
from dagster_shared.serdes.objects.models.defs_state_info import DefsStateManagementType
from pydantic import BaseModel, Field

from floe_dagster.cli.commands import (
    cache_selections,
    prepare_product,
    product_name_for,
    report_init,
)
from floe_dagster.definitions import load_product_definitions
from floe_dagster.errors import FloeConfigError
from floe_dagster.loading.cache import manifest_fingerprint
from floe_dagster.loading.init_product import init_product


class FloeProductScaffoldParams(BaseModel):
    """`dg scaffold defs floe_dagster.FloeProduct NAME --project-path DBT_PROJECT [--name N]`."""

    project_path: str = Field(description="the dbt project, relative to the dg project's root")
    name: str | None = Field(default=None, description="product name (default: the dbt project's)")


class FloeProductScaffolder(Scaffolder[FloeProductScaffoldParams]):
    """Does what `floe-dagster init` does, then writes the defs.yaml pointing at the product."""

    @classmethod
    def get_scaffold_params(cls) -> type[FloeProductScaffoldParams]:
        return FloeProductScaffoldParams

    def scaffold(self, request: ScaffoldRequest[FloeProductScaffoldParams]) -> None:
        root = request.project_root or Path.cwd()
        result = init_product((root / request.params.project_path).resolve(), request.params.name)
        report_init(result)
        if prepare_product(result.project_dir):
            raise FloeConfigError.single(
                result.name, str(result.project_dir), "", "`dbt parse` failed: see dbt's output"
            )
        relative = os.path.relpath(result.project_dir, request.target_path.resolve())
        scaffold_component(request, {"project_dir": relative, "product_name": result.name})


def resolve_product_dir(context: ResolutionContext, value: str) -> Path:
    """The product directory, relative to the defs.yaml; the framework names file and key."""
    path = context.resolve_source_relative_path(context.resolve_value(value, as_type=str))
    if not path.is_dir():
        raise ValueError(f"{path} is no directory: name the product's, relative to this defs.yaml")
    return path


@scaffold_with(FloeProductScaffolder)
@dataclass
class FloeProduct(StateBackedComponent, Resolvable):
    """A floe data product: compiled_artifacts.json, a dbt project and its prepared manifest.

    `project_dir` is relative to this defs.yaml; `product_name` defaults to the artifacts' own.
    The state is the product's target/manifest.json and selection cache, refreshed by
    `dg utils refresh-defs-state` or `floe-dagster prepare`; a load never runs `dbt parse`.
    """

    project_dir: Annotated[
        Path,
        Resolver(
            resolve_product_dir,
            model_field_type=str,
            description="the product directory, relative to this defs.yaml",
        ),
    ]
    product_name: str | None = None

    @property
    def name(self) -> str:
        return product_name_for(self.project_dir, self.product_name)

    @property
    def defs_state_config(self) -> DefsStateConfig:
        return DefsStateConfig(
            key=f"FloeProduct[{self.name}]",
            management_type=DefsStateManagementType.LOCAL_FILESYSTEM,
            refresh_if_dev=False,  # `dg dev` loads what was prepared, as a code server does
        )

    def write_state_to_path(self, state_path: Path) -> None:
        """What `floe-dagster prepare` does; the marker records which manifest it prepared."""
        if prepare_product(self.project_dir):
            raise FloeConfigError.single(
                self.name, str(self.project_dir), "", "`dbt parse` failed: see dbt's output"
            )
        cache_selections(self.project_dir, self.name)
        state_path.write_text(manifest_fingerprint(self.project_dir))

    def build_defs_from_state(
        self, context: ComponentLoadContext, state_path: Path | None
    ) -> Definitions:
        return load_product_definitions(self.name, self.project_dir)
