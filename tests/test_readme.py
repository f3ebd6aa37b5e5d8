"""The README as a new user meets it: in a fresh clone, every quickstart command works as written.

The quickstart is each ```bash block right after a `<!-- quickstart -->` marker. The clone has
what `git clone` would give (tracked and new files, nothing git ignores): no .venv, no dbt
manifest, no Dagster instance, no warehouse, so the commands build their own, privately.
The README's first block (`scripts/demo.sh`, `scripts/test.sh`) is covered by test_demo.py
and by CI itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, VENV_BIN, clone_repo
from tests.serving import serving, wait_until_answering

README = (REPO / "README.md").read_text()
LONG_RUNNING = ("dagster dev", "dagster-webserver")
ANNOUNCED = re.compile(r"Serving dagster-webserver on (http://\S+)")


def quickstart_commands(text: str) -> list[str]:
    """One string per command, continuation lines joined, comment-only lines dropped."""
    blocks = re.findall(r"<!-- quickstart -->\s*```bash\n(.*?)```", text, re.DOTALL)
    lines = [line.strip() for block in blocks for line in re.sub(r"\\\n", "", block).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


COMMANDS = quickstart_commands(README)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clone_repo(tmp_path_factory.mktemp("readme") / "floe-dagster")


def newcomer_env() -> dict[str, str]:
    """A shell that has never seen this repo: no venv on PATH, no DAGSTER_HOME, no warehouse."""
    unset = {"VIRTUAL_ENV", "DAGSTER_HOME", "FLOE_DUCKDB_PATH", "PYTHONPATH"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    path = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(p for p in path if Path(p) != VENV_BIN)
    return env


def as_run_after_setup(index: int) -> str:
    """The command as the user's shell runs it: after the block's earlier `source` lines."""
    sourced = [c for c in COMMANDS[:index] if c.startswith("source ")]
    return "\n".join(["set -euo pipefail", *sourced, COMMANDS[index]])


def announced_url(process: subprocess.Popen, log: Path, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while not (found := ANNOUNCED.search(log.read_text())):
        assert process.poll() is None, f"exited:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, (
            f"no webserver in {timeout} s:\n{log.read_text()[-3000:]}"
        )
        time.sleep(1)
    return found.group(1)


def test_readme_opens_with_the_two_fresh_machine_commands():
    first = README.split("```bash\n", 1)[1].splitlines()[:2]
    assert [line.split("#")[0].strip() for line in first] == [
        "bash scripts/demo.sh",
        "bash scripts/test.sh",
    ]


def test_readme_marks_a_quickstart_that_starts_with_setup():
    assert COMMANDS, "no ```bash block follows a <!-- quickstart --> marker"
    assert COMMANDS[0].split("#")[0].strip() == "source scripts/setup.sh"


SERVERS = [i for i, command in enumerate(COMMANDS) if command.startswith(LONG_RUNNING)]
ONE_SHOT = [i for i in range(len(COMMANDS)) if i not in SERVERS]


def ids(indices: list[int]) -> list[str]:
    return [COMMANDS[i].split("#")[0].strip()[:60] for i in indices]


@pytest.mark.slow
@pytest.mark.parametrize("index", ONE_SHOT, ids=ids(ONE_SHOT))
def test_quickstart_command_works_as_written(index: int, clone: Path):
    done = subprocess.run(
        ["bash", "-c", as_run_after_setup(index)],
        cwd=clone,
        env=newcomer_env(),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, f"{COMMANDS[index]}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("index", SERVERS, ids=ids(SERVERS))
def test_quickstart_server_answers(index: int, clone: Path, tmp_path: Path):
    """Long-running commands start, serve the UI (on 3000, or the free port they announce), stop."""
    log = tmp_path / "server.log"
    with serving(as_run_after_setup(index), cwd=clone, env=newcomer_env(), log=log) as process:
        url = announced_url(process, log)
        wait_until_answering(process, f"{url}/server_info", 240, log)
