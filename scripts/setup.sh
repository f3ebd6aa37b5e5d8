#!/usr/bin/env bash
# Idempotent setup on a fresh machine (only Python and pip needed): uv, .venv with every
# dependency from uv.lock, DAGSTER_HOME with the embedded (SQLite) instance, and each
# product's dbt manifest. Sourced by demo.sh and test.sh; safe to run any number of times.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Bootstrap with the machine's python3, not the venv's (which has neither pip nor uv).
SYSTEM_PYTHON="$(PATH="$(printf %s "$PATH" | tr ':' '\n' | grep -vx "$ROOT/.venv/bin" | paste -sd: -)" command -v python3)"
if command -v uv >/dev/null 2>&1; then
  UV=(uv)
else
  if ! "$SYSTEM_PYTHON" -m uv --version >/dev/null 2>&1; then
    echo "setup: installing uv"
    "$SYSTEM_PYTHON" -m pip install --quiet uv
  fi
  UV=("$SYSTEM_PYTHON" -m uv)
fi
"${UV[@]}" sync --frozen --extra test --quiet

export PATH="$ROOT/.venv/bin:$PATH"
# The repo's own .dagster_home always gets the current dagster.yaml; a DAGSTER_HOME of
# your own gets it only if it has none.
if [ -z "${DAGSTER_HOME:-}" ]; then
  export DAGSTER_HOME="$ROOT/.dagster_home"
  mkdir -p "$DAGSTER_HOME" && cp "$ROOT/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"
else
  mkdir -p "$DAGSTER_HOME"
  [ -f "$DAGSTER_HOME/dagster.yaml" ] || cp "$ROOT/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"
fi

for product in "$ROOT"/products/*/; do
  manifest="$product/target/manifest.json"
  newest_source="$(find "$product" \( -name '*.sql' -o -name '*.yml' \) -newer "$manifest" 2>/dev/null | head -n 1 || true)"
  if [ ! -f "$manifest" ] || [ -n "$newest_source" ]; then
    floe-dagster prepare "$product" >/dev/null
  fi
done
