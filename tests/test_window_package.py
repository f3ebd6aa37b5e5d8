"""The `floe_dagster` dbt package: shipped in the wheel, placed by prepare, strict about the window."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import orjson
import pytest

from tests.conftest import REPO, VENV_BIN, cli_env

pytestmark = pytest.mark.slow

PROFILES = """tiny:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ env_var('FLOE_DUCKDB_PATH', 'tiny.duckdb') }}"
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A dbt project with a packages.yml of its own (a local package), prepared once."""
    root = tmp_path_factory.mktemp("tiny")
    other = root / "their_package"
    (other / "macros").mkdir(parents=True)
    (other / "dbt_project.yml").write_text(
        'name: their_package\nversion: "1.0.0"\nconfig-version: 2\n'
    )
    (other / "macros" / "hello.sql").write_text("{% macro hello() %}'hello'{% endmacro %}\n")
    project = root / "tiny"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        'name: tiny\nversion: "1.0.0"\nconfig-version: 2\nprofile: tiny\n'
    )
    (project / "packages.yml").write_text("packages:\n  - local: ../their_package\n")
    (project / "profiles.yml").write_text(PROFILES)
    (project / "models" / "days.sql").write_text(
        "select {{ their_package.hello() }} as greeting, current_date as d\n"
        "where {{ floe_dagster.partition_window('d') }}\n"
    )
    done = subprocess.run(
        [VENV_BIN / "floe-dagster", "prepare", str(project)],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return project


def compile_inline(project: Path, sql: str, *vars_args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            VENV_BIN / "dbt",
            "compile",
            "--inline",
            sql,
            *vars_args,
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--quiet",
        ],
        env=cli_env(FLOE_DUCKDB_PATH=str(project / "tiny.duckdb")),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_wheel_ships_the_dbt_package(tmp_path):
    done = subprocess.run(
        ["uv", "build", "--wheel", "--offline", "-o", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "floe_dagster/dbt_package/dbt_project.yml",
        "floe_dagster/dbt_package/macros/partition_window.sql",
    } <= names


def test_prepare_places_the_package_after_the_products_own_dbt_deps(tiny):
    installed = sorted(p.name for p in (tiny / "dbt_packages").iterdir())
    assert installed == ["floe_dagster", "their_package"]
    manifest = orjson.loads((tiny / "target" / "manifest.json").read_bytes())
    model = manifest["nodes"]["model.tiny.days"]
    assert "macro.floe_dagster.partition_window" in model["depends_on"]["macros"]


def test_a_window_renders_a_half_open_filter(tiny):
    done = compile_inline(
        tiny,
        "{{ floe_dagster.partition_window('d') }}",
        "--vars",
        '{"min_date": "2026-03-05 00:00:00", "max_date": "2026-03-06 00:00:00"}',
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "d >= cast('2026-03-05 00:00:00' as timestamp)" in done.stdout
    assert "and d < cast('2026-03-06 00:00:00' as timestamp)" in done.stdout


def test_no_window_is_the_whole_range(tiny):
    done = compile_inline(tiny, "select {{ floe_dagster.partition_window('d') }} as whole_range")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "select true as whole_range" in done.stdout


def test_half_a_window_is_a_compile_error_naming_the_missing_var(tiny):
    done = compile_inline(
        tiny,
        "{{ floe_dagster.partition_window('d') }}",
        "--vars",
        '{"min_date": "2026-03-05 00:00:00"}',
    )
    assert done.returncode != 0
    assert "sets var 'min_date' but not 'max_date'" in done.stdout + done.stderr


def test_renamed_vars_are_read_by_name(tiny):
    done = compile_inline(
        tiny,
        "{{ floe_dagster.partition_window('d', min_var='lo', max_var='hi') }}",
        "--vars",
        '{"lo": "2026-03-05 00:00:00", "hi": "2026-03-05 01:00:00"}',
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "d < cast('2026-03-05 01:00:00' as timestamp)" in done.stdout
