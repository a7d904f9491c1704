# Environment of the recipes (each recipe's path.sh links here; cluster jobs source it too).
# It installs, builds and writes nothing: it picks a Python environment and sets variables.
#   1. the active one: `python` on PATH (a venv, conda env, module, ...) if it imports
#      espnet_omnirouter, ESPnet and torch (e.g. after `pip install <this checkout>`);
#   2. else the project's environment, if tools/setup_venv.sh has built it (this checkout's
#      code is then the one imported);
#   3. else it says what is missing and how to get it, and fails.
_omnirouter_repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../.." && pwd)"

# The modules a python lacks among those the recipes need ("" when it has them all).
_omnirouter_missing() {
    "$1" -c 'import importlib.util as u
print(" ".join(m for m in ("espnet_omnirouter", "espnet2", "torch") if u.find_spec(m) is None))' \
        2>/dev/null || echo "python (not runnable)"
}

# The venv tools/setup_venv.sh builds: tools/build_venv.sh's name for requirements.txt.
_omnirouter_built_venv() {
    local python="${PYTHON:-python3.11}" key
    command -v "${python}" >/dev/null 2>&1 || return 1
    key="$( (cat "${_omnirouter_repo}/requirements.txt"; "${python}" --version) | sha256sum | cut -c1-16)"
    echo "${OMNIROUTER_VENV_ROOT:-${HOME:-}/.cache/espnet_omnirouter}/venv-${key}"
}

_omnirouter_python="$(command -v python || true)"
_omnirouter_lacks="python (none on PATH)"
[ -n "${_omnirouter_python}" ] && _omnirouter_lacks="$(_omnirouter_missing "${_omnirouter_python}")"
if [ -n "${_omnirouter_lacks}" ]; then
    _omnirouter_venv="$(_omnirouter_built_venv || true)"
    if [ -n "${_omnirouter_venv}" ] && [ -f "${_omnirouter_venv}/.complete" ]; then
        # shellcheck disable=SC1091
        source "${_omnirouter_venv}/bin/activate"
        export PYTHONPATH="${_omnirouter_repo}${PYTHONPATH:+:${PYTHONPATH}}"
        _omnirouter_lacks="$(_omnirouter_missing python)"
    fi
fi
if [ -n "${_omnirouter_lacks}" ]; then
    cat >&2 <<EOF
path.sh: no Python environment for the recipes: ${_omnirouter_python:-python} lacks ${_omnirouter_lacks}.
Activate the environment where espnet_omnirouter is installed (pip install ${_omnirouter_repo},
or its wheel), or build the project's own environment once with
  source ${_omnirouter_repo}/tools/setup_venv.sh   (Python 3.11, ~5 GB, ~5 minutes)
EOF
    unset -f _omnirouter_missing _omnirouter_built_venv
    unset _omnirouter_repo _omnirouter_python _omnirouter_lacks _omnirouter_venv
    return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
source "${_omnirouter_repo}/tools/malloc_env.sh"  # faster CPU training (BENCHMARKS.md)
export PYTHONUNBUFFERED=1
export LC_ALL=C
# The tools' output goes to the stages' logs: with other libraries' warnings (bin/*: not printed
# at the default level, WARNING, of an interactive command).
export OMNIROUTER_LOG_LEVEL="${OMNIROUTER_LOG_LEVEL:-INFO}"
unset -f _omnirouter_missing _omnirouter_built_venv
unset _omnirouter_repo _omnirouter_python _omnirouter_lacks _omnirouter_venv
