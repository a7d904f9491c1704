"""Leaving autocast for the float32 or hand-cast parts of a MoE layer."""

import contextlib

import torch


def autocast_disabled(device_type: str) -> contextlib.AbstractContextManager:
    """``torch.autocast(device_type, enabled=False)`` where autocast is on; a no-op
    context otherwise (entering ``torch.autocast`` costs microseconds per call, which
    add up over the dozens of MoE layers of a batch-1 decoding step)."""
    if torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type=device_type, enabled=False)
    return contextlib.nullcontext()
