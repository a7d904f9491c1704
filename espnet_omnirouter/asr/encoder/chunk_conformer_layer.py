"""Conformer block with explicit streaming state (one code path for training, full-context
decoding and chunk-by-chunk streaming)."""

import inspect
from typing import Optional, Tuple

import torch

from espnet_omnirouter.asr.encoder.causal_convolution import CausalConvolutionModule
from espnet_omnirouter.utils.legacy_nets import EncoderLayer


class ChunkConformerLayer(EncoderLayer):
    """ESPnet's Conformer ``EncoderLayer`` whose attention can take the keys of earlier
    chunks from a cache and whose causal convolution keeps its left context.

    ``forward(x, pos_emb, mask, att_cache, cnn_cache)``:
        x: (#batch, time, size) frames of this chunk (the whole utterance in training).
        pos_emb: (1, cache_time + time, size) positional embedding of the keys
            (ESPnet's legacy relative attention: one embedding per key).
        mask: (#batch, time, cache_time + time) bool, True where a query may attend.
        att_cache: (#batch, cache_time, size) attention inputs of earlier frames, or None.
        cnn_cache: (#batch, size, kernel_size - 1) convolution input of earlier frames,
            or None (zeros).
        pad_mask: (#batch, 1, time) bool, True on real frames, or None (no padding).
            Only a non-causal convolution reads it (the ESPnet releases whose
            ``ConvolutionModule`` takes ``mask_pad`` zero padded frames before it).
    returns the output (#batch, time, size), the attention inputs of all its keys
    (#batch, cache_time + time, size) and the next convolution cache (None without a
    causal convolution). The sub-layers and their order are ``EncoderLayer.forward``'s
    (macaron FFN, attention, convolution, FFN). The convolution is a
    ``CausalConvolutionModule`` (streaming, with its cache) or ESPnet's own
    ``ConvolutionModule`` (``causal: false``: it looks ahead, so no cache).
    """

    @classmethod
    def from_layer(
        cls,
        layer: EncoderLayer,
        self_attn: torch.nn.Module,
        conv_module: Optional[CausalConvolutionModule],
    ) -> "ChunkConformerLayer":
        """The same block (its FFNs, sizes, dropout) with ``self_attn`` and
        ``conv_module`` in place of its own."""
        return cls(
            layer.size,
            self_attn,
            layer.feed_forward,
            layer.feed_forward_macaron,
            conv_module,
            layer.dropout.p,
            layer.normalize_before,
            layer.concat_after,
            layer.stochastic_depth_rate,
        )

    def forward(
        self,
        x: torch.Tensor,
        pos_emb: torch.Tensor,
        mask: torch.Tensor,
        att_cache: Optional[torch.Tensor] = None,
        cnn_cache: Optional[torch.Tensor] = None,
        pad_mask: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        scale = 1.0
        if self.training and self.stochastic_depth_rate > 0:
            if torch.rand(1).item() < self.stochastic_depth_rate:
                return x, x if att_cache is None else torch.cat([att_cache, x], 1), cnn_cache
            scale = 1.0 / (1 - self.stochastic_depth_rate)

        if self.feed_forward_macaron is not None:
            x = self._residual(
                x, self.norm_ff_macaron, self.feed_forward_macaron, scale * self.ff_scale
            )

        residual = x
        if self.normalize_before:
            x = self.norm_mha(x)
        keys = x if att_cache is None else torch.cat([att_cache, x], dim=1)
        x_att = self.self_attn(x, keys, keys, pos_emb, mask)
        if self.concat_after:
            x = residual + scale * self.concat_linear(torch.cat((x, x_att), dim=-1))
        else:
            x = residual + scale * self.dropout(x_att)
        if not self.normalize_before:
            x = self.norm_mha(x)

        new_cnn_cache = None
        if self.conv_module is not None:
            residual = x
            if self.normalize_before:
                x = self.norm_conv(x)
            x, new_cnn_cache = self._convolve(x, cnn_cache, pad_mask)
            x = residual + scale * self.dropout(x)
            if not self.normalize_before:
                x = self.norm_conv(x)

        x = self._residual(x, self.norm_ff, self.feed_forward, scale * self.ff_scale)
        if self.conv_module is not None:
            x = self.norm_final(x)
        return x, keys, new_cnn_cache

    def _convolve(
        self, x: torch.Tensor, cnn_cache: Optional[torch.Tensor], pad_mask: Optional[torch.Tensor]
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        if isinstance(self.conv_module, CausalConvolutionModule):
            return self.conv_module(x, cnn_cache)
        if cnn_cache is not None:
            raise ValueError("a non-causal convolution (causal: false) has no streaming cache")
        if (
            pad_mask is not None
            and "mask_pad" in inspect.signature(self.conv_module.forward).parameters
        ):
            return self.conv_module(x, mask_pad=pad_mask), None
        return self.conv_module(x), None

    def _residual(
        self, x: torch.Tensor, norm: torch.nn.Module, module: torch.nn.Module, scale: float
    ) -> torch.Tensor:
        """``x + scale * dropout(module(x))`` with the block's pre- or post-norm."""
        out = x + scale * self.dropout(module(norm(x) if self.normalize_before else x))
        return out if self.normalize_before else norm(out)
