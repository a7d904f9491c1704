"""One job, as a Dask worker runs it: its command under bash, writing its log."""

import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Set

# The jobs this process runs now, so that an interrupted runner can stop them.
_running: Set[subprocess.Popen] = set()
_running_lock = threading.Lock()


@dataclass(frozen=True)
class JobResult:
    """How a job's command ended: its exit status, or the signal that killed it."""

    exit_code: int
    signal: Optional[int] = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.signal is None


def _now() -> str:
    return time.strftime("%a %b %d %H:%M:%S %Z %Y")


def run_job(shell_command: str, log: str, cwd: str) -> JobResult:
    """Run ``bash -c shell_command`` in ``cwd`` with its output in ``log``, between the
    header and footer lines of Kaldi's run.pl (``# Ended (code N) ...``), which tools that
    read job logs look for."""
    path = Path(log)
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with path.open("w") as out:
        out.write(f"# {shell_command}\n# Started at {_now()}\n")
        out.flush()
        process = subprocess.Popen(
            ["bash", "-c", shell_command], cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
        with _running_lock:
            _running.add(process)
        try:
            status = process.wait()
        finally:
            with _running_lock:
                _running.discard(process)
        seconds = round(time.monotonic() - start)
        # bash's convention for a command killed by a signal: 128 + its number.
        code = 128 - status if status < 0 else status
        out.write(
            f"# Accounting: time={seconds} threads=1\n"
            f"# Ended (code {code}) at {_now()}, elapsed time {seconds} seconds\n"
        )
    return JobResult(code, -status if status < 0 else None)


def stop_running_jobs(grace_seconds: float = 5.0) -> None:
    """Terminate the commands of the jobs this process runs, and their children (killed
    after ``grace_seconds``)."""
    import psutil

    with _running_lock:
        processes = list(_running)
    victims = []
    for process in processes:
        try:
            parent = psutil.Process(process.pid)
            victims += [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    for victim in victims:
        try:
            victim.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(victims, timeout=grace_seconds)
    for victim in alive:
        try:
            victim.kill()
        except psutil.NoSuchProcess:
            pass
