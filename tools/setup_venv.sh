#!/usr/bin/env bash
# Create (once) and activate the project's virtual environment, then install this checkout.
#
# Usage: source tools/setup_venv.sh
#
# The venv lives outside the clone, keyed by a hash of requirements.txt and the Python
# version, so every clone with the same pins shares it and a new pin builds a new one.
# A venv counts as built only once its `.complete` marker exists: an interrupted build is
# wiped and redone on the next call. Override its parent directory with OMNIROUTER_VENV_ROOT.
# Sourced, so it leaves the caller's shell options alone: the work runs in a strict subshell.
_omnirouter_venv="$(
    set -euo pipefail
    repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    python="${PYTHON:-python3.11}"
    if ! command -v "${python}" >/dev/null 2>&1; then
        echo "setup_venv.sh: ${python} not found; espnet_omnirouter needs Python 3.11 (set PYTHON=...)" >&2
        exit 1
    fi
    key="$( (cat "${repo_root}/requirements.txt"; "${python}" --version) | sha256sum | cut -c1-16)"
    venv_root="${OMNIROUTER_VENV_ROOT:-${HOME}/.cache/espnet_omnirouter}"
    venv="${venv_root}/venv-${key}"
    mkdir -p "${venv_root}"
    (
        flock 9
        if [ ! -f "${venv}/.complete" ]; then
            echo "[setup] building virtual environment ${venv} (first time only: ~5 minutes, ~5 GB)" >&2
            rm -rf "${venv}"
            "${python}" -m venv "${venv}"
            "${venv}/bin/python" -m pip install --quiet --upgrade "pip==24.3.1" >&2
            "${venv}/bin/python" -m pip install --quiet --progress-bar off \
                -r "${repo_root}/requirements.txt" >&2
            touch "${venv}/.complete"
            echo "[setup] virtual environment ready" >&2
        fi
    ) 9>"${venv}.lock"
    # Install this checkout without dependencies (they are pinned above), so that console
    # scripts and `import espnet_omnirouter` resolve to it, whichever clone shares the venv.
    "${venv}/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "${repo_root}" >&2
    echo "${venv}"
)" || { echo "setup_venv.sh: setting up the virtual environment failed" >&2; return 1 2>/dev/null || exit 1; }
# shellcheck disable=SC1091
source "${_omnirouter_venv}/bin/activate"
unset _omnirouter_venv
