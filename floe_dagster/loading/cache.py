"""Results that depend only on the dbt manifest, kept beside it in target/ between loads.

A code server loads the same manifest many times (every restart, every reload); what
only the manifest decides is computed on the first load and read back after. The entry
is keyed by the manifest's sha256 and the versions that computed it, so a new
`dbt parse` or an upgrade recomputes it.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib.metadata import version
from pathlib import Path
from typing import Any

from floe_dagster.loading.project import MANIFEST_FILE

CACHE_FILE = "target/floe_dagster_cache.json"
_VERSIONS = tuple(version(p) for p in ("floe-dagster", "dbt-core", "dagster-dbt"))


def manifest_fingerprint(project_dir: Path) -> str:
    """sha256 of target/manifest.json plus the package versions that read it."""
    digest = hashlib.sha256((project_dir / MANIFEST_FILE).read_bytes())
    digest.update(repr(_VERSIONS).encode())
    return digest.hexdigest()


def read_cache(project_dir: Path, fingerprint: str) -> dict[str, Any]:
    """The cached entries for this manifest; empty if none, stale or unreadable."""
    try:
        cached = json.loads((project_dir / CACHE_FILE).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(cached, dict) or cached.get("fingerprint") != fingerprint:
        return {}
    return cached.get("entries", {})


def write_cache(project_dir: Path, fingerprint: str, entries: dict[str, Any]) -> None:
    """Replace the cache atomically; a read-only target/ (e.g. in an image) just skips it."""
    path = project_dir / CACHE_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "entries": entries}))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
