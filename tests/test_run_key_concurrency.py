"""8 processes evaluating 500 overlapping run keys at once create exactly one run per key."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter

import pytest
from dagster import DagsterInstance

from floe_dagster.names import RUN_KEY_TAG
from tests.conftest import REPO
from tests.test_run_keys import create_runs, guard, planned, storage_home  # noqa: F401

PROCESSES = 8
KEYS = 500


def evaluate(worker: int) -> None:
    """One evaluator: every key, in its own order, then a run for each key it won."""
    g = guard()
    mine = planned(g, KEYS, trigger="concurrent")
    random.Random(worker).shuffle(mine)
    with DagsterInstance.get() as instance:
        verdict = g.check(instance, mine, owner=f"worker-{worker}")
        create_runs(instance, verdict.granted)
    print(len(verdict.granted))


@pytest.mark.slow
def test_concurrent_evaluators_create_exactly_one_run_per_key(storage_home):
    with DagsterInstance.get() as instance:  # create the instance's tables before the race
        guard().check(instance, [], owner="setup")
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.test_run_key_concurrency", str(i)],
            cwd=REPO,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    results = [w.communicate(timeout=600) for w in workers]
    assert all(w.returncode == 0 for w in workers), [err[-2000:] for _, err in results]
    with DagsterInstance.get() as instance:
        runs = instance.get_runs()
    per_key = Counter(run.tags[RUN_KEY_TAG] for run in runs)
    assert len(per_key) == KEYS
    assert set(per_key.values()) == {1}
    assert sum(int(out) for out, _ in results) == KEYS


if __name__ == "__main__":
    evaluate(int(sys.argv[1]))
