# Environment of the recipe: the project's virtual environment (built on first use)
# and the Debian tools the data preparation needs.
_recipe_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
bash "${_recipe_repo_root}/tools/install_system_deps.sh"
# shellcheck disable=SC1091
source "${_recipe_repo_root}/tools/setup_venv.sh"
# shellcheck disable=SC1091
source "${_recipe_repo_root}/tools/malloc_env.sh"  # faster CPU training (BENCHMARKS.md)
export PYTHONUNBUFFERED=1
export LC_ALL=C
unset _recipe_repo_root
