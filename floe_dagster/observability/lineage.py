"""OpenLineage events (START/COMPLETE/FAIL) through the official openlineage-python client."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from urllib.parse import urlsplit

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import JobFacet, RunFacet
from openlineage.client.transport import Transport
from openlineage.client.transport.console import ConsoleConfig, ConsoleTransport
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpConfig,
    HttpTransport,
    TokenProvider,
)
from openlineage.client.uuid import generate_new_uuid

from floe_dagster.contract import CompiledArtifacts
from floe_dagster.contract.dagster_section import LineageTransport
from floe_dagster.observability.guard import attempt, log

PRODUCER = f"https://pypi.org/project/floe-dagster/{version('floe-dagster')}"

_clients: dict[str, OpenLineageClient] = {}


@dataclass(frozen=True)
class Dataset:
    """An OpenLineage dataset: where it lives (namespace) and its name (e.g. `schema.table`)."""

    namespace: str
    name: str


def emit_lineage_event(
    artifacts: CompiledArtifacts,
    event_type: str,
    job: str,
    inputs: list[Dataset],
    outputs: list[Dataset],
    run_id: str | None = None,
) -> None:
    """Emit one event through the transport the artifacts configure; never raises."""
    try:
        event = run_event(artifacts, event_type, job, inputs, outputs, run_id or new_run_id())
    except ValueError as exc:  # e.g. an unknown event type: the caller's mistake, not the run's
        log.warning("OpenLineage event for job %s not emitted: %s", job, exc)
        return
    send(artifacts, event)


def new_run_id() -> str:
    """A fresh OpenLineage run id (UUIDv7, as the client generates them)."""
    return str(generate_new_uuid())


def run_event(
    artifacts: CompiledArtifacts,
    event_type: str,
    job: str,
    inputs: list[Dataset],
    outputs: list[Dataset],
    run_id: str,
    run_facets: dict[str, RunFacet] | None = None,
    job_facets: dict[str, JobFacet] | None = None,
) -> RunEvent:
    """A run event for `job` in the product's lineage namespace, stamped now."""
    return RunEvent(
        eventType=RunState(event_type),
        eventTime=datetime.now(UTC).isoformat(),
        producer=PRODUCER,
        run=Run(runId=run_id, facets=run_facets or {}),
        job=Job(
            namespace=artifacts.observability.lineage_namespace, name=job, facets=job_facets or {}
        ),
        inputs=[InputDataset(namespace=d.namespace, name=d.name) for d in inputs],
        outputs=[OutputDataset(namespace=d.namespace, name=d.name) for d in outputs],
    )


def lineage_transport(artifacts: CompiledArtifacts) -> LineageTransport:
    """Where events go: this package's `lineage` setting, else what floe's own fields say.

    floe's order: `observability.lineage` off means off; `lineage_transport` (`http` to
    `lineage_endpoint`, `console`, `noop`); else a `plugins.lineage_backend` whose config
    names a `url`; else a bare `lineage_endpoint` (http); else off.
    """
    observability = artifacts.observability
    if not observability.lineage:
        return LineageTransport(type="off")
    if artifacts.dagster.lineage is not None:
        return artifacts.dagster.lineage
    if observability.lineage_transport == "noop":
        return LineageTransport(type="off")
    if observability.lineage_transport == "console":
        return LineageTransport(type="console")
    backend = artifacts.plugins.lineage_backend
    backend_url = (backend.config or {}).get("url") if backend is not None else None
    endpoint = observability.lineage_endpoint or (
        str(backend_url) if isinstance(backend_url, str) else None
    )
    if endpoint is None:
        return LineageTransport(type="off")
    parts = urlsplit(endpoint)
    path = parts.path.strip("/")
    transport = LineageTransport(type="http", url=f"{parts.scheme}://{parts.netloc}")
    return transport.model_copy(update={"endpoint": path}) if path else transport


def lineage_enabled(artifacts: CompiledArtifacts) -> bool:
    return lineage_transport(artifacts).type != "off"


def send(artifacts: CompiledArtifacts, event: RunEvent) -> None:
    """Send `event` through the configured transport, at most one bounded try per event."""
    transport = lineage_transport(artifacts)
    if transport.type == "off":
        return
    attempt(
        _destination(transport),
        "OpenLineage events",
        lambda: _client(transport).emit(event),
    )


def _client(transport: LineageTransport) -> OpenLineageClient:
    key = transport.model_dump_json()
    if key not in _clients:
        _clients[key] = OpenLineageClient(transport=_transport(transport))
    return _clients[key]


def _transport(config: LineageTransport) -> Transport:
    if config.type == "http":
        return HttpTransport(
            HttpConfig(
                url=str(config.url),
                endpoint=config.endpoint,
                timeout=config.timeout_seconds,
                auth=_auth(config.api_key_env),
                # No retries: urllib3's default five, with backoff, would turn a dead endpoint
                # into many seconds per event.
                retry={"total": 0},
            )
        )
    if config.type == "file":
        return FileTransport(FileConfig(log_file_path=str(config.path), append=True))
    _show_console_events()
    return ConsoleTransport(ConsoleConfig())


def _auth(api_key_env: str | None) -> TokenProvider:
    if api_key_env is None:
        return TokenProvider({})
    api_key = os.environ.get(api_key_env)
    if not api_key:
        raise LookupError(f"environment variable {api_key_env} (lineage api_key_env) is not set")
    return ApiKeyTokenProvider({"api_key": api_key})


def _show_console_events() -> None:
    """The console transport logs each event at INFO; make sure that level reaches stderr."""
    console = logging.getLogger("openlineage.client.transport.console")
    console.setLevel(logging.INFO)
    if not console.handlers:
        console.addHandler(logging.StreamHandler())


def _destination(config: LineageTransport) -> str:
    if config.type == "http":
        return f"{str(config.url).rstrip('/')}/{config.endpoint.lstrip('/')}"
    if config.type == "file":
        return str(config.path)
    return "console"
