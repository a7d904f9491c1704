"""The graphs an exported model is made of, as traceable modules over the eager model's
own sub-modules (no copied weights): full-context encoder, CTC head, chunk encoder with
explicit caches (U2++) and attention decoders for rescoring.

Names of inputs and outputs follow WeNet's runtime (``wenet/bin/export_onnx_cpu.py``):
``chunk, offset, required_cache_size, att_cache, cnn_cache -> output, r_att_cache,
r_cnn_cache`` for the chunk encoder, ``hidden -> probs`` for CTC.
"""

from typing import Optional, Tuple

import torch

from espnet_omnirouter.asr.encoder.moe_conformer_encoder import MoEConformerEncoder
from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import U2ppConformerEncoder


def extend_positions(encoder: torch.nn.Module, max_frames: int) -> None:
    """Precompute the positional table for ``max_frames`` encoder frames.

    ESPnet extends its table when a longer input comes, a Python branch that tracing
    removes: the exported graph slices the table it was traced with, so that table
    must already cover the longest input the runtime will feed. (ESPnet's tables give a
    frame the same embedding whatever their length; the legacy relative one, which does
    not, is computed per input instead: ``StatelessRelPositionalEncoding`` has no table.)
    """
    for module in encoder.embed.modules():
        if hasattr(module, "extend_pe"):
            module.extend_pe(torch.zeros(1, max_frames, 1))


class FullContextEncoder(torch.nn.Module):
    """``forward(feats (B, T, F), feats_lens (B,))`` -> encoder output (B, T', D) and its
    lengths (B,): the model's encoder on normalised features, full context. Frames past
    an utterance's length are zero (the eager encoder leaves arbitrary values there)."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(
        self, feats: torch.Tensor, feats_lens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        # Full context, also for a U2++ encoder configured with a decoding chunk size.
        context = {"chunk_size": 0} if isinstance(self.encoder, MoEConformerEncoder) else {}
        encoder_out, encoder_out_lens, _ = self.encoder(feats, feats_lens, **context)
        if isinstance(encoder_out, tuple):  # intermediate CTC outputs: not exported
            encoder_out = encoder_out[0]
        frames = torch.arange(encoder_out.shape[1], device=encoder_out.device)
        padding = frames[None, :] >= encoder_out_lens[:, None]
        return encoder_out.masked_fill(padding.unsqueeze(-1), 0.0), encoder_out_lens


class CTCHead(torch.nn.Module):
    """``forward(hidden (B, T, D))`` -> CTC log-probabilities (B, T, V)."""

    def __init__(self, ctc: torch.nn.Module):
        super().__init__()
        self.ctc = ctc

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.ctc.log_softmax(hidden)


class ChunkEncoder(torch.nn.Module):
    """One streaming step of a ``U2ppConformerEncoder`` with its state as tensors.

    ``U2ppConformerEncoder.forward_chunk`` takes Python integers and a None state for the
    first chunk, which tracing would freeze; this module runs the same blocks with the
    offset and cache size as graph inputs and always-present caches (empty at the start:
    a cache of 0 frames, zero convolution context), so one graph serves every chunk size
    and left context.

    ``forward`` arguments:
        chunk: (1, W, F) normalised features of the chunk with the subsampling's right
            context (``streaming_window`` of the encoder).
        offset: () int64, encoder frames already output for this stream.
        required_cache_size: () int64, encoder frames to keep for the next chunk
            (``chunk_size * num_left_chunks``), negative for all.
        att_cache: (L, 1, cache_time, D) attention inputs of the cached frames per block.
        cnn_cache: (L, 1, D, kernel_size - 1) convolution inputs of the previous frames.
        key_mask: optional (1, 1, cache_time + t) bool, False for cached frames that do not
            exist yet (a cache of fixed size, as sherpa-onnx keeps it); default all True.
    Returns ``output`` (1, t, D), ``r_att_cache`` (L, 1, cache_time', D) and
    ``r_cnn_cache`` (L, 1, D, kernel_size - 1).
    """

    def __init__(self, encoder: U2ppConformerEncoder):
        super().__init__()
        self.encoder = encoder

    def forward(
        self,
        chunk: torch.Tensor,
        offset: torch.Tensor,
        required_cache_size: torch.Tensor,
        att_cache: torch.Tensor,
        cnn_cache: torch.Tensor,
        key_mask: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        encoder = self.encoder
        x, _ = encoder.embed_with_positions(chunk)
        cache_time = att_cache.shape[2]
        # Positional embeddings of the keys: the cached frames, then the chunk.
        pos_emb = encoder.positions.position_encoding(
            offset - cache_time, cache_time + x.shape[1], x
        )
        if key_mask is None:
            mask = torch.ones(1, x.shape[1], cache_time + x.shape[1], dtype=torch.bool)
        else:
            mask = key_mask.expand(1, x.shape[1], cache_time + x.shape[1])
        new_att_caches, new_cnn_caches = [], []
        for index, block in enumerate(encoder.encoders):
            has_conv = block.conv_module is not None
            x, keys, new_cnn = block(
                x,
                pos_emb,
                mask,
                att_cache[index],
                cnn_cache[index] if has_conv else None,
                router=encoder.shared_router,
            )
            keep_from = torch.where(
                required_cache_size < 0,
                torch.zeros_like(required_cache_size),
                (keys.shape[1] - required_cache_size).clamp(min=0),
            )
            new_att_caches.append(keys[:, keep_from:])
            new_cnn_caches.append(new_cnn if has_conv else cnn_cache[index])
        if encoder.normalize_before:
            x = encoder.after_norm(x)
        return x, torch.stack(new_att_caches), torch.stack(new_cnn_caches)


class AttentionDecoder(torch.nn.Module):
    """Teacher-forced attention decoder(s) of U2++ rescoring (WeNet's ``decoder.onnx``).

    ``forward(encoder_out (1, T, D), hyps (N, L), hyps_lens (N,)[, r_hyps (N, L)])``:
    ``hyps`` are ``<sos>`` + tokens padded with ``<eos>``, ``hyps_lens`` their lengths
    (tokens + 1), ``r_hyps`` the same with the tokens reversed. Returns the
    left-to-right log-probabilities (N, L, V) and, with ``bidirectional``, the
    right-to-left ones (N, L, V).
    """

    def __init__(self, decoder: torch.nn.Module, bidirectional: bool):
        super().__init__()
        self.decoder = decoder
        self.bidirectional = bidirectional

    def forward(
        self,
        encoder_out: torch.Tensor,
        hyps: torch.Tensor,
        hyps_lens: torch.Tensor,
        r_hyps: torch.Tensor | None = None,
    ) -> Tuple[torch.Tensor, ...]:
        memory = encoder_out.expand(hyps.shape[0], -1, -1)
        memory_lens = torch.ones_like(hyps_lens) * encoder_out.shape[1]
        logits, _ = self.decoder(memory, memory_lens, hyps, hyps_lens)
        if not self.bidirectional:
            return (logits.log_softmax(dim=-1),)
        r_logits, _ = self.decoder.right_decoder(memory, memory_lens, r_hyps, hyps_lens)
        return logits.log_softmax(dim=-1), r_logits.log_softmax(dim=-1)
