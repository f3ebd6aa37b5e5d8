"""`FloeProduct`: a product as a Dagster Component, so `dg` can scaffold, list, check and run it.

A `defs.yaml` of type `floe_dagster.FloeProduct` builds exactly what
`load_product_definitions` builds for the product directory it names; the component adds
no behaviour of its own, so `workspace.yaml` and `definitions.py` users get the same assets.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from dagster import Definitions
from dagster.components import Component, ComponentLoadContext, Resolvable, Scaffolder
from dagster.components.component_scaffolding import scaffold_component
from dagster.components.scaffold.scaffold import ScaffoldRequest, scaffold_with
from pydantic import BaseModel, Field

from floe_dagster.cli.commands import prepare_product, product_name_for
from floe_dagster.definitions import load_product_definitions
from floe_dagster.errors import FloeConfigError
from floe_dagster.loading.init_product import init_product

DEFS_FILE = "defs.yaml"


class FloeProductScaffoldParams(BaseModel):
    """`dg scaffold defs floe_dagster.FloeProduct DIR [--project-path DBT_PROJECT]`."""

    project_path: str | None = Field(
        default=None, description="the dbt project (default: the scaffolded directory itself)"
    )
    name: str | None = Field(default=None, description="product name (default: the dbt project's)")


class FloeProductScaffolder(Scaffolder[FloeProductScaffoldParams]):
    """Does what `floe-dagster init` does, then writes the defs.yaml pointing at the product."""

    @classmethod
    def get_scaffold_params(cls) -> type[FloeProductScaffoldParams]:
        return FloeProductScaffoldParams

    def scaffold(self, request: ScaffoldRequest[FloeProductScaffoldParams]) -> None:
        target = request.target_path.resolve()
        given = request.params.project_path
        project_dir = (request.project_root or Path.cwd()) / given if given else target
        result = init_product(project_dir.resolve(), request.params.name)
        if prepare_product(result.project_dir):
            raise FloeConfigError.single(
                result.name, str(result.project_dir), "", "`dbt parse` failed: see dbt's output"
            )
        relative = os.path.relpath(result.project_dir, target)
        scaffold_component(request, {"project_dir": relative, "product_name": result.name})


@scaffold_with(FloeProductScaffolder)
@dataclass
class FloeProduct(Component, Resolvable):
    """A floe data product: compiled_artifacts.json, a dbt project and its prepared manifest.

    `project_dir` is relative to this defs.yaml's directory; `product_name` defaults to the
    artifacts' own name. The definitions are `load_product_definitions(product_name, project_dir)`.
    """

    project_dir: str = "."
    product_name: str | None = None

    def build_defs(self, context: ComponentLoadContext) -> Definitions:
        project_dir = (context.path / self.project_dir).resolve()
        if not project_dir.is_dir():
            raise FloeConfigError.single(
                self.product_name or project_dir.name,
                str(context.path / DEFS_FILE),
                "attributes.project_dir",
                f"{self.project_dir!r} is no directory ({project_dir}); name the product "
                "directory relative to this defs.yaml",
            )
        name = product_name_for(project_dir, self.product_name)
        return load_product_definitions(name, project_dir)
