"""Lineage from the plugin face: `emit_lineage_event` takes the steps' path, and never raises.

The plugin is called as floe calls it (floe's RunState and LineageDataset); the module
function underneath is what the steps use.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from uuid import UUID

from floe_core.lineage import LineageDataset, RunState

from floe_dagster.contract import CompiledArtifacts
from floe_dagster.observability.lineage import Dataset, emit_lineage_event
from floe_dagster.plugin import DagsterOrchestratorPlugin
from tests.conftest import DEMO, DEMO_LINEAGE_NAMESPACE, floe_dagster_settings, free_port
from tests.receivers import lineage_receiver

RUN_ID = "0190f6f0-0000-7000-8000-000000000001"
RAW = LineageDataset(namespace="duckdb:///w.duckdb", name="customer_360.raw.orders")
FCT = LineageDataset(
    namespace="duckdb:///w.duckdb",
    name="customer_360.main.fct_orders",
    facets={
        "documentation": {
            "_producer": "https://example.test",
            "_schemaURL": "https://example.test/doc",
            "description": "orders",
        }
    },
)


def http_lineage(url: str) -> Any:
    """This package's own `lineage` setting: http to `url`."""

    def change(data: dict[str, Any]) -> None:
        data["observability"]["lineage"] = True
        floe_dagster_settings(data)["lineage"] = {"type": "http", "url": url, "timeout_seconds": 2}

    return change


def floe_lineage_endpoint(url: str) -> Any:
    """floe's own fields only: `observability.lineage_endpoint` with transport `http`."""

    def change(data: dict[str, Any]) -> None:
        data["observability"].update(
            lineage=True, lineage_endpoint=f"{url}/api/v1/lineage", lineage_transport="http"
        )

    return change


def _artifacts(change: Any) -> CompiledArtifacts:
    data = json.loads((DEMO / "compiled_artifacts.json").read_text())
    change(data)
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


# -- the plugin, as floe calls it ------------------------------------------------------------


def test_plugin_sends_start_and_complete_with_the_datasets_and_returns_the_run_id(edit_artifacts):
    with lineage_receiver() as (url, events):
        plugin = DagsterOrchestratorPlugin.for_product(edit_artifacts(floe_lineage_endpoint(url)))
        run_id = plugin.emit_lineage_event(
            RunState.START, "dbt_run_fct_orders", inputs=[RAW], outputs=[FCT]
        )
        same = plugin.emit_lineage_event(
            RunState.COMPLETE, "dbt_run_fct_orders", run_id=run_id, inputs=[RAW], outputs=[FCT]
        )
    assert isinstance(run_id, UUID) and same == run_id
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for event in events:
        assert event["run"]["runId"] == str(run_id)
        assert (event["job"]["namespace"], event["job"]["name"]) == (
            DEMO_LINEAGE_NAMESPACE,
            "dbt_run_fct_orders",
        )
        assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [(RAW.namespace, RAW.name)]
        assert [(d["namespace"], d["name"]) for d in event["outputs"]] == [
            (FCT.namespace, FCT.name)
        ]
        assert event["outputs"][0]["facets"]["documentation"]["description"] == "orders"


def test_plugin_event_takes_floes_namespace_producer_and_facets(edit_artifacts):
    with lineage_receiver() as (url, events):
        plugin = DagsterOrchestratorPlugin.for_product(edit_artifacts(http_lineage(url)))
        plugin.emit_lineage_event(
            RunState.FAIL,
            "dbt_run_fct_orders",
            job_namespace="floe",
            run_id=UUID(RUN_ID),
            run_facets={
                "custom": {
                    "_producer": "https://example.test",
                    "_schemaURL": "https://example.test/r",
                    "attempt": 2,
                }
            },
            job_facets={
                "owner": {
                    "_producer": "https://example.test",
                    "_schemaURL": "https://example.test/j",
                    "team": "sales",
                }
            },
            producer="https://github.com/floe/floe",
        )
    (event,) = events
    assert (event["eventType"], event["job"]["namespace"], event["producer"]) == (
        "FAIL",
        "floe",
        "https://github.com/floe/floe",
    )
    assert event["run"]["facets"]["custom"]["attempt"] == 2
    assert event["job"]["facets"]["owner"]["team"] == "sales"


def test_plugin_event_to_an_unreachable_endpoint_never_raises_and_returns_a_run_id(
    edit_artifacts, caplog
):
    plugin = DagsterOrchestratorPlugin.for_product(
        edit_artifacts(http_lineage(f"http://127.0.0.1:{free_port()}"))
    )
    with caplog.at_level(logging.WARNING, logger="floe_dagster.observability"):
        run_id = plugin.emit_lineage_event(RunState.START, "dbt_run_fct_orders", outputs=[FCT])
    assert isinstance(run_id, UUID)
    assert any("OpenLineage events could not be sent" in r.getMessage() for r in caplog.records)


def test_an_unbound_plugin_sends_nothing_and_still_returns_the_run_id(caplog):
    with caplog.at_level(logging.WARNING, logger="floe_dagster.plugin"):
        run_id = DagsterOrchestratorPlugin().emit_lineage_event(
            RunState.START, "job", run_id=UUID(RUN_ID)
        )
    assert run_id == UUID(RUN_ID)
    assert "bound to no product" in caplog.text


def test_plugin_event_through_a_file_transport(edit_artifacts, tmp_path):
    events = tmp_path / "lineage.jsonl"

    def file_transport(data: dict[str, Any]) -> None:
        data["observability"]["lineage"] = True
        floe_dagster_settings(data)["lineage"] = {"type": "file", "path": str(events)}

    plugin = DagsterOrchestratorPlugin.for_product(edit_artifacts(file_transport))
    plugin.emit_lineage_event(RunState.START, "dbt_run", inputs=[RAW], outputs=[FCT])
    (event,) = [json.loads(line) for line in events.read_text().splitlines()]
    assert (event["eventType"], event["job"]["name"]) == ("START", "dbt_run")
    assert [d["name"] for d in event["inputs"]] == [RAW.name]


# -- the module function the steps use -------------------------------------------------------


def test_emit_lineage_event_posts_to_the_http_transport():
    with lineage_receiver() as (url, events):
        _emit(_artifacts(http_lineage(url)))
    (event,) = events
    assert event["eventType"] == "COMPLETE"
    assert (event["job"]["namespace"], event["job"]["name"]) == (
        DEMO_LINEAGE_NAMESPACE,
        "customer_360.export",
    )
    assert event["run"]["runId"] == RUN_ID
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [
        ("duckdb:///w.duckdb", "customer_360.main.dim_customers")
    ]


def test_an_unreachable_endpoint_is_logged_once_and_never_raises(caplog):
    artifacts = _artifacts(http_lineage(f"http://127.0.0.1:{free_port()}"))
    with caplog.at_level(logging.WARNING, logger="floe_dagster.observability"):
        _emit(artifacts)
        _emit(artifacts)
    warnings = [r for r in caplog.records if r.name == "floe_dagster.observability"]
    assert len(warnings) == 1
    assert "OpenLineage events could not be sent" in warnings[0].getMessage()
