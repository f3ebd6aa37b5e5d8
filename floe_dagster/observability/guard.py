"""Observability never fails or stalls a run: each destination gets one chance per process.

The first failure to reach a destination (lineage endpoint, OTLP collector, file) is logged
once; after it the process stops sending there, so a dead endpoint costs one bounded
timeout per step process instead of one per event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger("floe_dagster.observability")

T = TypeVar("T")

_down: set[str] = set()


def attempt(destination: str, what: str, action: Callable[[], T]) -> T | None:
    """Run `action` unless `destination` already failed in this process; never raises."""
    if destination in _down:
        return None
    try:
        return action()
    except Exception as exc:  # any failure of an exporter or transport is the same to the run
        _down.add(destination)
        log.warning(
            "%s could not be sent to %s (%s: %s); this process sends no more there.",
            what,
            destination,
            type(exc).__name__,
            exc,
        )
        return None


def quietly(what: str, action: Callable[[], T]) -> T | None:
    """Run this package's own observability code; a bug in it is logged, never raised."""
    try:
        return action()
    except Exception:
        log.exception("%s failed; the step goes on without it.", what)
        return None
