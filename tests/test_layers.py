"""The package's layers, bottom to top; a module imports only its own layer or lower ones.

    names, errors, compat       strings, the error type, Dagster internals: import nothing
    contract                    the compiled_artifacts.json models
    loading                     the product directory read into a plan
    execution                   how steps run: resources, retries, k8s step config, executor
    observability               lineage and spans around each step
    assets                      dbt and dlt assets (built with the step settings, observed)
    automation                  jobs, schedules, sensors, run keys, staleness
    definitions, plugin, cli,   whole definitions, and what uses them (component: for `dg`)
    component

Every import counts, at module level, inside functions and under TYPE_CHECKING alike: each
is a dependency someone has to understand. The imports are read with ast, not executed.
"""

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import floe_dagster

PACKAGE = Path(floe_dagster.__file__).parent
LAYERS = [
    {"names", "errors", "compat"},
    {"contract"},
    {"loading"},
    {"execution"},
    {"observability"},
    {"assets"},
    {"automation"},
    {"definitions", "plugin", "cli", "component", "floe_dagster"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str:
    """The package or top-level module of `floe_dagster.<unit>...`; `floe_dagster` itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imported_modules(path: Path, module: str) -> set[str]:
    """floe_dagster modules `path` imports (`from a import b` counts as `a.b` if it is one)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, path.name == "__init__.py")
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names if _is_module(f"{base}.{a.name}")}
    return {m for m in found if m == "floe_dagster" or m.startswith("floe_dagster.")}


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    package = package if is_package else package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative).is_dir()


def package_imports() -> dict[str, set[str]]:
    """Each module of floe_dagster and the floe_dagster modules it imports."""
    imports = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        imports[module] = imported_modules(path, module)
    return imports


def upward_imports(imports: Mapping[str, Iterable[str]]) -> list[str]:
    return sorted(
        f"{module} ({unit_of(module)}) imports {target} ({unit_of(target)})"
        for module, targets in imports.items()
        for target in targets
        if RANK[unit_of(target)] > RANK[unit_of(module)]
    )


def unit_cycles(imports: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Cycles between packages (and top-level modules): each as the path that closes it."""
    edges: dict[str, set[str]] = {}
    for module, targets in imports.items():
        for target in targets:
            if unit_of(target) != unit_of(module):
                edges.setdefault(unit_of(module), set()).add(unit_of(target))
    cycles = []
    done: set[str] = set()

    def visit(unit: str, path: list[str]) -> None:
        if unit in path:
            cycles.append([*path[path.index(unit) :], unit])
            return
        if unit in done:
            return
        for target in sorted(edges.get(unit, ())):
            visit(target, [*path, unit])
        done.add(unit)

    for unit in sorted(edges):
        visit(unit, [])
    return cycles


def test_every_unit_of_the_package_has_a_layer():
    units = {unit_of(m) for m in package_imports()}
    assert units - set(RANK) == set()


def test_no_module_imports_a_layer_above_its_own():
    assert upward_imports(package_imports()) == []


def test_packages_do_not_import_each_other_in_a_cycle():
    assert unit_cycles(package_imports()) == []


def test_nothing_below_the_top_imports_definitions_or_the_cli():
    top = {"definitions", "cli", "floe_dagster"}
    offenders = [
        f"{module} imports {target}"
        for module, targets in package_imports().items()
        if unit_of(module) not in LAYERS[-1]
        for target in targets
        if unit_of(target) in top
    ]
    assert offenders == []


def test_an_upward_import_is_reported():
    imports = {"floe_dagster.automation.launch": {"floe_dagster.definitions"}}
    assert upward_imports(imports) == [
        "floe_dagster.automation.launch (automation) imports floe_dagster.definitions (definitions)"
    ]


def test_a_cycle_between_packages_is_reported():
    imports = {
        "floe_dagster.assets.dbt": {"floe_dagster.observability.step"},
        "floe_dagster.observability.datasets": {"floe_dagster.assets.translator"},
    }
    assert unit_cycles(imports) == [["assets", "observability", "assets"]]


def test_an_import_inside_a_function_counts(tmp_path):
    source = tmp_path / "late.py"
    source.write_text("def f():\n    from floe_dagster.definitions import load_plan\n")
    assert imported_modules(source, "floe_dagster.loading.late") == {"floe_dagster.definitions"}


def test_a_relative_import_is_resolved(tmp_path):
    source = tmp_path / "late.py"
    source.write_text("from ..names import PRODUCT_TAG\n")
    assert imported_modules(source, "floe_dagster.assets.late") == {"floe_dagster.names"}
