"""omnirouter-jobs end to end, on both back-ends it offers: Dask's local cluster, and Slurm
through dask-jobqueue with stand-in ``sbatch``/``scancel`` (``fake_slurm/``) that run each
cluster job on this machine. Succeeding, failing and killed jobs, and an interrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FAKE_SLURM = Path(__file__).resolve().parent / "fake_slurm"
RUNNER = str(Path(sys.executable).with_name("omnirouter-jobs"))


@pytest.fixture(params=["local", "slurm"])
def backend(request, tmp_path) -> dict:
    """The environment and ``--config`` options of a back-end."""
    env = dict(os.environ)
    if request.param == "local":
        return {"env": env, "options": []}
    env["PATH"] = f"{FAKE_SLURM}{os.pathsep}{env['PATH']}"
    config = tmp_path / "slurm.yaml"
    config.write_text("env: slurm\nn_workers: 2\noptions: {queue: cpu, walltime: '00:10:00'}\n")
    return {"env": env, "options": ["--config", str(config)]}


def run_jobs(backend: dict, *args: str, cwd: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [RUNNER, *backend["options"], *args],
        cwd=cwd,
        env=backend["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def finish(process: subprocess.Popen) -> tuple:
    stdout, stderr = process.communicate(timeout=300)
    return process.returncode, stderr


def test_every_job_runs_with_its_number_in_its_log(backend, tmp_path):
    process = run_jobs(
        backend, "JOB=1:3", "logs/job.JOB.log", "echo", "job", "JOB", "in", "$PWD", cwd=tmp_path
    )
    code, stderr = finish(process)
    assert code == 0, stderr
    for job in (1, 2, 3):
        lines = (tmp_path / "logs" / f"job.{job}.log").read_text().splitlines()
        assert lines[0] == f"# echo job {job} in $PWD"
        assert lines[2] == f"job {job} in {tmp_path}"  # run in the caller's directory
        assert lines[-1].startswith("# Ended (code 0)")
        assert f"[omnirouter-jobs] job {job}: done" in stderr


def test_a_failing_job_fails_the_run_naming_its_log_and_showing_its_end(backend, tmp_path):
    failing = "test JOB -ne 2 || { echo broken input >&2; exit 3; }".split()
    process = run_jobs(backend, "JOB=1:3", "logs/job.JOB.log", *failing, cwd=tmp_path)
    code, stderr = finish(process)
    assert code == 1
    log = tmp_path / "logs" / "job.2.log"
    assert "job 2 failed (exit code 3): logs/job.2.log" in stderr
    assert "broken input" in stderr and "# Ended (code 3)" in stderr
    assert "1 of 3 jobs failed" in stderr
    assert log.read_text().splitlines()[-1].startswith("# Ended (code 3)")
    assert (
        (tmp_path / "logs" / "job.3.log")
        .read_text()
        .splitlines()[-1]
        .startswith("# Ended (code 0)")
    )


def wait_for(path: Path, seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.1)
    raise AssertionError(f"{path} never written")


def test_a_killed_job_fails_the_run(backend, tmp_path):
    process = run_jobs(
        backend, "JOB=1:2", "logs/job.JOB.log", "echo", "$$", ">", "pid.JOB", "&&", "exec",
        "sleep", "JOB0", cwd=tmp_path,
    )  # fmt: skip
    os.kill(int(wait_for(tmp_path / "pid.1")), signal.SIGKILL)
    code, stderr = finish(process)
    assert code == 1
    assert "job 1 failed (killed by SIGKILL): logs/job.1.log" in stderr
    assert "job 2 failed" not in stderr


def test_a_lost_cluster_job_fails_its_job_without_running_it_again(tmp_path):
    """scancel of the Slurm job that runs a worker: its job is reported lost, not retried."""
    slurm = {"env": {**os.environ, "PATH": f"{FAKE_SLURM}{os.pathsep}{os.environ['PATH']}"}}
    config = tmp_path / "slurm.yaml"
    config.write_text("env: slurm\nn_workers: 1\n")
    slurm["options"] = ["--config", str(config)]
    process = run_jobs(
        slurm, "log", "echo", "$$", ">>", "started", "&&", "sleep", "60", cwd=tmp_path
    )
    pid = int(wait_for(tmp_path / "started"))
    session = os.getsid(pid)  # the stand-in's job id
    subprocess.run([FAKE_SLURM / "scancel", str(session)], check=True)
    code, stderr = finish(process)
    assert code == 1
    assert "job failed (its worker was lost" in stderr
    assert (tmp_path / "started").read_text().split() == [str(pid)]  # run once


def test_an_interrupted_run_stops_its_jobs(tmp_path):
    process = run_jobs(
        {"env": dict(os.environ), "options": []},
        "JOB=1:2", "logs/job.JOB.log", "echo", "$$", ">", "pid.JOB", "&&", "exec", "sleep",
        "60", cwd=tmp_path,
    )  # fmt: skip
    pids = [int(wait_for(tmp_path / f"pid.{job}")) for job in (1, 2)]
    process.send_signal(signal.SIGTERM)
    code, stderr = finish(process)
    assert code == 128 + signal.SIGTERM
    assert "interrupted: running jobs stopped" in stderr
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_bad_command_line_exits_2_with_usage(tmp_path):
    process = run_jobs(
        {"env": dict(os.environ), "options": []}, "--bogus", "1", "l", "x", cwd=tmp_path
    )
    code, stderr = finish(process)
    assert code == 2
    assert "unknown option --bogus" in stderr and "Usage: omnirouter-jobs" in stderr
