"""Cluster configurations (ESPnet3's parallel block) and the options each job gets."""

from pathlib import Path

import pytest

from espnet_omnirouter_jobs.command_line import parse_job_command
from espnet_omnirouter_jobs.engine import (
    EngineConfig,
    EngineConfigError,
    cluster_options,
    jobs_at_a_time,
)

TEMPLATE_CONF = Path(__file__).resolve().parents[2] / "egs" / "TEMPLATE" / "asr1" / "conf" / "jobs"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "jobs.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("env: kubernetes\n", "env 'kubernetes': one of"),
        ("envs: slurm\n", "unknown key envs"),
        ("n_workers: 0\n", "n_workers: a positive number"),
        ("options: [a]\n", "options: a mapping"),
        ("- a\n", "a mapping of"),
        ("env: [\n", "not YAML"),
    ],
)
def test_bad_configurations_name_the_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(EngineConfigError, match=message) as error:
        EngineConfig.from_file(path)
    assert str(error.value).startswith(path)


def test_missing_configuration_file_is_named(tmp_path):
    with pytest.raises(EngineConfigError, match="jobs.yaml: No such file"):
        EngineConfig.from_file(str(tmp_path / "jobs.yaml"))


def test_gpu_jobs_get_the_gpu_options_with_their_count(tmp_path):
    config = EngineConfig.from_file(
        write(
            tmp_path,
            "env: slurm\noptions: {queue: cpu, memory: 2GB}\n"
            "gpu_options: {queue: gpu, job_extra_directives: ['--gres=gpu:{gpu}']}\n",
        )
    )
    train = parse_job_command(["--gpu", "2", "--num-threads", "8", "--name", "t", "l", "x"])
    options = cluster_options(config, train, tmp_path)
    assert options["queue"] == "gpu"
    assert options["job_extra_directives"] == ["--gres=gpu:2"]
    assert (options["cores"], options["processes"], options["memory"]) == (8, 1, "2GB")
    assert options["job_name"] == "t"
    assert options["worker_extra_args"] == ["--resources", "job=1"]
    decode = parse_job_command(["--mem", "6G", "JOB=1:4", "l.JOB", "x"])
    options = cluster_options(config, decode, tmp_path)
    assert (options["queue"], options["memory"]) == ("cpu", "6G")
    assert "job_extra_directives" not in options


def test_jobs_at_a_time(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    command = parse_job_command(["--num-threads", "2", "JOB=1:10", "l.JOB", "x"])
    assert jobs_at_a_time(EngineConfig(), command) == 4  # 8 CPUs, 2 threads a job
    assert jobs_at_a_time(EngineConfig(env="slurm", n_workers=16), command) == 10
    limited = parse_job_command(["--max-jobs-run", "3", "JOB=1:10", "l.JOB", "x"])
    assert jobs_at_a_time(EngineConfig(env="slurm", n_workers=16), limited) == 3


@pytest.mark.parametrize("name", ["local.yaml", "slurm.yaml"])
def test_the_recipes_configurations_load(name):
    EngineConfig.from_file(str(TEMPLATE_CONF / name))
