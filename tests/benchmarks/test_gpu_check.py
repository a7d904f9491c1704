"""``benchmarks/gpu_check.sh --device cpu --dry_run``: the GPU check's code runs, CPU-sized."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_dry_run_passes_every_check_and_leaves_benchmarks_md_alone():
    before = (REPO_ROOT / "BENCHMARKS.md").read_text()
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", "--device", "cpu", "--dry_run"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    checks = [line for line in result.stdout.splitlines() if line.startswith("[gpu_check] ")]
    assert sum(": ok (" in line for line in checks) == 7, "\n".join(checks)
    assert "[gpu_check] all checks passed" in checks
    assert (REPO_ROOT / "BENCHMARKS.md").read_text() == before


def test_a_cuda_run_without_cuda_says_how_to_dry_run():
    result = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", "backends", "--device", "cuda"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "--device cpu --dry_run" in result.stderr
