"""docs/first_product.md as a newcomer follows it: every ```bash block, in order, in one shell.

The shell starts where the guide says, after `source scripts/setup.sh` (the venv on PATH, a
fresh DAGSTER_HOME), in a fresh copy of the repository (what `git clone` would give: no
manifests, no warehouse, no instance). A command that fails stops the guide and fails the test
with the shell's trace.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus

from tests.conftest import REPO, cli_env, clone_repo

GUIDE = REPO / "docs" / "first_product.md"


def guide_blocks(text: str) -> list[str]:
    """The ```bash blocks, in order (```console blocks, e.g. `dagster dev`, are not run)."""
    return re.findall(r"^```bash\n(.*?)^```", text, re.DOTALL | re.MULTILINE)


BLOCKS = guide_blocks(GUIDE.read_text())


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clone_repo(tmp_path_factory.mktemp("guide") / "floe-dagster")


@pytest.fixture(scope="module")
def followed(clone: Path, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("guide_home")
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = cli_env(DAGSTER_HOME=str(home))
    env.pop("FLOE_DUCKDB_PATH", None)
    script = "\n".join(["set -euxo pipefail", *BLOCKS])
    done = subprocess.run(
        ["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=1500
    )
    return clone / "my_shop", home, done


def test_the_guide_has_commands_for_every_step():
    commands = "\n".join(BLOCKS)
    for step in (
        "floe-dagster init",
        "floe-dagster validate",
        "--partition-range",
        "--partition ",
        "dagster schedule start",
        "floe-dagster status",
    ):
        assert step in commands, step


@pytest.mark.slow
def test_every_command_of_the_guide_runs_as_written(followed):
    _, _, done = followed
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-8000:]}"


@pytest.mark.slow
def test_following_the_guide_leaves_a_materialized_partitioned_scheduled_product(followed):
    product, home, done = followed
    assert done.returncode == 0, done.stderr[-4000:]
    with duckdb.connect(str(product / "warehouse" / "my_shop.duckdb"), read_only=True) as db:
        days = db.execute("select count(distinct order_date) from orders").fetchone()[0]
    assert days == 14
    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 3 and all(r.status == DagsterRunStatus.SUCCESS for r in runs)
        started = [s.instigator_name for s in instance.all_instigator_state() if s.is_running]
    assert started == ["my_shop_morning"]
    assert "fresh" in done.stdout.splitlines()[-1]  # the status summary
