"""The chart's container command, run locally, serves the demo product as a code location.

The Deployment is rendered with the product directory and port set to local ones; its
command runs with its env and working directory, its probe command must pass, and a Dagster
webserver whose workspace points at it (as deploy/dagster-values.yaml does in a cluster)
must show the product's assets.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
import yaml

from tests.conftest import cli_env, free_port
from tests.test_helm import render
from tests.test_webserver import graphql

pytestmark = pytest.mark.slow


@pytest.fixture
def code_server(product_dir, tmp_path) -> Iterator[tuple[dict, int]]:
    port = free_port()
    values = {"image": "registry.example/floe/customer_360:1.0.0",
              "products": [{"name": "customer_360", "projectDir": str(product_dir), "port": port}]}
    (deployment,) = [o for o in render(values, tmp_path) if o["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = cli_env(**{e["name"]: e["value"] for e in container["env"]})
    process = subprocess.Popen(
        container["command"], cwd=container["workingDir"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        yield container, port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def probe_passes(container: dict, within_seconds: float) -> bool:
    command = container["readinessProbe"]["exec"]["command"]
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        if subprocess.run(command, env=cli_env(), capture_output=True, timeout=30).returncode == 0:
            return True
        time.sleep(1)
    return False


def test_rendered_container_command_serves_the_product_and_passes_its_health_check(code_server, tmp_path, dagster_home):
    container, port = code_server
    assert probe_passes(container, within_seconds=120), "the code server never passed its health check"

    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(yaml.safe_dump(
        {"load_from": [{"grpc_server": {"host": "127.0.0.1", "port": port, "location_name": "customer_360"}}]}))
    web_port = free_port()
    webserver = subprocess.Popen(
        ["dagster-webserver", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(web_port)],
        env=cli_env(DAGSTER_HOME=str(dagster_home)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                data = graphql(web_port, "{ assetNodes { assetKey { path } } }")
                if data["assetNodes"]:
                    break
            except OSError:
                pass
            assert webserver.poll() is None and time.monotonic() < deadline, "no assets served"
            time.sleep(1)
    finally:
        os.killpg(webserver.pid, signal.SIGTERM)
        webserver.wait(timeout=60)
    assets = {"/".join(n["assetKey"]["path"]) for n in data["assetNodes"]}
    assert "sales/customer_360/fct_orders" in assets
    assert len(assets) == 12
