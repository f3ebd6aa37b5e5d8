"""Long-running commands (webserver, daemon, `dagster dev`) started for a test and always stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def serving(
    command: list[str] | str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    ready_url: str | None = None,
    timeout: float = 240,
) -> Iterator[subprocess.Popen]:
    """Run `command` in its own process group; once `ready_url` answers, yield; then stop it all.

    A string command runs through bash. Output goes to `log`, whose tail is shown if the
    command exits or never answers.
    """
    with log.open("w") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            shell=isinstance(command, str),
            executable="/bin/bash" if isinstance(command, str) else None,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        if ready_url:
            wait_until_answering(process, ready_url, timeout, log)
        yield process
    finally:
        _stop(process)


def wait_until_answering(process: subprocess.Popen, url: str, timeout: float, log: Path) -> None:
    """Poll `url` until it answers; fail early, with the log's tail, if the process exits."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            pass
        assert process.poll() is None, f"{process.args} exited:\n{_tail(log)}"
        assert time.monotonic() < deadline, f"{url} did not answer in {timeout} s:\n{_tail(log)}"
        time.sleep(1)


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the whole group (code servers, run workers), SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
