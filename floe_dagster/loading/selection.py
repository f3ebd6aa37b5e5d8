"""The artifacts' dbt selections, resolved by dbt's selector at most once per manifest.

dbt's selector needs its own Manifest and graph built from the manifest (a second or two
at 10,000 models); it is built once for all selections of a load, and only when the
cache beside the manifest does not already hold every result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from floe_dagster.compat import DbtSelector
from floe_dagster.loading.cache import manifest_fingerprint, read_cache, write_cache

Selection = tuple[str, str | None]

_ENTRY = "selections"


def resolve_selections(
    project_dir: Path, manifest: Mapping[str, Any], selections: Iterable[Selection]
) -> dict[Selection, frozenset[str] | Exception]:
    """Each (select, exclude) to the unique ids `dbt ls` lists for it, or dbt's error."""
    wanted = set(selections)
    fingerprint = manifest_fingerprint(project_dir)
    cached = read_cache(project_dir, fingerprint).get(_ENTRY, {})
    results: dict[Selection, frozenset[str] | Exception] = {
        s: frozenset(cached[_key(s)]) for s in wanted if _key(s) in cached
    }
    missing = wanted - results.keys()
    if missing:
        selector = DbtSelector(manifest, project_dir)
        for select, exclude in missing:
            try:
                results[(select, exclude)] = frozenset(selector.select(select, exclude))
            except Exception as exc:  # dbt's selector raises several types for bad syntax
                results[(select, exclude)] = exc
        resolved = {
            _key(s): sorted(ids) for s, ids in results.items() if not isinstance(ids, Exception)
        }
        write_cache(project_dir, fingerprint, {_ENTRY: resolved})
    return results


def _key(selection: Selection) -> str:
    return json.dumps(selection)
