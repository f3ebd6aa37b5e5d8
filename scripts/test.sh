#!/usr/bin/env bash
# Set up everything the tests need (venv, helm, chromium, a running PostgreSQL) and run them.
# Three workers (2 cores, but much of a test is waiting on daemons and servers), each test
# file on one worker so its module fixtures are built once; the 10 slowest tests are
# printed at the end. Extra arguments go to pytest and win, e.g.
# `bash scripts/test.sh -n 0 tests/test_cli.py`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
source "$ROOT/scripts/test_services.sh"

exec pytest -n 3 --dist loadfile --durations=10 "$@"
