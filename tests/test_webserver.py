"""`dagster dev -w workspace.yaml` serves the product's assets, checks and schedules."""

import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import REPO, cli_env, free_port

pytestmark = pytest.mark.slow

QUERY = """
{
  workspaceOrError { ... on Workspace { locationEntries { name
      locationOrLoadError { __typename ... on PythonError { message } } } } }
  assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name } } } }
  repositoriesOrError { ... on RepositoryConnection { nodes { name
      schedules { name cronSchedule executionTimezone } } } }
}
"""


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


@pytest.fixture
def dagster_dev(dagster_home, demo_manifest):
    port = free_port()
    process = subprocess.Popen(
        ["dagster", "dev", "-w", "workspace.yaml", "-p", str(port), "-h", "127.0.0.1"],
        cwd=REPO,
        env=cli_env(DAGSTER_HOME=str(dagster_home)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                assert process.poll() is None, "dagster dev exited"
                assert time.monotonic() < deadline, "dagster dev did not come up in 120 s"
                time.sleep(1)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def test_dagster_dev_shows_assets_checks_and_schedules(dagster_dev):
    deadline = time.monotonic() + 60
    while True:
        data = graphql(dagster_dev, QUERY)
        entries = data["workspaceOrError"]["locationEntries"]
        if entries and entries[0]["locationOrLoadError"]:
            break
        assert time.monotonic() < deadline, "code location did not load"
        time.sleep(1)
    assert entries[0]["name"] == "customer_360"
    assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation"

    assets = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert "sales/customer_360/fct_orders" in assets
    assert len(assets) == 12
    checks = sum(len(n["assetChecksOrError"]["checks"]) for n in assets.values())
    assert checks == 27  # 20 dbt tests + a staleness check on each of 7 partitioned assets
    schedules = [s for r in data["repositoriesOrError"]["nodes"] for s in r["schedules"]]
    assert schedules == [
        {
            "name": "customer_360_daily",
            "cronSchedule": "0 6 * * *",
            "executionTimezone": "Europe/Berlin",
        }
    ]
