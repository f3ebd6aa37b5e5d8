"""The plugin's `emit_lineage_event` takes the same path as the steps' events, and never raises."""

from __future__ import annotations

import json
import logging

from floe_dagster.contract import CompiledArtifacts
from floe_dagster.observability.lineage import Dataset, emit_lineage_event
from tests.conftest import DEMO, free_port
from tests.observed_runs import observe
from tests.receivers import lineage_receiver

RUN_ID = "0190f6f0-0000-7000-8000-000000000001"


def _artifacts(lineage_url: str) -> CompiledArtifacts:
    data = json.loads((DEMO / "compiled_artifacts.json").read_text())
    observe(data, lineage_url=lineage_url)
    return CompiledArtifacts.model_validate(data)


def _emit(artifacts: CompiledArtifacts) -> None:
    emit_lineage_event(
        artifacts,
        "COMPLETE",
        "customer_360.export",
        inputs=[Dataset("duckdb:///w.duckdb", "customer_360.main.dim_customers")],
        outputs=[],
        run_id=RUN_ID,
    )


def test_emit_lineage_event_posts_to_the_http_transport():
    with lineage_receiver() as (url, events):
        _emit(_artifacts(url))
    (event,) = events
    assert event["eventType"] == "COMPLETE"
    assert (event["job"]["namespace"], event["job"]["name"]) == (
        "sales.customer_360",
        "customer_360.export",
    )
    assert event["run"]["runId"] == RUN_ID
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [
        ("duckdb:///w.duckdb", "customer_360.main.dim_customers")
    ]


def test_an_unreachable_endpoint_is_logged_once_and_never_raises(caplog):
    artifacts = _artifacts(f"http://127.0.0.1:{free_port()}")
    with caplog.at_level(logging.WARNING, logger="floe_dagster.observability"):
        _emit(artifacts)
        _emit(artifacts)
    warnings = [r for r in caplog.records if r.name == "floe_dagster.observability"]
    assert len(warnings) == 1
    assert "OpenLineage events could not be sent" in warnings[0].getMessage()
