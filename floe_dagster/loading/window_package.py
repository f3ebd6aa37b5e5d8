"""Place the `floe_dagster` dbt package (the partition-window contract) into a product.

The package ships inside this Python package (`floe_dagster/dbt_package/`). dbt loads every
project it finds under the product's packages install path (`dbt_packages/` unless
dbt_project.yml sets `packages-install-path`), listed in packages.yml or not, so a copy there
is all a model needs to call `{{ floe_dagster.partition_window('order_date') }}`.
`dbt deps` empties that directory before installing the product's own packages, so the copy
is placed after `dbt deps` (`floe-dagster prepare` runs both, in that order).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

PACKAGE_NAME = "floe_dagster"
PACKAGE_SOURCE = Path(__file__).resolve().parents[1] / "dbt_package"
DEFAULT_INSTALL_PATH = "dbt_packages"
PACKAGE_FILES = ("dbt_project.yml", "macros")


def packages_install_dir(project_dir: Path) -> Path:
    """Where dbt looks for installed packages in this project."""
    try:
        config = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        config = {}
    install_path = config.get("packages-install-path") if isinstance(config, dict) else None
    return project_dir / (install_path or DEFAULT_INSTALL_PATH)


def install_window_package(project_dir: Path) -> Path:
    """Copy the shipped package to `<install path>/floe_dagster`, replacing what is there.

    A previous copy, or a link `dbt deps` made to another copy, is replaced, so the product
    always runs the macros of the floe-dagster that runs it.
    """
    target = packages_install_dir(project_dir) / PACKAGE_NAME
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in PACKAGE_FILES:
        source = PACKAGE_SOURCE / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            shutil.copy2(source, target / name)
    return target
