#!/usr/bin/env bash
# Create (once) and activate the project's virtual environment, then install this checkout.
#
# Usage: source tools/setup_venv.sh
#
# The environment is the lock requirements.txt (ESPnet 202511, torch 2.12.1) on Python 3.11,
# built by tools/build_venv.sh at ~/.cache/espnet_omnirouter/venv-<hash> (override the
# parent directory with OMNIROUTER_VENV_ROOT). Sourced, so it leaves the caller's shell
# options alone: the work runs in a strict subshell; a caller with `set -e` stops at a failure.
_omnirouter_venv="$(
    set -euo pipefail
    repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="$(bash "${repo_root}/tools/build_venv.sh" "${PYTHON:-python3.11}" \
        "${repo_root}/requirements.txt" venv)"
    # Install this checkout without dependencies (they are pinned above), so that console
    # scripts and `import espnet_omnirouter` resolve to it, whichever clone shares the venv.
    "${venv}/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "${repo_root}" >&2
    echo "${venv}"
)"
# Tested here, not with `|| ...` after the substitution: that would turn off `set -e` in it.
# shellcheck disable=SC2181
if [ $? -ne 0 ]; then
    echo "setup_venv.sh: setting up the virtual environment failed" >&2
    unset _omnirouter_venv
    return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
source "${_omnirouter_venv}/bin/activate"
unset _omnirouter_venv
