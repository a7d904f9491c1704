#!/usr/bin/env bash
# The whole test suite: lint (ruff), then pytest in two environments.
#   1. the lock (requirements.txt: ESPnet 202511, torch 2.12.1, Python 3.11): every test,
#      end-to-end runs included;
#   2. ESPnet 202611 with torch 2.14.1 (tools/requirements-espnet202611.txt: what
#      `pip install espnet` gives today, Python 3.12), the plugin installed from its wheel:
#      the tests of the layers, encoders, decoders, models, decoding, export, packaging and
#      loading of packed models, tiny trainings decoded through bin/asr_train and
#      bin/decode, ESPnet's egs2 steps through espnet-omnirouter-python, the job runner,
#      and the ESPnet3 glue with a tiny run of every offline stage of
#      egs3/espeak_en/asr1 (skipped in the first environment, which has no ESPnet3).
# Sets up everything it needs on first use (each venv ~5 minutes, Debian packages).
# Tests run in PYTEST_WORKERS (default 2) pytest-xdist workers, a test file per worker (module
# fixtures are built once); the slowest tests are listed at the end.
# Extra arguments go to both pytest runs, e.g. `bash tools/run_tests.sh -m "not e2e"`
# (`-n 0`: one process).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
SECOND_ENV_TESTS=(
    tests/layers tests/asr tests/export tests/bin/test_train_and_decode.py
    tests/bin/test_u2pp_train_and_decode.py tests/publishing/test_pack_and_load.py
    tests/test_packaging.py tests/startup tests/utils/test_extras.py
    tests/espnet3 tests/egs3 tests/scoring/test_results_table.py tests/egs2 tests/jobs
)

PYTEST_OPTIONS=(-n "${PYTEST_WORKERS:-2}" --dist loadfile --durations 25)

# The exit status of a pytest command, with "collected no tests" (5) made a failure.
run_pytest() {
    local status=0
    "$@" || status=$?
    if [ "${status}" -eq 5 ]; then
        echo "[tests] pytest collected no tests: failing" >&2
        return 1
    fi
    return "${status}"
}

bash tools/install_system_deps.sh
source tools/setup_venv.sh
echo "[tests] ruff check and format"
ruff check .
ruff format --check .
echo "[tests] pytest: ESPnet $(python -c 'import espnet; print(espnet.__version__)')," \
    "torch $(python -c 'import torch; print(torch.__version__)'), $(python --version)"
status=0
run_pytest python -m pytest "${PYTEST_OPTIONS[@]}" "$@" || status=$?
deactivate
echo "[tests] pytest in the second environment"
(
    source tools/setup_venv_espnet202611.sh
    echo "[tests] pytest: ESPnet $(python -c 'import espnet; print(espnet.__version__)')," \
        "torch $(python -c 'import torch; print(torch.__version__)'), $(python --version)"
    # `pytest`, not `python -m pytest`: the latter puts the checkout first on sys.path, and
    # these tests are of the installed wheel.
    run_pytest pytest "${PYTEST_OPTIONS[@]}" "${SECOND_ENV_TESTS[@]}" "$@"
) || status=$?
exit "${status}"
