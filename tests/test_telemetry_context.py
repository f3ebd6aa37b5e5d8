"""The trace context a step pod gets through its Job's env names the run span of its own run."""

from __future__ import annotations

import json
import uuid

from opentelemetry.trace import get_current_span

from floe_dagster.contract import CompiledArtifacts
from floe_dagster.observability import trace_env
from floe_dagster.observability.tracing import TRACEPARENT, run_context, run_span_id
from tests.conftest import DEMO

RUN_ID = "5f112756-40bb-4c42-a173-27b4fe088b09"


def _artifacts(enabled: bool, dev_sampling: float = 1.0) -> CompiledArtifacts:
    data = json.loads((DEMO / "compiled_artifacts.json").read_text())
    data["observability"]["telemetry"].update(enabled=enabled, sampling={"dev": dev_sampling})
    return CompiledArtifacts.model_validate(data)


def test_trace_env_is_a_w3c_traceparent_for_the_run_span():
    env = trace_env(_artifacts(enabled=True), RUN_ID)
    assert env == {TRACEPARENT: f"00-{uuid.UUID(RUN_ID).hex}-{run_span_id(RUN_ID):016x}-01"}
    assert trace_env(_artifacts(enabled=False), RUN_ID) == {}


def test_trace_env_is_there_for_runs_that_are_not_sampled():
    assert trace_env(_artifacts(enabled=True, dev_sampling=0.0), RUN_ID)[TRACEPARENT].endswith(
        "-00"
    )


def test_a_step_takes_its_parent_from_traceparent_only_when_it_is_its_run(monkeypatch):
    monkeypatch.setenv(TRACEPARENT, f"00-{uuid.UUID(RUN_ID).hex}-{'ab' * 8}-01")
    parent = get_current_span(run_context(RUN_ID)).get_span_context()
    assert (parent.trace_id, parent.span_id) == (uuid.UUID(RUN_ID).int, int("ab" * 8, 16))

    other_run = str(uuid.uuid4())
    parent = get_current_span(run_context(other_run)).get_span_context()
    assert (parent.trace_id, parent.span_id) == (uuid.UUID(other_run).int, run_span_id(other_run))
