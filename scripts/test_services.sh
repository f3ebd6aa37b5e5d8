#!/usr/bin/env bash
# Services and binaries the tests use, installed or started only when missing.
set -euo pipefail

# PostgreSQL for instance-storage tests (FLOE_TEST_POSTGRES_URL; tests fail without it under CI).
export FLOE_TEST_POSTGRES_URL="${FLOE_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}"
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "test setup: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  fi
fi
