#!/usr/bin/env bash
# Set up, then materialize the whole demo product customer_360 through the real `dagster`
# CLI on the embedded default (SQLite instance, DuckDB warehouse, nothing to start).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

dagster asset materialize --select '*' -f products/customer_360/definitions.py
floe-dagster validate products/customer_360

cat <<EOT

customer_360 is materialized in products/customer_360/warehouse/customer_360.duckdb.
Open the UI (assets, checks, schedules and this run) with:
  DAGSTER_HOME=$DAGSTER_HOME .venv/bin/dagster dev -w workspace.yaml
then browse http://127.0.0.1:3000
EOT
