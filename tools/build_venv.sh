#!/usr/bin/env bash
# Build (once) a virtual environment from a requirements file and print its path.
#
# Usage: bash tools/build_venv.sh PYTHON REQUIREMENTS NAME [SPEC ...]
#
# The venv lives outside the clone, at ${OMNIROUTER_VENV_ROOT:-~/.cache/espnet_omnirouter}/
# NAME-<hash of REQUIREMENTS, the SPECs and the Python version>, so every clone with the same
# pins shares it and a new pin builds a new one. It counts as built only once its `.complete`
# marker exists: an interrupted build is wiped and redone on the next call.
# Each SPEC (e.g. espnet==202611) is installed first, without its dependencies and ignoring
# the Python versions its release declares: how a release made for a newer Python is
# tested on this one; REQUIREMENTS then brings its dependencies.
set -euo pipefail
python="$1"
requirements="$2"
name="$3"
shift 3
if ! command -v "${python}" >/dev/null 2>&1 || ! "${python}" --version >/dev/null 2>&1; then
    echo "build_venv.sh: ${python} not found (set PYTHON=...)" >&2
    exit 1
fi
key="$( (cat "${requirements}"; [ $# -eq 0 ] || echo "$*"; "${python}" --version) | sha256sum | cut -c1-16)"
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
        if [ $# -gt 0 ]; then
            "${pip[@]}" install --quiet --no-deps --ignore-requires-python "$@" >&2
        fi
        "${pip[@]}" install --quiet --progress-bar off -r "${requirements}" >&2
        touch "${venv}/.complete"
        echo "[setup] virtual environment ready" >&2
    fi
) 9>"${venv}.lock"
echo "${venv}"
