#!/usr/bin/env bash
# Build (once) a virtual environment from a requirements file and print its path.
#
# Usage: bash tools/build_venv.sh PYTHON REQUIREMENTS NAME
#
# The venv lives outside the clone, at ${OMNIROUTER_VENV_ROOT:-~/.cache/espnet_omnirouter}/
# NAME-<hash of REQUIREMENTS and the Python version>, so every clone with the same pins shares
# it and a new pin builds a new one. It counts as built only once its `.complete` marker
# exists: an interrupted build is wiped and redone on the next call.
set -euo pipefail
python="$1"
requirements="$2"
name="$3"
if ! command -v "${python}" >/dev/null 2>&1 || ! "${python}" --version >/dev/null 2>&1; then
    echo "build_venv.sh: ${python} not found (set PYTHON=...)" >&2
    exit 1
fi
key="$( (cat "${requirements}"; "${python}" --version) | sha256sum | cut -c1-16)"
venv_root="${OMNIROUTER_VENV_ROOT:-${HOME}/.cache/espnet_omnirouter}"
venv="${venv_root}/${name}-${key}"
mkdir -p "${venv_root}"
(
    flock 9
    if [ ! -f "${venv}/.complete" ]; then
        echo "[setup] building virtual environment ${venv} from ${requirements}" \
            "(first time only: ~5 minutes, ~5 GB)" >&2
        rm -rf "${venv}"
        "${python}" -m venv "${venv}"
        pip=("${venv}/bin/python" -m pip)
        "${pip[@]}" install --quiet --upgrade "pip==24.3.1" >&2
        "${pip[@]}" install --quiet --progress-bar off -r "${requirements}" >&2
        touch "${venv}/.complete"
        echo "[setup] virtual environment ready" >&2
    fi
) 9>"${venv}.lock"
echo "${venv}"
