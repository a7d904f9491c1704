#!/usr/bin/env bash
# The whole test suite: lint (ruff), then pytest, end-to-end runs included.
# Sets up everything it needs on first use (venv ~5 min, Debian packages); then ~17 minutes.
# Extra arguments go to pytest, e.g. `bash tools/run_tests.sh -m "not e2e"`.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
bash tools/install_system_deps.sh
source tools/setup_venv.sh
echo "[tests] ruff check and format"
ruff check .
ruff format --check .
echo "[tests] pytest"
status=0
python -m pytest "$@" || status=$?
if [ "${status}" -eq 5 ]; then
    echo "[tests] pytest collected no tests: failing" >&2
    exit 1
fi
exit "${status}"
