"""OpenTelemetry for a run: ids derived from the Dagster run id, OTLP export that cannot stall.

A run is one trace whose id is the run id itself (a UUID is 128 bits, as a trace id is), and
the run span's id is a hash of it. Every process of the run, step subprocess or step pod,
can therefore name its parent without being told; the run worker still exports the context
as W3C `TRACEPARENT`, and a step prefers that when it belongs to its run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    Tracer,
    get_current_span,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from floe_dagster.contract import CompiledArtifacts
from floe_dagster.contract.floe import TelemetryConfig
from floe_dagster.names import digest
from floe_dagster.observability.guard import attempt

TRACEPARENT = "TRACEPARENT"

EXPORT_TIMEOUT_CAP_SECONDS = 2.0
"""The longest one export may take, retries included, whatever `export_timeout_millis` says.

A collector that answers takes milliseconds; one that does not must not hold the run up.
A step's last flush is one export (after a failure the breaker skips the rest), so this is
also about the longest a step, or the run, waits at its end for its spans to leave.
"""


def trace_id(run_id: str) -> int:
    """The run's trace id: the run id's own 128 bits, so a trace is found by its run id."""
    try:
        return uuid.UUID(run_id).int
    except ValueError:
        return int.from_bytes(_derived("trace", run_id)[:16], "big")


def run_span_id(run_id: str) -> int:
    return int.from_bytes(_derived("run-span", run_id)[:8], "big") or 1


def tracing_enabled(artifacts: CompiledArtifacts, run_id: str) -> bool:
    """Telemetry on and this run sampled; every process of the run decides alike."""
    telemetry = artifacts.observability.telemetry
    if not telemetry.enabled:
        return False
    ratio = getattr(telemetry.sampling, telemetry.resource_attributes.deployment_environment)
    return int.from_bytes(_derived("sample", run_id)[:8], "big") < ratio * 2**64


def trace_env(artifacts: CompiledArtifacts, run_id: str) -> dict[str, str]:
    """`TRACEPARENT` naming the run span (flagged sampled or not) when telemetry is on.

    Set whether or not this run is sampled, so a Job spec that copies it always finds it.
    """
    if not artifacts.observability.telemetry.enabled:
        return {}
    flags = "01" if tracing_enabled(artifacts, run_id) else "00"
    return {TRACEPARENT: f"00-{trace_id(run_id):032x}-{run_span_id(run_id):016x}-{flags}"}


def run_context(run_id: str) -> Context:
    """The run span as a remote parent: the incoming `TRACEPARENT` if it is this run's."""
    incoming = TraceContextTextMapPropagator().extract(
        {"traceparent": os.environ.get(TRACEPARENT, "")}
    )
    if get_current_span(incoming).get_span_context().trace_id == trace_id(run_id):
        return incoming
    parent = SpanContext(
        trace_id(run_id),
        run_span_id(run_id),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return set_span_in_context(NonRecordingSpan(parent))


@dataclass(frozen=True)
class Tracing:
    """A tracer whose spans go to the collector in batches, the last when `close` is called."""

    tracer: Tracer
    processor: BatchSpanProcessor

    def close(self) -> None:
        """Send what is left; bounded by the exporter's capped timeout."""
        self.processor.shutdown()


def open_tracing(
    artifacts: CompiledArtifacts, run_id: str, id_generator: IdGenerator | None = None
) -> Tracing | None:
    """A tracer for one process of the run, or None when the run is not traced (or cannot be)."""
    if not tracing_enabled(artifacts, run_id):
        return None
    telemetry = artifacts.observability.telemetry
    return attempt(
        telemetry.otlp_endpoint,
        "OpenTelemetry spans",
        lambda: _open(telemetry, artifacts.dagster.telemetry.credential_env, id_generator),
    )


def _open(
    telemetry: TelemetryConfig, credential_env: str | None, id_generator: IdGenerator | None
) -> Tracing:
    batch = telemetry.batch_processor
    processor = BatchSpanProcessor(
        _Guarded(_exporter(telemetry, credential_env), telemetry.otlp_endpoint),
        max_queue_size=batch.max_queue_size,
        schedule_delay_millis=batch.schedule_delay_millis,
        max_export_batch_size=batch.max_export_batch_size,
        export_timeout_millis=batch.export_timeout_millis,
    )
    provider = TracerProvider(
        resource=_resource(telemetry), shutdown_on_exit=False, id_generator=id_generator
    )
    provider.add_span_processor(processor)
    return Tracing(provider.get_tracer("floe_dagster"), processor)


def _exporter(telemetry: TelemetryConfig, credential_env: str | None) -> SpanExporter:
    timeout = min(
        telemetry.batch_processor.export_timeout_millis / 1000, EXPORT_TIMEOUT_CAP_SECONDS
    )
    headers = _headers(telemetry, credential_env)
    endpoint = telemetry.otlp_endpoint
    if telemetry.otlp_protocol == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        if not endpoint.rstrip("/").endswith("/v1/traces"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        return OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=timeout)
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc

    return Grpc(
        endpoint=endpoint,
        insecure=endpoint.startswith("http://"),
        headers={name.lower(): value for name, value in headers.items()},  # gRPC metadata rule
        timeout=timeout,
    )


def _headers(telemetry: TelemetryConfig, credential_env: str | None) -> dict[str, str]:
    """floe writes the credential masked; its value comes from the env var named for it."""
    auth = telemetry.authentication
    if auth is None:
        return {}
    setting = "plugins.orchestrator.config.telemetry.credential_env"
    if credential_env is None:
        raise LookupError(f"telemetry authentication is set but {setting} names no env var")
    secret = os.environ.get(credential_env)
    if not secret:
        raise LookupError(f"environment variable {credential_env} ({setting}) is not set")
    return {auth.header_name: f"Bearer {secret}" if auth.auth_type == "bearer" else secret}


def _resource(telemetry: TelemetryConfig) -> Resource:
    attrs = telemetry.resource_attributes
    return Resource.create(
        {
            "service.name": attrs.service_name,
            "service.version": attrs.service_version,
            "deployment.environment": attrs.deployment_environment,
            "floe.namespace": attrs.floe_namespace,
            "floe.product_name": attrs.floe_product_name,
            "floe.product_version": attrs.floe_product_version,
            "floe.mode": attrs.floe_mode,
            "process.pid": os.getpid(),
        }
    )


class _Guarded(SpanExporter):
    """The OTLP exporter behind the once-per-process breaker: one failure, one log line."""

    def __init__(self, inner: SpanExporter, destination: str) -> None:
        self._inner = inner
        self._destination = destination

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        sent = attempt(self._destination, "OpenTelemetry spans", lambda: self._send(spans))
        return SpanExportResult.SUCCESS if sent else SpanExportResult.FAILURE

    def _send(self, spans: Sequence[ReadableSpan]) -> bool:
        if self._inner.export(spans) is not SpanExportResult.SUCCESS:
            raise ConnectionError("the OTLP exporter gave up (its own log line says why)")
        return True

    def shutdown(self) -> None:
        self._inner.shutdown()


def _derived(purpose: str, run_id: str) -> bytes:
    """Bytes every process of a run derives alike from its id, one series per purpose."""
    return bytes.fromhex(digest(f"floe-dagster:{purpose}:{run_id}"))
