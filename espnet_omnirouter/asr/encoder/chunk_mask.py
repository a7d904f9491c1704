"""Chunk attention masks of U2/U2++ (WeNet's ``subsequent_chunk_mask``)."""

import torch


def chunk_attention_mask(
    size: int, chunk_size: int, num_left_chunks: int = -1, device: torch.device | None = None
) -> torch.Tensor:
    """(size, size) bool mask: frame i attends to frame j iff j lies in i's chunk or in
    one of the ``num_left_chunks`` chunks before it (all earlier chunks if negative).

    Chunks are consecutive runs of ``chunk_size`` frames from frame 0; a chunk size of
    ``size`` or more is full context.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    index = torch.arange(size, device=device)
    chunk = index // chunk_size
    last = (chunk + 1) * chunk_size  # first frame after frame i's chunk
    if num_left_chunks < 0:
        first = torch.zeros_like(index)
    else:
        first = ((chunk - num_left_chunks) * chunk_size).clamp_min(0)
    return (index[None, :] >= first[:, None]) & (index[None, :] < last[:, None])
