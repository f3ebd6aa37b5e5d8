"""The `floe-dagster` and `dagster` commands a user runs against a product."""

import json
import subprocess

from tests.conftest import DEMO, REPO, VENV_BIN, cli_env, floe_dagster_settings


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=cli_env(), cwd=REPO, **kwargs
    )


def test_validate_passes_on_the_demo_and_summarises_it(demo_manifest):
    done = run(VENV_BIN / "floe-dagster", "validate", DEMO)
    assert done.returncode == 0, done.stderr
    assert "customer_360: ok: 12 assets, 27 asset checks, 1 schedules, 2 sensors" in done.stdout


def test_validate_exits_1_listing_every_error(edit_artifacts):
    def two_mistakes(data):
        floe_dagster_settings(data)["schedules"][0]["cron"] = "every morning"
        floe_dagster_settings(data)["bogus"] = True

    project = edit_artifacts(two_mistakes)
    done = run(VENV_BIN / "floe-dagster", "validate", project)
    assert done.returncode == 1
    assert "plugins.orchestrator.config.schedules[0].cron: malformed cron" in done.stderr
    assert "plugins.orchestrator.config.bogus: unknown field" in done.stderr
    assert "Traceback" not in done.stderr


def test_schema_command_prints_the_json_schema():
    done = run(VENV_BIN / "floe-dagster", "schema")
    schema = json.loads(done.stdout)
    assert schema["title"] == "floe-dagster compiled_artifacts.json"
    orchestrator = schema["$defs"]["DagsterOrchestrator"]["properties"]
    assert "DagsterSection" in json.dumps(orchestrator["config"])


def test_dagster_definitions_validate_accepts_the_workspace(demo_manifest):
    done = run(VENV_BIN / "dagster", "definitions", "validate", "-w", "workspace.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "customer_360" in done.stdout + done.stderr


def test_a_bad_product_fails_dagster_definitions_validate_with_the_floe_message(edit_artifacts):
    project = edit_artifacts(
        lambda d: floe_dagster_settings(d)["schedules"][0].update(timezone="Mars/Olympus")
    )
    done = run(
        VENV_BIN / "dagster",
        "definitions",
        "validate",
        "-f",
        project / "definitions.py",
        "-d",
        project,
    )
    assert done.returncode != 0
    assert "unknown timezone 'Mars/Olympus'" in done.stdout + done.stderr
