"""Shared fixtures: copies of the demo product, scratch Dagster instances, PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "products" / "customer_360"
VENV_BIN = Path(sys.executable).parent
IN_CI = os.environ.get("CI", "").lower() == "true"
# The OpenLineage job namespace floe compiled for the demo (`observability.lineage_namespace`).
DEMO_LINEAGE_NAMESPACE = json.loads((DEMO / "compiled_artifacts.json").read_text())[
    "observability"
]["lineage_namespace"]
POSTGRES_URL = os.environ.get("FLOE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def demo_manifest() -> Path:
    """The demo's dbt manifest, built once if setup has not built it."""
    manifest = DEMO / "target" / "manifest.json"
    if not manifest.exists():
        subprocess.run([VENV_BIN / "floe-dagster", "prepare", str(DEMO)], check=True)
    return manifest


@pytest.fixture
def product_dir(tmp_path: Path, demo_manifest: Path) -> Path:
    """A private copy of customer_360 (with its manifest) that a test may change or run."""
    target = tmp_path / "customer_360"
    shutil.copytree(
        DEMO, target, ignore=shutil.ignore_patterns("target", "warehouse", "logs", "__pycache__")
    )
    (target / "target").mkdir()
    shutil.copy(demo_manifest, target / "target" / "manifest.json")
    return target


@pytest.fixture
def edit_artifacts(product_dir: Path) -> Callable[[Callable[[dict[str, Any]], None]], Path]:
    """Apply a change to the copy's compiled_artifacts.json; returns the product dir."""

    def edit(change: Callable[[dict[str, Any]], None]) -> Path:
        path = product_dir / "compiled_artifacts.json"
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data, indent=1))
        return product_dir

    return edit


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    """A fresh embedded (SQLite) instance, configured like the repo's dagster.yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    return home


def clone_repo(target: Path) -> Path:
    """What `git clone` would give at `target`: tracked and untracked-not-ignored files, with
    symlinks kept as symlinks (a product may link to another's dbt project)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source, copy = REPO / name, target / name
        if source.is_symlink():
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.symlink_to(os.readlink(source))
        elif source.is_file():  # tracked files deleted in the work tree are skipped
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
    return target


def python_file_workspace(path: Path, project: Path, location: str) -> Path:
    """A workspace.yaml at `path` loading `project`/definitions.py as the code location `location`."""
    path.write_text(
        "load_from:\n  - python_file:\n"
        f"      relative_path: {project / 'definitions.py'}\n"
        f"      location_name: {location}\n"
        f"      working_directory: {project}\n"
    )
    return path


def grpc_workspace(path: Path, host: str, port: int, location: str) -> Path:
    """A workspace.yaml at `path` reaching the code server at `host`:`port` as `location`."""
    path.write_text(
        "load_from:\n  - grpc_server:\n"
        f"      host: {host}\n      port: {port}\n      location_name: {location}\n"
    )
    return path


def postgres_home(path: Path) -> Path:
    """A DAGSTER_HOME at `path` with dagster.postgres.yaml (it reads DAGSTER_PG_* from the env)."""
    path.mkdir()
    shutil.copy(REPO / "dagster.postgres.yaml", path / "dagster.yaml")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(**extra: str) -> dict[str, str]:
    """The environment a user's shell would have after setup: the venv's bin first on PATH."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.update(extra)
    return env


@contextmanager
def new_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped on exit.

    Unreachable PostgreSQL fails the test under CI=true and skips it elsewhere.
    """
    try:
        admin = psycopg2.connect(POSTGRES_URL, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is unreachable under CI: {exc}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc}")
    admin.autocommit = True
    name = f"floe_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test."""
    with new_postgres_database() as url:
        yield url


@pytest.fixture(autouse=True)
def _isolated_defs_state_storage():
    """Each test starts with no current Dagster defs-state storage.

    Dagster keeps the entered instance's storage in a context variable; one left behind by
    an earlier test (holding a weak reference to a closed instance) makes any later
    definitions load fail with "undefined DagsterInstance weakref". Internal API, test-only.
    """
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield


def floe_dagster_settings(artifacts: dict[str, Any]) -> dict[str, Any]:
    """This package's own settings inside a parsed `compiled_artifacts.json`, for tests to edit."""
    orchestrator = artifacts["plugins"]["orchestrator"]
    if orchestrator.get("config") is None:
        orchestrator["config"] = {}
    return orchestrator["config"]
