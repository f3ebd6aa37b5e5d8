"""What ran, told to the outside: OpenLineage events and OpenTelemetry spans per step."""

from floe_dagster.observability.step import StepObserver, observed_step

__all__ = ["StepObserver", "observed_step"]
