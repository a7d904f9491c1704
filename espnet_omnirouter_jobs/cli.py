"""``omnirouter-jobs``: run a command as jobs, as Kaldi's run.pl and slurm.pl do, on Dask.

Usage: omnirouter-jobs [--config FILE] [--gpu N] [--num-threads N] [--mem 4G] [--time T]
                       [--name NAME] [--max-jobs-run N] [JOB=1:N] LOG COMMAND...

Runs COMMAND once per job (``JOB`` in LOG and COMMAND becomes the job's number), each with
its output in its own LOG, on this machine or on the cluster that ``--config`` describes
(``engine``); arguments without spaces reach bash as they are (``a \\| b`` pipes). Prints one
line per finished job. Exit status: 0 when every job succeeded; 1 when one failed (each
failed job's log is named and its last lines shown); 2 for a bad command line or
configuration; 130/143 when interrupted (the running jobs are stopped).
"""

import importlib.util
import os
import signal
import sys
import time
from collections import deque
from pathlib import Path
from typing import Dict, List, Optional

from espnet_omnirouter_jobs.command_line import JobCommand, JobCommandError, parse_job_command
from espnet_omnirouter_jobs.engine import EngineConfig, EngineConfigError, open_client
from espnet_omnirouter_jobs.job import JobResult, run_job, stop_running_jobs

PROGRAM = "omnirouter-jobs"
TAIL_LINES = 10


def _label(job_id: Optional[int]) -> str:
    return "job" if job_id is None else f"job {job_id}"


def _failure(outcome: object) -> Optional[str]:
    """How a job failed, in words, or None when it succeeded."""
    if isinstance(outcome, JobResult):
        if outcome.ok:
            return None
        if outcome.signal is not None:
            return f"killed by {signal.Signals(outcome.signal).name}"
        return f"exit code {outcome.exit_code}"
    if type(outcome).__name__ == "KilledWorker":
        return "its worker was lost (the cluster job was killed, or ran out of time or memory)"
    return f"{type(outcome).__name__}: {outcome}"


def _tail(path: Path) -> str:
    try:
        with path.open(errors="replace") as log:
            return "".join(deque(log, maxlen=TAIL_LINES))
    except OSError:
        return "(no log was written)\n"


def run_jobs(command: JobCommand, config: EngineConfig) -> Dict[Optional[int], object]:
    """Run every job of ``command``; a ``JobResult`` or the exception per job id."""
    from dask.distributed import as_completed

    cwd = os.getcwd()
    outcomes: Dict[Optional[int], object] = {}
    with open_client(config, command) as client:
        futures = {
            client.submit(
                run_job,
                command.shell_command(job_id),
                str(command.log_of(job_id)),
                cwd,
                key=f"job-{job_id}-{time.time_ns()}",
                resources={"job": 1},
                retries=0,
                pure=False,
            ): job_id
            for job_id in command.job_ids
        }
        for future in as_completed(futures):
            job_id = futures[future]
            try:
                outcomes[job_id] = future.result()
            except Exception as error:  # a lost worker, or the job could not start
                outcomes[job_id] = error
            failure = _failure(outcomes[job_id])
            status = "done" if failure is None else f"FAILED ({failure})"
            print(f"[{PROGRAM}] {_label(job_id)}: {status}", file=sys.stderr)
    return outcomes


def _interrupted(signum: int, _frame) -> None:
    raise KeyboardInterrupt(signum)


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--help"], ["-h"]):
        print(__doc__)
        return 0
    missing = [m for m in ("dask", "distributed", "psutil") if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"{PROGRAM} needs {', '.join(missing)}, not installed: "
            "pip install 'espnet_omnirouter[jobs]'",
            file=sys.stderr,
        )
        return 2
    try:
        command = parse_job_command(argv)
        config = EngineConfig.from_file(command.config) if command.config else EngineConfig()
    except (JobCommandError, EngineConfigError) as error:
        print(f"{PROGRAM}: {error}\n{__doc__.splitlines()[2]}", file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        outcomes = run_jobs(command, config)
    except KeyboardInterrupt as interruption:
        stop_running_jobs()
        signum = interruption.args[0] if interruption.args else signal.SIGINT
        print(f"{PROGRAM}: interrupted: running jobs stopped", file=sys.stderr)
        return 128 + int(signum)
    except EngineConfigError as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    failures = {job_id: _failure(outcome) for job_id, outcome in outcomes.items()}
    failed = [(job_id, failures[job_id]) for job_id in command.job_ids if failures[job_id]]
    for job_id, why in failed:
        log = command.log_of(job_id)
        print(
            f"{PROGRAM}: {_label(job_id)} failed ({why}): {log}; its last lines:\n{_tail(log)}",
            file=sys.stderr,
            end="",
        )
    if failed:
        print(f"{PROGRAM}: {len(failed)} of {len(outcomes)} jobs failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
