"""The Dask cluster a run of jobs gets, from a configuration in ESPnet3's form.

A configuration file (``--config``) is ESPnet3's ``parallel:`` block plus the options of
jobs that ask for GPUs::

    env: slurm            # local (default), slurm, pbs, sge, lsf, htcondor, oar or moab
    n_workers: 16         # jobs at a time (local default: CPUs / --num-threads)
    options:              # keyword arguments of the dask_jobqueue cluster class
      queue: cpu
      walltime: "24:00:00"
    gpu_options:          # replace or add options for jobs with --gpu N > 0 ({gpu}: N)
      queue: gpu
      job_extra_directives: ["--gres=gpu:{gpu}"]

Each worker runs one job at a time (a Dask resource ``job`` of 1, which every job needs),
on ``--num-threads`` cores with ``--mem`` memory, so a cluster job is one Kaldi job at a
time. A job whose worker dies (the cluster job was killed, or ran out of time) is not run
again: it fails, as a killed Kaldi job does.
"""

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import yaml

from espnet_omnirouter_jobs.command_line import JobCommand

# env -> the dask_jobqueue cluster class (None: this machine).
ENVIRONMENTS = {
    "local": None,
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "sge": "SGECluster",
    "lsf": "LSFCluster",
    "htcondor": "HTCondorCluster",
    "oar": "OARCluster",
    "moab": "MoabCluster",
}
CONFIG_KEYS = ("env", "n_workers", "options", "gpu_options")
DEFAULT_MEMORY = "4GB"


class EngineConfigError(ValueError):
    """A cluster configuration that cannot be used; the message names the file and key."""


@dataclass
class EngineConfig:
    """Where jobs run (see the module's docstring for the file's keys)."""

    env: str = "local"
    n_workers: Optional[int] = None
    options: Dict[str, Any] = field(default_factory=dict)
    gpu_options: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: str) -> "EngineConfig":
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as error:
            raise EngineConfigError(f"{path}: {error.strerror}") from error
        except yaml.YAMLError as error:
            raise EngineConfigError(f"{path}: not YAML: {error}") from error
        if not isinstance(data, dict):
            raise EngineConfigError(f"{path}: a mapping of {', '.join(CONFIG_KEYS)}")
        unknown = sorted(set(data) - set(CONFIG_KEYS))
        if unknown:
            raise EngineConfigError(f"{path}: unknown key {unknown[0]} (known: {CONFIG_KEYS})")
        config = cls(**data)
        if config.env not in ENVIRONMENTS:
            raise EngineConfigError(f"{path}: env {config.env!r}: one of {list(ENVIRONMENTS)}")
        if config.n_workers is not None and (
            not isinstance(config.n_workers, int) or config.n_workers < 1
        ):
            raise EngineConfigError(
                f"{path}: n_workers: a positive number, got {config.n_workers!r}"
            )
        for key in ("options", "gpu_options"):
            if not isinstance(getattr(config, key), dict):
                raise EngineConfigError(f"{path}: {key}: a mapping of cluster options")
        return config


def _with_gpus(value: Any, gpus: int) -> Any:
    if isinstance(value, str):
        return value.replace("{gpu}", str(gpus))
    if isinstance(value, list):
        return [_with_gpus(v, gpus) for v in value]
    return value


def cluster_options(config: EngineConfig, command: JobCommand, log_dir: Path) -> Dict[str, Any]:
    """The keyword arguments of the dask_jobqueue cluster for ``command``'s jobs."""
    options = dict(config.options)
    if command.gpu > 0:
        options.update({k: _with_gpus(v, command.gpu) for k, v in config.gpu_options.items()})
    options["cores"] = command.num_threads
    options["processes"] = 1
    options["memory"] = command.memory or options.get("memory", DEFAULT_MEMORY)
    if command.walltime:
        options["walltime"] = command.walltime
    if command.name:
        options["job_name"] = command.name
    options.setdefault("log_directory", str(log_dir / "dask"))
    options["worker_extra_args"] = [*options.get("worker_extra_args", []), "--resources", "job=1"]
    return options


def jobs_at_a_time(config: EngineConfig, command: JobCommand) -> int:
    limit = command.max_jobs_run or config.n_workers
    if limit is None:
        limit = (os.cpu_count() or 1) // command.num_threads if config.env == "local" else 1
    return max(1, min(limit, len(command.job_ids)))


@contextmanager
def open_client(config: EngineConfig, command: JobCommand) -> Iterator[Any]:
    """A Dask client of a cluster sized for ``command``'s jobs, closed afterwards (which
    cancels the cluster jobs of a remote one)."""
    import dask
    from dask.distributed import Client, LocalCluster

    workers = jobs_at_a_time(config, command)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        if config.env == "local":
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=False,
                dashboard_address=None,
                resources={"job": 1},
            )
        else:
            import dask_jobqueue

            cluster_class = getattr(dask_jobqueue, ENVIRONMENTS[config.env])
            log_dir = command.log_of(command.job_ids[0]).resolve().parent
            submit = cluster_class.job_cls.submit_command
            if shutil.which(submit) is None:
                raise EngineConfigError(f"env {config.env}: {submit} not found on PATH")
            cluster = cluster_class(
                dashboard_address=None, **cluster_options(config, command, log_dir)
            )
            cluster.scale(jobs=workers)
        with cluster, Client(cluster) as client:
            yield client
