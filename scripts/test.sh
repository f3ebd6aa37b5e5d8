#!/usr/bin/env bash
# Set up everything the tests need (venv, helm, chromium, a running PostgreSQL) and run them.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
source "$ROOT/scripts/test_services.sh"

exec pytest "$@"
