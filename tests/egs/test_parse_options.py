"""The recipes' option parser (egs/TEMPLATE/asr1/utils/parse_options.sh)."""

import subprocess
from pathlib import Path

PARSE_OPTIONS = (
    Path(__file__).resolve().parents[2] / "egs" / "TEMPLATE" / "asr1" / "utils" / "parse_options.sh"
)
# Many option names, as the recipes have: a lookup that pipes them into a reader that stops
# at the first match fails under pipefail when the writer is still writing.
NAMES = ["stage", "stop_stage", *(f"option_{index}" for index in range(2000))]


def parse(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "script.sh"
    script.write_text(
        "set -euo pipefail\n"
        "stage=1\nstop_stage=9\noption_1999=a\n"
        f'_option_names="{" ".join(NAMES)}"\n'
        f". {PARSE_OPTIONS}\n"
        'echo "${stage} ${stop_stage} ${option_1999}"\n'
    )
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True)


def test_known_options_set_their_variables_dashes_as_underscores(tmp_path):
    for _ in range(20):
        result = parse(tmp_path, "--stage", "5", "--stop-stage", "", "--option_1999", "b c")
        assert result.returncode == 0, result.stderr
        assert result.stdout == "5  b c\n"


def test_unknown_options_and_missing_values_are_refused_with_the_option_list(tmp_path):
    unknown = parse(tmp_path, "--stage", "5", "--stages", "6")
    assert unknown.returncode == 1 and "unknown option --stages" in unknown.stderr
    assert "--stop_stage" in unknown.stderr
    missing = parse(tmp_path, "--stage")
    assert missing.returncode == 1 and "option --stage needs a value" in missing.stderr
    positional = parse(tmp_path, "5")
    assert positional.returncode == 1 and "unexpected argument '5'" in positional.stderr
