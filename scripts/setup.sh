#!/usr/bin/env bash
# Create .venv and install the project with its dev tools. Idempotent: re-running is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.qrelease-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade "pip>=25.1"
  # --group needs pip >= 25.1 (PEP 735 dependency groups).
  .venv/bin/python -m pip install --quiet -e . --group dev
  touch "$stamp"
fi
