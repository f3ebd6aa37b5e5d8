"""What ran, told to the outside: OpenLineage events and OpenTelemetry spans per step."""

from floe_dagster.observability.run_span import traced_executor
from floe_dagster.observability.step import StepObserver, observed_step
from floe_dagster.observability.tracing import TRACEPARENT, trace_env

__all__ = ["TRACEPARENT", "StepObserver", "observed_step", "trace_env", "traced_executor"]
