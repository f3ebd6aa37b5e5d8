"""The code passes its static checks: ruff (lint and format) and mypy, as configured in pyproject.toml.

They run as tests so that the README's test command (and so CI) runs them. Fix a finding, or
for formatting run `.venv/bin/ruff format floe_dagster tests bench`.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import REPO, VENV_BIN

CHECKED = ["floe_dagster", "tests", "bench"]


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    done = _run(str(VENV_BIN / "ruff"), "check", *CHECKED)
    assert done.returncode == 0, done.stdout[-6000:]


def test_the_code_is_formatted_as_ruff_formats_it():
    done = _run(str(VENV_BIN / "ruff"), "format", "--check", *CHECKED)
    assert done.returncode == 0, done.stdout[-6000:]


@pytest.mark.slow
def test_mypy_finds_nothing_in_the_package():
    done = _run(str(VENV_BIN / "mypy"))
    assert done.returncode == 0, done.stdout[-6000:]


@pytest.mark.parametrize(
    "module", sorted(p.stem for p in (REPO / "bench").glob("*.py") if p.stem != "__init__")
)
def test_every_bench_script_imports(module: str):
    """The benches are outside mypy's files and no test runs them whole: at least they import."""
    done = _run(str(VENV_BIN / "python"), "-c", f"import bench.{module}")
    assert done.returncode == 0, done.stderr[-3000:]
