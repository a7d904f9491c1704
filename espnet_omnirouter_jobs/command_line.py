"""Kaldi's job-command line: ``[options] [JOB=a:b] LOG COMMAND...``."""

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

# Options with a value, Kaldi's spellings (run.pl, slurm.pl) -> JobCommand field.
OPTIONS = {
    "--config": "config",
    "--gpu": "gpu",
    "--num-threads": "num_threads",
    "--num_threads": "num_threads",
    "--mem": "memory",
    "--time": "walltime",
    "--name": "name",
    "--max-jobs-run": "max_jobs_run",
    "--num_nodes": "num_nodes",
    "--num-nodes": "num_nodes",
}
INTEGER_FIELDS = ("gpu", "num_threads", "max_jobs_run", "num_nodes")
JOB_RANGE = re.compile(r"^(?P<name>[A-Za-z_]\w*)=(?P<first>\d+)(:(?P<last>\d+))?$")
# Arguments passed to bash as they are, like run.pl does with arguments without spaces, so
# that a command can have pipes and redirections (``a \| b``).
SAFE_ARGUMENT = re.compile(r"^\S+$")


class JobCommandError(ValueError):
    """A job command line that cannot be run; the message says what is wrong."""


@dataclass
class JobCommand:
    """A parsed job command: run ``command`` once per job id, each job logging to its
    ``log`` (``JOB`` in both replaced by the id).

    Attributes:
        command: The command's arguments.
        log: The log path, with the job variable in it for several jobs.
        job_ids: The job ids, e.g. [1, 2, 3, 4] for ``JOB=1:4``; [None] without a range.
        job_variable: The variable of the range (``JOB``), or None.
        config: A cluster configuration file (``engine.EngineConfig``), or None.
        gpu, num_threads, memory, walltime, name, max_jobs_run: What each job needs and
            how many may run at a time (None: the configuration's default).
    """

    command: List[str]
    log: str
    job_ids: List[Optional[int]] = field(default_factory=lambda: [None])
    job_variable: Optional[str] = None
    config: Optional[str] = None
    gpu: int = 0
    num_threads: int = 1
    memory: Optional[str] = None
    walltime: Optional[str] = None
    name: Optional[str] = None
    max_jobs_run: Optional[int] = None

    def _substituted(self, text: str, job_id: Optional[int]) -> str:
        if self.job_variable is None:
            return text
        return text.replace(self.job_variable, str(job_id))

    def log_of(self, job_id: Optional[int]) -> Path:
        return Path(self._substituted(self.log, job_id))

    def shell_command(self, job_id: Optional[int]) -> str:
        """The bash command line of job ``job_id``: arguments with spaces or nothing in
        them quoted, the others as they are (Kaldi's run.pl does the same)."""
        words = [self._substituted(arg, job_id) for arg in self.command]
        return " ".join(w if SAFE_ARGUMENT.match(w) else shlex.quote(w) for w in words)


def parse_job_command(argv: Sequence[str]) -> JobCommand:
    """Parse ``[--option value]... [VAR=a[:b]] LOG COMMAND...``."""
    args = list(argv)
    values: Dict[str, str] = {}
    while args and args[0].startswith("--"):
        option = args.pop(0)
        option, equals, value = option.partition("=")
        if option not in OPTIONS:
            known = ", ".join(sorted(set(OPTIONS)))
            raise JobCommandError(f"unknown option {option} (known: {known})")
        if not equals:
            if not args:
                raise JobCommandError(f"option {option} needs a value")
            value = args.pop(0)
        values[OPTIONS[option]] = value
    for key in INTEGER_FIELDS:
        if key in values:
            if not values[key].isdigit():
                raise JobCommandError(f"--{key}: a whole number, got {values[key]!r}")
            values[key] = int(values[key])
    if values.pop("num_nodes", 1) != 1:
        raise JobCommandError(
            "--num_nodes: jobs run on one node each; multi-node training needs ESPnet's "
            "launch with --host or Kaldi's slurm.pl"
        )
    job_ids: List[Optional[int]] = [None]
    job_variable = None
    if args and (match := JOB_RANGE.match(args[0])):
        args.pop(0)
        first = int(match["first"])
        last = int(match["last"] or first)
        if last < first:
            raise JobCommandError(f"empty job range {match.group(0)}")
        job_ids, job_variable = list(range(first, last + 1)), match["name"]
    if len(args) < 2:
        raise JobCommandError("usage: [options] [JOB=1:N] LOG COMMAND...")
    log, command = args[0], args[1:]
    if job_variable and len(job_ids) > 1 and job_variable not in log:
        raise JobCommandError(
            f"{len(job_ids)} jobs would write to one log {log}: put {job_variable} in its name"
        )
    return JobCommand(command, log, job_ids, job_variable, **values)
