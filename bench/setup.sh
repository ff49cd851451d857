#!/usr/bin/env bash
# Create the benchmarks' own environment in bench/.venv: runstate (editable), MLflow and DVC.
#
# The benchmarks compare runstate with MLflow and DVC under one interpreter, so all three
# live in this venv and every measured command uses bench/.venv/bin/python. Safe to re-run.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$BENCH_DIR")"
VENV="$BENCH_DIR/.venv"
PYTHON_VERSION="${BENCH_PYTHON:-$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')}"

command -v uv >/dev/null || { echo "setup.sh: uv is required (https://docs.astral.sh/uv/)" >&2; exit 2; }

if [ ! -x "$VENV/bin/python" ]; then
    uv venv --python "$PYTHON_VERSION" "$VENV"
fi
uv pip install --python "$VENV/bin/python" mlflow dvc
uv pip install --python "$VENV/bin/python" -e "$REPO_DIR"
mkdir -p "$BENCH_DIR/.work" "$BENCH_DIR/results"
"$VENV/bin/python" - <<'PY'
from importlib.metadata import version

print("bench venv ready:", ", ".join(f"{p} {version(p)}" for p in ("runstate", "mlflow", "dvc")))
PY
