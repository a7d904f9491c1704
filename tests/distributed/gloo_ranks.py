"""Run a function on N CPU ranks joined by a gloo process group (forked, so the ranks
inherit the test process's imports and start in well under a second)."""

import socket
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, List

import torch
import torch.distributed as dist

GLOO_AVAILABLE = dist.is_available() and dist.is_gloo_available()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_on_ranks(fn: Callable[..., Any], world_size: int, out_dir: Path, *args: Any) -> List[Any]:
    """``fn(rank, world_size, *args)`` on every rank; returns the ranks' results in rank
    order. An exception on a rank is raised here with its traceback."""
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.multiprocessing.start_processes(
        _worker,
        args=(fn, world_size, free_port(), out_dir, args),
        nprocs=world_size,
        start_method="fork",
    )
    return [torch.load(out_dir / f"rank{r}.pt", weights_only=False) for r in range(world_size)]


def _worker(rank: int, fn, world_size: int, port: int, out_dir: Path, args) -> None:
    # One intra-op thread per rank: the ranks share the machine's cores, and OpenMP
    # thread pools do not survive fork.
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=timedelta(seconds=120),  # a rank that dies must not hang the test
    )
    try:
        result = fn(rank, world_size, *args)
    finally:
        dist.destroy_process_group()
    torch.save(result, out_dir / f"rank{rank}.pt")
