"""The project's Conformer block: explicit padding mask, shared router and streaming state,
so one code path serves training, full-context decoding and chunk-by-chunk streaming."""

from typing import Optional, Tuple

import torch

from espnet_omnirouter.asr.encoder.convolution import (
    CausalConvolutionModule,
    PaddingMaskedConvolutionModule,
)
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.router import Router
from espnet_omnirouter.layers.moe.routing import report_routing
from espnet_omnirouter.utils.legacy_nets import EncoderLayer


class ConformerBlock(EncoderLayer):
    """ESPnet's Conformer ``EncoderLayer`` (same sub-layers, order and state dict) that
    is given the padding mask, the shared router and the streaming caches.

    ESPnet's ``EncoderLayer.forward(x, mask)`` calls its FFNs and convolution without the
    padding mask: MoE FFNs need it to keep padding out of routing (WeNet passes
    ``mask_pad`` to each layer), and the convolution to keep it out of the valid frames.

    ``forward(x, pos_emb, mask, att_cache, cnn_cache, pad_mask, router)``:
        x: (#batch, time, size) frames of this chunk (the whole utterance in training).
        pos_emb: the attention's positional embedding of the keys (ESPnet's relative
            attention), or None (absolute positions, added by the input layer).
        mask: (#batch, time, cache_time + time) or (#batch, 1, cache_time + time) bool,
            True where a query may attend.
        att_cache: (#batch, cache_time, size) attention inputs of earlier frames, or None.
        cnn_cache: (#batch, size, kernel_size - 1) convolution input of earlier frames,
            or None (zeros).
        pad_mask: (#batch, 1, time) bool, True on real frames, or None (no padding).
        router: the encoder's shared ``Router`` (Omni-router), or None.
    returns the output (#batch, time, size), the attention inputs of all its keys
    (#batch, cache_time + time, size) and the next convolution cache (None without a
    causal convolution). Each MoE FFN's routing record is reported
    (``layers.moe.routing``). The convolution is a ``CausalConvolutionModule``
    (streaming, with its cache) or a ``PaddingMaskedConvolutionModule`` (it looks ahead:
    no cache).
    """

    @classmethod
    def from_layer(
        cls,
        layer: EncoderLayer,
        self_attn: Optional[torch.nn.Module] = None,
        conv_module: Optional[torch.nn.Module] = None,
    ) -> "ConformerBlock":
        """The same block (its FFNs, norms, sizes, dropout), with ``self_attn`` and
        ``conv_module`` in place of its own (default: its attention, and a padding-masked
        convolution of its convolution's shape)."""
        if conv_module is None and layer.conv_module is not None:
            depthwise = layer.conv_module.depthwise_conv
            # Its random initialisation leaves the global generator as it was (a seed gives
            # the weights it gave ESPnet's encoder); it gets the block's weights instead.
            with torch.random.fork_rng(devices=[]):
                conv_module = PaddingMaskedConvolutionModule(
                    depthwise.in_channels,
                    depthwise.kernel_size[0],
                    layer.conv_module.activation,
                    depthwise.bias is not None,
                )
            conv_module.load_state_dict(layer.conv_module.state_dict())
        block = cls(
            layer.size,
            layer.self_attn if self_attn is None else self_attn,
            layer.feed_forward,
            layer.feed_forward_macaron,
            conv_module,
            layer.dropout.p,
            layer.normalize_before,
            layer.concat_after,
            layer.stochastic_depth_rate,
        )
        # The norms' (and concat projection's) weights; replaced modules keep their own.
        replaced = [
            name
            for name, given in (("self_attn.", self_attn), ("conv_module.", conv_module))
            if given is not None
        ]
        kept = {k: v for k, v in layer.state_dict().items() if not k.startswith(tuple(replaced))}
        block.load_state_dict(kept, strict=False)
        return block

    def forward(
        self,
        x: torch.Tensor,
        pos_emb: Optional[torch.Tensor],
        mask: torch.Tensor,
        att_cache: Optional[torch.Tensor] = None,
        cnn_cache: Optional[torch.Tensor] = None,
        pad_mask: Optional[torch.Tensor] = None,
        router: Optional[Router] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        scale = 1.0
        if self.training and self.stochastic_depth_rate > 0:
            if torch.rand(1).item() < self.stochastic_depth_rate:
                return x, x if att_cache is None else torch.cat([att_cache, x], 1), cnn_cache
            scale = 1.0 / (1 - self.stochastic_depth_rate)
        valid = None if pad_mask is None else pad_mask[:, 0, :]

        if self.feed_forward_macaron is not None:
            x = self._feed_forward(
                x, self.norm_ff_macaron, self.feed_forward_macaron, scale, valid, router
            )

        residual = x
        if self.normalize_before:
            x = self.norm_mha(x)
        keys = x if att_cache is None else torch.cat([att_cache, x], dim=1)
        if pos_emb is None:
            x_att = self.self_attn(x, keys, keys, mask)
        else:
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
            if isinstance(self.conv_module, CausalConvolutionModule):
                x, new_cnn_cache = self.conv_module(x, cnn_cache)
            elif cnn_cache is not None:
                raise ValueError("a non-causal convolution (causal: false) has no streaming cache")
            else:
                x = self.conv_module(x, pad_mask)
            x = residual + scale * self.dropout(x)
            if not self.normalize_before:
                x = self.norm_conv(x)

        x = self._feed_forward(x, self.norm_ff, self.feed_forward, scale, valid, router)
        if self.conv_module is not None:
            x = self.norm_final(x)
        return x, keys, new_cnn_cache

    def _feed_forward(
        self,
        x: torch.Tensor,
        norm: torch.nn.Module,
        ffn: torch.nn.Module,
        scale: float,
        valid: Optional[torch.Tensor],
        router: Optional[Router],
    ) -> torch.Tensor:
        """``x + scale * ff_scale * dropout(ffn(x))`` with the block's pre- or post-norm;
        a MoE FFN gets the valid frames and the router, and its record is reported."""
        h = norm(x) if self.normalize_before else x
        if isinstance(ffn, MoEFeedForward):
            h, record = ffn(h, valid, router if ffn.shares_router else None)
            report_routing(record)
        else:
            h = ffn(h)
        out = x + scale * self.ff_scale * self.dropout(h)
        return out if self.normalize_before else norm(out)
