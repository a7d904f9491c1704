#!/usr/bin/env bash
# Create (once) and activate the second test environment: ESPnet 202611 (what
# `pip install espnet` gives on Python 3.12 and 3.13) with torch 2.14.1, from
# tools/requirements-espnet202611.txt; then install this checkout into it as a user would:
# its wheel, with every extra, which must resolve from what is installed (no index).
#
# Usage: source tools/setup_venv_espnet202611.sh
#
# Python: $PYTHON_ESPNET202611, else python3.12 or a pyenv 3.12; without one, Python 3.11
# stands in (ESPnet 202611 is pure Python: it is installed ignoring its Requires-Python,
# then its dependencies as usual). Sourced, so it leaves the caller's shell options alone.
_omnirouter_venv="$(
    set -euo pipefail
    repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    requirements="${repo_root}/tools/requirements-espnet202611.txt"
    python="${PYTHON_ESPNET202611:-}"
    if [ -z "${python}" ]; then
        for candidate in python3.12 "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12; do
            if "${candidate}" --version >/dev/null 2>&1; then
                python="${candidate}"
                break
            fi
        done
    fi
    standin=()
    if [ -z "${python}" ]; then
        python=python3.11
        standin=("$(grep -E '^espnet==' "${requirements}")")
        echo "[setup] no Python 3.12: ESPnet 202611 on ${python} (installed ignoring its" \
            "Requires-Python)" >&2
    fi
    venv="$(bash "${repo_root}/tools/build_venv.sh" "${python}" "${requirements}" \
        venv-espnet202611 "${standin[@]}")"
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
)" || {
    echo "setup_venv_espnet202611.sh: setting up the ESPnet 202611 environment failed" >&2
    return 1 2>/dev/null || exit 1
}
# shellcheck disable=SC1091
source "${_omnirouter_venv}/bin/activate"
unset _omnirouter_venv
