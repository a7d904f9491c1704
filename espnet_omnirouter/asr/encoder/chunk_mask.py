"""Chunk attention masks of U2/U2++ (WeNet's ``subsequent_chunk_mask``)."""

import torch


def chunk_attention_mask(
    size: int,
    chunk_size: int | torch.Tensor,
    num_left_chunks: int | torch.Tensor = -1,
    device: torch.device | None = None,
) -> torch.Tensor:
    """(size, size) bool mask: frame i attends to frame j iff j lies in i's chunk or in
    one of the ``num_left_chunks`` chunks before it (all earlier chunks if negative).

    Chunks are consecutive runs of ``chunk_size`` frames from frame 0; a chunk size of
    ``size`` or more is full context. ``chunk_size`` and ``num_left_chunks`` may be 0-dim
    tensors (training's dynamic draws): the mask is then built without reading them on
    the host, so ``torch.compile`` traces it and a GPU does not wait.
    """
    if isinstance(chunk_size, int) and chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    index = torch.arange(size, device=device)
    chunk = index // chunk_size
    last = (chunk + 1) * chunk_size  # first frame after frame i's chunk
    first = ((chunk - num_left_chunks) * chunk_size).clamp_min(0)
    first = torch.where(torch.as_tensor(num_left_chunks, device=device) < 0, 0, first)
    return (index[None, :] >= first[:, None]) & (index[None, :] < last[:, None])
