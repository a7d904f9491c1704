"""The skeleton the recipes share (egs/TEMPLATE/asr1): one stage numbering, path.sh without
side effects, and jobs run through cmd.sh's job commands (omnirouter-jobs, on this machine or
on Slurm) with their progress lines printed."""

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "egs" / "TEMPLATE" / "asr1"
RECIPES = {
    "espeak_en": {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
    "librispeech": {1, 2, 4, 5, 6, 7, 9, 13},
    "ood_benchmarks": {1, 6, 7},
}
RUN_JOBS = TEMPLATE / "utils" / "run_jobs.sh"
JOB_RUNNER = str(Path(sys.executable).with_name("omnirouter-jobs"))
FAKE_SLURM = REPO / "tests" / "jobs" / "fake_slurm"


def stage_numbers() -> dict:
    """asr_stages.sh's table: stage name -> number."""
    table = (TEMPLATE / "asr_stages.sh").read_text().split("declare -A STAGE_NUMBERS=(")[1]
    return {name: int(number) for name, number in re.findall(r"\[(\w+)\]=(\d+)", table)}


def bash(script: str, cwd: Path = REPO, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, env={**os.environ, **env}
    )


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_help_lists_the_stages_with_the_numbers_of_every_recipe(recipe):
    result = subprocess.run(
        ["bash", str(REPO / "egs" / recipe / "asr1" / "run.sh"), "--help"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    listed = dict(
        (name, int(number))
        for number, name in re.findall(r"^ *(\d+) (\w+):", result.stderr, re.MULTILINE)
    )
    numbers = stage_numbers()
    assert {name: numbers[name] for name in listed} == listed  # the template's numbers
    assert set(listed.values()) == RECIPES[recipe]
    assert "Options (current value):" in result.stderr and "  --stage '1'" in result.stderr


def test_stages_are_named_or_numbered():
    def resolve(stage: str, stop_stage: str) -> subprocess.CompletedProcess:
        script = f". egs/TEMPLATE/asr1/asr_stages.sh; stage={stage}; stop_stage={stop_stage}; "
        return bash(script + 'resolve_stages; echo "${stage} ${stop_stage}"')

    assert resolve("decode", "7").stdout == "6 7\n"
    assert resolve("1", "self_train").stdout == "1 12\n"
    wrong = resolve("decoding", "7")
    assert wrong.returncode == 1 and "--stage decoding: a stage number or one of" in wrong.stderr


def commands_of(script: Path) -> str:
    """The shell code of ``script`` without comments, heredoc bodies and quoted strings
    (messages may name an installer; only the code that runs matters)."""
    text = re.sub(r"<<-?\s*'?(\w+)'?\n.*?\n\1\n", "\n", script.read_text(), flags=re.DOTALL)
    text = re.sub(r'"(\\.|[^"\\])*"' + r"|'[^']*'", '""', text)
    return "\n".join(line.split("#")[0] for line in text.splitlines())


def test_only_the_default_recipe_installs_anything():
    installers = re.compile(r"\b(apt-get|apt|dpkg|pip|setup_venv\.sh|install_system_deps\.sh)\b")
    default = REPO / "egs" / "espeak_en" / "asr1" / "run.sh"
    for script in sorted((REPO / "egs").rglob("*.sh")):
        if not script.is_symlink():
            assert bool(installers.search(commands_of(script))) == (script == default), script


def clean_environment(tmp_path: Path, python_dir: Path) -> dict:
    """A bare environment whose ``python`` is the one in ``python_dir``."""
    return {
        "PATH": f"{python_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "OMNIROUTER_VENV_ROOT": str(tmp_path / "venvs"),
    }


def source_path_sh(environment: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "venvs").mkdir(exist_ok=True)
    script = ". egs/ood_benchmarks/asr1/path.sh && echo python=$(command -v python) "
    script += "unbuffered=${PYTHONUNBUFFERED} pythonpath=${PYTHONPATH:-}"
    return subprocess.run(
        ["bash", "-c", script], cwd=REPO, capture_output=True, text=True, env=environment
    )


def written_files(tmp_path: Path) -> list:
    return sorted(p for d in ("home", "venvs") for p in (tmp_path / d).rglob("*"))


def test_path_sh_uses_the_active_environment(tmp_path):
    environment = clean_environment(tmp_path, Path(sys.executable).parent)
    result = source_path_sh(environment, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout == f"python={Path(sys.executable).parent}/python unbuffered=1 pythonpath=\n"
    )
    assert written_files(tmp_path) == []


def python_without_the_plugin(tmp_path: Path) -> Path:
    """A dir whose ``python`` runs with no site-packages: it imports none of the plugin,
    ESPnet or torch."""
    bin_dir = tmp_path / "bare"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {sys._base_executable} -S -I "$@"\n')
    (bin_dir / "python").chmod(0o755)
    return bin_dir


def test_path_sh_says_what_is_missing_and_installs_nothing(tmp_path):
    environment = clean_environment(tmp_path, python_without_the_plugin(tmp_path))
    result = source_path_sh(environment, tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert "lacks espnet_omnirouter espnet2 torch" in result.stderr
    assert f"source {REPO}/tools/setup_venv.sh" in result.stderr
    assert written_files(tmp_path) == []


def test_path_sh_falls_back_to_the_project_venv_where_built(tmp_path):
    environment = clean_environment(tmp_path, python_without_the_plugin(tmp_path))
    version = subprocess.run(
        ["python3.11", "--version"], capture_output=True, text=True, env=environment
    )
    if version.returncode != 0:
        pytest.skip("no python3.11 on the bare PATH to name the project venv by")
    key = hashlib.sha256(
        (REPO / "requirements.txt").read_bytes() + version.stdout.encode()
    ).hexdigest()[:16]
    venv = tmp_path / "venvs" / f"venv-{key}"  # a stand-in: its python is the test's
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (venv / "bin" / "python").chmod(0o755)
    (venv / "bin" / "activate").write_text(f'export PATH="{venv}/bin:$PATH"\n')
    (venv / ".complete").touch()
    result = source_path_sh(environment, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"python={venv}/bin/python unbuffered=1 pythonpath={REPO}\n"


def run_jobs(tmp_path: Path, job_command: str, *command: str, cwd: Path = REPO, **env):
    return subprocess.run(
        [str(RUN_JOBS), job_command, "2", str(tmp_path / "log" / "x.JOB.log"), "x|y", *command],
        cwd=cwd, capture_output=True, text=True, env={**os.environ, **env},
    )  # fmt: skip


PROGRESS = 'for i in 1 2; do echo "[x] job JOB step $i"; echo "[z] hidden"; done; echo "[y] JOB"'


def test_run_jobs_prints_the_progress_lines_of_every_job(tmp_path):
    result = run_jobs(tmp_path, JOB_RUNNER, "bash", "-c", PROGRESS)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sorted(lines) == sorted(
        [f"[x] job {j} step {i}" for j in (1, 2) for i in (1, 2)] + ["[y] 1", "[y] 2"]
    )
    assert lines.index("[x] job 1 step 1") < lines.index("[x] job 1 step 2") < lines.index("[y] 1")


def test_run_jobs_shows_the_end_of_a_failed_job_log(tmp_path):
    result = run_jobs(
        tmp_path, JOB_RUNNER, "bash", "-c", 'echo "[x] JOB"; echo "why JOB"; [ JOB = 1 ]'
    )
    assert result.returncode == 1
    assert f"job 2 failed (exit code 1): {tmp_path}/log/x.2.log; its last lines:" in result.stderr
    assert "why 2" in result.stderr and "why 1" not in result.stderr
    assert f"failed (logs: {tmp_path}/log/x.*.log)" in result.stderr


def test_jobs_run_on_slurm_through_cmd_sh(tmp_path):
    """OMNIROUTER_CMD_BACKEND=slurm: conf/jobs/slurm.yaml's cluster, through stand-in
    sbatch/scancel that run each Slurm job on this machine."""
    recipe = REPO / "egs" / "ood_benchmarks" / "asr1"
    command = f'. ./cmd.sh && {RUN_JOBS} "${{decode_cmd}}" 2 {tmp_path}/log/x.JOB.log "x|y" '
    command += "python -c \"print('[x] job JOB'); print('[y]', __import__('sys').prefix)\""
    path = f"{FAKE_SLURM}:{Path(sys.executable).parent}:/usr/bin:/bin"
    environment = {"PATH": path, "OMNIROUTER_CMD_BACKEND": "slurm", "HOME": str(tmp_path)}
    result = subprocess.run(
        ["bash", "-c", command], cwd=recipe, capture_output=True, text=True, env=environment
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = sorted(result.stdout.splitlines())
    assert lines == ["[x] job 1", "[x] job 2", f"[y] {sys.prefix}", f"[y] {sys.prefix}"]
    assert "# Ended (code 0)" in (tmp_path / "log" / "x.2.log").read_text()
    assert (tmp_path / "log" / "dask").is_dir()  # the Slurm jobs' own output goes there


def test_cmd_sh_names_the_backends():
    result = bash(". egs/espeak_en/asr1/cmd.sh", OMNIROUTER_CMD_BACKEND="sge")
    assert result.returncode == 1
    assert "unknown backend 'sge' (OMNIROUTER_CMD_BACKEND): one of local slurm" in result.stderr
