"""OpenLineage events (START/COMPLETE/FAIL) through the official openlineage-python client."""

from __future__ import annotations

from dataclasses import dataclass

from floe_dagster.contract import CompiledArtifacts


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
    raise NotImplementedError  # filled in by the lineage work (issue 8)
