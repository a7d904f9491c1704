#!/usr/bin/env bash
# Create (once) and activate the project's virtual environment, then install this checkout.
#
# Usage: source tools/setup_venv.sh
#
# The venv lives outside the clone, keyed by a hash of requirements.txt and the Python
# version, so every clone with the same pins shares it and a new pin builds a new one.
# A venv counts as built only once its `.complete` marker exists: an interrupted build is
# wiped and redone on the next call. Override its parent directory with OMNIROUTER_VENV_ROOT.
set -euo pipefail
_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_python="${PYTHON:-python3.11}"
if ! command -v "${_python}" >/dev/null 2>&1; then
    echo "setup_venv.sh: ${_python} not found; espnet_omnirouter needs Python 3.11 (set PYTHON=...)" >&2
    exit 1
fi
_key="$( (cat "${_repo_root}/requirements.txt"; "${_python}" --version) | sha256sum | cut -c1-16)"
_venv_root="${OMNIROUTER_VENV_ROOT:-${HOME}/.cache/espnet_omnirouter}"
_venv="${_venv_root}/venv-${_key}"
mkdir -p "${_venv_root}"
(
    flock 9
    if [ ! -f "${_venv}/.complete" ]; then
        echo "[setup] building virtual environment ${_venv} (first time only: ~5 minutes, ~5 GB)"
        rm -rf "${_venv}"
        "${_python}" -m venv "${_venv}"
        "${_venv}/bin/python" -m pip install --quiet --upgrade "pip==24.3.1"
        "${_venv}/bin/python" -m pip install --quiet --progress-bar off -r "${_repo_root}/requirements.txt"
        touch "${_venv}/.complete"
        echo "[setup] virtual environment ready"
    fi
) 9>"${_venv}.lock"
# shellcheck disable=SC1091
source "${_venv}/bin/activate"
# Install this checkout without dependencies (they are pinned above), so that console
# scripts and `import espnet_omnirouter` resolve to it, whichever clone shares the venv.
python -m pip install --quiet --no-deps --no-build-isolation -e "${_repo_root}"
