"""Checkpoints that a crash never leaves half-written."""

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

import torch

_torch_save = torch.save


def torch_save_atomically(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
    """``torch.save`` that, for a file path, writes a sibling file, flushes it to disk and
    renames it into place: a reader (or a resumed run) sees the old file or the new one,
    never a truncated one. File objects are written as ``torch.save`` writes them."""
    if not isinstance(f, (str, os.PathLike)):
        _torch_save(obj, f, *args, **kwargs)
        return
    path = Path(f)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(staging, "wb") as stream:
            _torch_save(obj, stream, *args, **kwargs)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_torch_save() -> Iterator[None]:
    """Make every ``torch.save`` to a path atomic while the block runs (ESPnet's trainer
    saves ``checkpoint.pth`` and ``<N>epoch.pth`` with plain ``torch.save`` calls)."""
    torch.save = torch_save_atomically
    try:
        yield
    finally:
        torch.save = _torch_save
