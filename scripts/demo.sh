#!/usr/bin/env bash
# Set up, then materialize the whole demo product customer_360 through the real `dagster`
# CLI on the embedded default (SQLite instance, DuckDB warehouse, nothing to start).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

# Order data is partitioned by day (2026-01-01 .. 2026-04-10); with the coalesced backfill
# policy the whole range is one run and one dbt invocation per step.
dagster asset materialize --select '*' --partition-range 2026-01-01...2026-04-10 \
  -f products/customer_360/definitions.py
floe-dagster validate products/customer_360

cat <<EOT

customer_360 is materialized in products/customer_360/warehouse/customer_360.duckdb.
Open the UI (assets, checks, schedules and this run) with:
  DAGSTER_HOME=$DAGSTER_HOME .venv/bin/dagster dev -w workspace.yaml
then browse http://127.0.0.1:3000
EOT
