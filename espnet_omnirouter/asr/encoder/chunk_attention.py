"""Relative-position self-attention that works on the keys of earlier chunks."""

import torch

from espnet_omnirouter.utils.legacy_nets import (
    LegacyRelPositionMultiHeadedAttention,
)


class ChunkRelPositionAttention(LegacyRelPositionMultiHeadedAttention):
    """ESPnet's legacy relative-position attention without its Transformer-XL shift, as in
    WeNet's U2/U2++ Conformer.

    The shift re-indexes the position scores assuming the keys are exactly the queries;
    when streaming, the keys are the cached earlier frames plus the chunk, so it would
    misplace them. Without it, each key gets the score of its own positional embedding,
    which is the same whether the key comes from the cache or from the full sequence.
    Same parameters as ``LegacyRelPositionMultiHeadedAttention``.
    """

    def rel_shift(self, x: torch.Tensor) -> torch.Tensor:
        return x
