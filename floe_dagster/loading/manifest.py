"""The manifest as a code location keeps it: what dagster-dbt and floe read, nothing else.

The manifest stays in memory for the code server's whole life (dagster-dbt keeps it on
every asset, for runs), so what dbt writes for its own use (macros, docs, disabled
nodes, per-node parse bookkeeping) is dropped once, after the selections are resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_UNREAD_SECTIONS = frozenset({"macros", "docs", "disabled", "group_map"})
_UNREAD_NODE_FIELDS = frozenset(
    {
        "access", "build_path", "compiled_path", "constraints", "contract", "created_at",
        "deprecation_date", "doc_blocks", "docs", "functions", "language", "latest_version",
        "metrics", "patch_path", "primary_key", "refs", "sources", "time_spine",
        "unrendered_config",
    }
)  # fmt: skip


def slim_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without the sections and node fields no reader of the manifest uses."""
    slim = {k: v for k, v in manifest.items() if k not in _UNREAD_SECTIONS}
    for section in ("nodes", "sources"):
        slim[section] = {
            uid: {k: v for k, v in node.items() if k not in _UNREAD_NODE_FIELDS}
            for uid, node in manifest[section].items()
        }
    return slim
