#!/usr/bin/env bash
# Create (once) and activate the second test environment: ESPnet 202611 (what
# `pip install espnet` gives on Python 3.12 and 3.13) with torch 2.14.1, from
# tools/requirements-espnet202611.txt; then install this checkout into it as a user would:
# its wheel, with every extra, which must resolve from what is installed (no index).
#
# Usage: source tools/setup_venv_espnet202611.sh
#
# Python: $PYTHON_ESPNET202611, else python3.12, else pyenv's 3.12 (ESPnet 202611 needs
# Python >=3.12). Sourced, so it leaves the caller's shell options alone; a caller running
# with `set -e` stops at a failure.
_omnirouter_venv="$(
    set -euo pipefail
    repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    python="${PYTHON_ESPNET202611:-}"
    if [ -z "${python}" ]; then
        for candidate in python3.12 "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12; do
            if "${candidate}" --version >/dev/null 2>&1; then
                python="${candidate}"
                break
            fi
        done
    fi
    if [ -z "${python}" ] || ! "${python}" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
        echo "setup_venv_espnet202611.sh: ESPnet 202611 needs Python >=3.12: none found" \
            "(python3.12 on PATH, pyenv's 3.12, or set PYTHON_ESPNET202611=/path/to/python3.12)" >&2
        exit 1
    fi
    venv="$(bash "${repo_root}/tools/build_venv.sh" "${python}" \
        "${repo_root}/tools/requirements-espnet202611.txt" venv-espnet202611)"
    # The wheel a user would install, with every extra, resolved without an index: it must
    # fit the installed torch, torchaudio and ESPnet rather than replace them.
    dist="$(mktemp -d)"
    trap 'rm -rf "${dist}"' EXIT
    "${venv}/bin/python" -m pip wheel --quiet --no-deps --no-build-isolation \
        --wheel-dir "${dist}" "${repo_root}" >&2
    "${venv}/bin/python" -m pip uninstall --quiet --yes espnet_omnirouter >&2
    wheel="$(echo "${dist}"/espnet_omnirouter-*.whl)"
    "${venv}/bin/python" -m pip install --quiet --no-index "${wheel}[all]" >&2
    "${venv}/bin/python" -m pip check >&2
    echo "${venv}"
)"
# Tested here, not with `|| ...` after the substitution: that would turn off `set -e` in it.
# shellcheck disable=SC2181
if [ $? -ne 0 ]; then
    echo "setup_venv_espnet202611.sh: setting up the ESPnet 202611 environment failed" >&2
    unset _omnirouter_venv
    return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
source "${_omnirouter_venv}/bin/activate"
unset _omnirouter_venv
