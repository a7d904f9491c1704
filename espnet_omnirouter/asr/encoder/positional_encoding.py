"""ESPnet's legacy relative positional encoding as a pure function of the frame index."""

import math

import torch

from espnet_omnirouter.utils.legacy_nets import LegacyRelPositionalEncoding


class StatelessRelPositionalEncoding(torch.nn.Module):
    """``LegacyRelPositionalEncoding`` whose embeddings never depend on earlier inputs.

    ESPnet's legacy table gives frame ``j`` the sinusoid of position ``L - 1 - j``, ``L``
    being the table's length: ``max_len`` (``max_pos_emb_len``, 5000) until an input
    longer than the table rebuilds it with ``L`` = that input's length, which changes the
    embedding of every frame of every later input (and grows the table for good). Here
    frame ``j`` always gets the sinusoid of ``max_len - 1 - j``, the value a model sees
    in training on inputs up to ``max_len`` frames (beyond them, the same formula at
    negative positions). Embeddings are computed for the frames asked
    (``position_encoding(offset, size)``, WeNet's interface), so memory does not grow
    with the longest input seen, and a chunk gets the values the full forward gives its
    frames. No parameters: the state dict is ESPnet's.

    Args:
        d_model: Embedding size.
        dropout_rate: Dropout on the scaled input and on the embeddings.
        max_len: Length of ESPnet's table, which fixes the position of frame 0.
    """

    def __init__(self, d_model: int, dropout_rate: float, max_len: int = 5000):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.xscale = math.sqrt(d_model)
        self.dropout = torch.nn.Dropout(p=dropout_rate)
        frequencies = torch.exp(
            torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model)
        )
        self.register_buffer("frequencies", frequencies, persistent=False)

    @classmethod
    def from_legacy(cls, legacy: LegacyRelPositionalEncoding) -> "StatelessRelPositionalEncoding":
        """The stateless twin of an unused ESPnet ``LegacyRelPositionalEncoding`` (whose
        table still has its construction length, ``max_len``)."""
        return cls(legacy.d_model, legacy.dropout.p, legacy.pe.size(1))

    def position_encoding(
        self, offset: int | torch.Tensor, size: int, reference: torch.Tensor
    ) -> torch.Tensor:
        """(1, size, d_model) embeddings of frames ``offset .. offset + size - 1``, on the
        device and in the dtype of ``reference`` (``offset`` may be a 0-d tensor)."""
        frames = torch.arange(size, device=reference.device) + offset
        positions = (self.max_len - 1 - frames).to(torch.float32).unsqueeze(1)
        angles = positions * self.frequencies
        # Interleaved as ESPnet's table: sin in even dimensions, cos in odd ones.
        embedding = torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(-2)
        return embedding.unsqueeze(0).to(reference.dtype)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(#batch, time, d_model) -> scaled input (#batch, time, d_model) and the
        embeddings of frames 0 .. time - 1 (1, time, d_model), as ESPnet's module."""
        pos_emb = self.position_encoding(0, x.size(1), x)
        return self.dropout(x * self.xscale), self.dropout(pos_emb)


def make_positions_stateless(embed: torch.nn.Module) -> StatelessRelPositionalEncoding | None:
    """Replace the ``LegacyRelPositionalEncoding`` inside an ESPnet input layer (wherever
    that release keeps it) by its ``StatelessRelPositionalEncoding``; returns the new
    module, or None when the layer has no legacy encoding."""
    for name, module in embed.named_modules():
        if type(module) is LegacyRelPositionalEncoding:
            parent_name, _, attribute = name.rpartition(".")
            stateless = StatelessRelPositionalEncoding.from_legacy(module)
            setattr(embed.get_submodule(parent_name), attribute, stateless)
            return stateless
    return None
