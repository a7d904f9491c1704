"""ESPnet Transformer decoder whose feed-forward networks can be MoE layers."""

from typing import Any, Dict, List, Optional, Tuple

import torch
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder
from typeguard import typechecked

from espnet_omnirouter.layers.moe.config import MoEConfig, MoEConfigError
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.router import Router
from espnet_omnirouter.layers.moe.routing import report_routing
from espnet_omnirouter.utils.legacy_nets import DecoderLayer, make_pad_mask, subsequent_mask


def refuse_non_asr_options(transformer_conf: Dict[str, Any], moe_conf: Dict[str, Any]) -> None:
    """Fail, naming the option, on ``TransformerDecoder`` options an ASR decoder cannot
    use, and on ``moe_conf`` keys a decoder would ignore."""
    if transformer_conf.get("input_layer", "embed") != "embed":
        raise MoEConfigError(
            f"decoder_conf.input_layer={transformer_conf['input_layer']!r}: an ASR decoder reads "
            "token ids (input_layer: embed); 'linear' takes vectors"
        )
    if not transformer_conf.get("use_output_layer", True):
        raise MoEConfigError(
            "decoder_conf.use_output_layer=False: the attention loss, beam search and "
            "rescoring score tokens through the output layer"
        )
    if not isinstance(transformer_conf.get("pos_enc_class", type), type):
        raise MoEConfigError(
            "decoder_conf.pos_enc_class: a Python class, which a YAML config cannot give"
        )
    if "ffn" in moe_conf:
        raise MoEConfigError(
            f"decoder_conf.moe_conf.ffn={moe_conf['ffn']!r}: a decoder block has one FFN, "
            "which moe_conf.blocks selects; remove the key"
        )


class MoEDecoderLayer(DecoderLayer):
    """ESPnet's Transformer ``DecoderLayer`` (same sub-layers, order and state dict) whose
    FFN, a ``MoEFeedForward``, is given the valid tokens and the decoder's shared router.

    ESPnet's ``DecoderLayer.forward`` calls its FFN without a mask. In a full forward
    ``tgt_mask`` (#batch or 1, L, L) is the padding mask AND the subsequent mask, so its
    last row is the padding mask; with a ``cache`` (incremental decoding) only the last
    position is computed, and it is never padding. Returns what ESPnet's does:
    ``(x, tgt_mask, memory, memory_mask)``; the FFN's routing record is reported.
    """

    @classmethod
    def from_layer(cls, layer: DecoderLayer) -> "MoEDecoderLayer":
        if layer.sequential_attn is not None:
            raise MoEConfigError("decoder layers with a sequential attention have no MoE form")
        block = cls(
            layer.size, layer.self_attn, layer.src_attn, layer.feed_forward,
            layer.dropout.p, layer.normalize_before, layer.concat_after,
        )  # fmt: skip
        block.load_state_dict(layer.state_dict())
        return block

    def forward(
        self,
        tgt: torch.Tensor,
        tgt_mask: Optional[torch.Tensor],
        memory: torch.Tensor,
        memory_mask: Optional[torch.Tensor],
        cache: Optional[torch.Tensor] = None,
        router: Optional[Router] = None,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor, Optional[torch.Tensor]]:
        residual = tgt
        if self.normalize_before:
            tgt = self.norm1(tgt)
        tgt_q, tgt_q_mask, valid = tgt, tgt_mask, None
        if cache is None:
            if tgt_mask is not None and tgt_mask.dim() == 3:
                valid = tgt_mask[:, -1, :].bool().expand(tgt.shape[0], tgt.shape[1])
        else:
            tgt_q, residual = tgt[:, -1:, :], residual[:, -1:, :]
            tgt_q_mask = None if tgt_mask is None else tgt_mask[:, -1:, :]
        x = self._attend(residual, tgt_q, self.self_attn, tgt, tgt_q_mask, "concat_linear1")
        if not self.normalize_before:
            x = self.norm1(x)

        residual = x
        if self.normalize_before:
            x = self.norm2(x)
        x = self._attend(residual, x, self.src_attn, memory, memory_mask, "concat_linear2")
        if not self.normalize_before:
            x = self.norm2(x)

        residual = x
        if self.normalize_before:
            x = self.norm3(x)
        h, record = self.feed_forward(x, valid, router if self.feed_forward.shares_router else None)
        report_routing(record)
        x = residual + self.dropout(h)
        if not self.normalize_before:
            x = self.norm3(x)
        if cache is not None:
            x = torch.cat([cache, x], dim=1)
        return x, tgt_mask, memory, memory_mask

    def _attend(self, residual, query, attention, keys, mask, concat_linear: str) -> torch.Tensor:
        """``residual`` plus the attention of ``query`` to ``keys`` (ESPnet's dropout, or
        with ``concat_after`` its projection ``concat_linear``)."""
        attended = attention(query, keys, keys, mask)
        if self.concat_after:
            projection = getattr(self, concat_linear)
            return residual + projection(torch.cat((query, attended), dim=-1))
        return residual + self.dropout(attended)


class MoETransformerDecoder(TransformerDecoder):
    """ESPnet's ``TransformerDecoder`` with Switch, Omni-router or U2++ MoE FFNs.

    Takes every ``TransformerDecoder`` argument plus ``moe_conf`` (see ``MoEConfig``;
    errors name ``decoder_conf.moe_conf``). ESPnet builds the decoder unchanged, then
    the FFN of each block in ``moe_conf.blocks`` becomes a ``MoEFeedForward`` of the
    same input and hidden sizes, named ``<moe_layer_prefix><block>_ffn`` (``dec0_ffn``,
    ...). A decoder layer has one FFN, so ``moe_conf.ffn`` (which Conformer FFN) does
    not apply (and is refused). With ``type: omni`` one ``Router`` (``shared_router``)
    serves every MoE layer of this decoder. ``input_layer: linear`` and
    ``use_output_layer: false`` (not a token decoder) are refused. With ``type: dense``
    this is exactly ``TransformerDecoder``; with MoE layers, every block is a
    ``MoEDecoderLayer`` (same state dict), which the decoder gives the shared router.

    Shapes are ESPnet's: ``forward(hs_pad (B, T, D), hlens (B,), ys_in_pad (B, L),
    ys_in_lens (B,))`` returns logits (B, L, vocab_size) and (B, L); incremental
    decoding (``score``, ``batch_score``, ``forward_one_step``) is unchanged, so
    ESPnet's beam search and ``Speech2Text`` use this decoder as they use theirs.
    Padding tokens are kept out of routing (``MoEDecoderLayer``).
    """

    @typechecked
    def __init__(
        self,
        vocab_size: int,
        encoder_output_size: int,
        moe_conf: Dict[str, Any] | None = None,
        moe_layer_prefix: str = "dec",
        **transformer_conf: Any,
    ):
        refuse_non_asr_options(transformer_conf, moe_conf or {})
        super().__init__(vocab_size, encoder_output_size, **transformer_conf)
        self.moe_conf = MoEConfig.from_dict(moe_conf, where="decoder_conf.moe_conf")
        if not self.moe_conf.is_moe:
            return
        conf = self.moe_conf
        self.shared_router = (
            Router(encoder_output_size, conf.num_experts, conf.jitter_noise)
            if conf.shares_router
            else None
        )
        blocks = list(self.decoders)
        for index in sorted(conf.moe_blocks(len(blocks))):
            layer = blocks[index]
            layer.feed_forward = MoEFeedForward.from_dense(
                layer.feed_forward, conf, f"{moe_layer_prefix}{index}_ffn"
            )
            blocks[index] = MoEDecoderLayer.from_layer(layer)
        self.decoders = torch.nn.ModuleList(blocks)

    @property
    def moe_layers(self) -> List[MoEFeedForward]:
        """The MoE layers in block order."""
        return [
            layer.feed_forward
            for layer in self.decoders
            if isinstance(layer.feed_forward, MoEFeedForward)
        ]

    def _run_layer(self, layer, x, tgt_mask, memory, memory_mask, cache=None):
        if isinstance(layer, MoEDecoderLayer):
            return layer(x, tgt_mask, memory, memory_mask, cache, router=self.shared_router)
        return layer(x, tgt_mask, memory, memory_mask, cache=cache)

    def forward(
        self,
        hs_pad: torch.Tensor,
        hlens: torch.Tensor,
        ys_in_pad: torch.Tensor,
        ys_in_lens: torch.Tensor,
        return_hs: bool = False,
        return_all_hs: bool = False,
    ):
        """``TransformerDecoder.forward`` (teacher forcing), its layers run by this
        decoder so that MoE layers get the shared router (ESPnet's loop cannot pass it)."""
        if not self.moe_conf.is_moe:
            return super().forward(hs_pad, hlens, ys_in_pad, ys_in_lens, return_hs, return_all_hs)
        tgt_mask = (~make_pad_mask(ys_in_lens)[:, None, :]).to(ys_in_pad.device)
        tgt_mask = tgt_mask & subsequent_mask(tgt_mask.size(-1), device=tgt_mask.device)[None]
        memory = hs_pad
        memory_mask = (~make_pad_mask(hlens, maxlen=memory.size(1)))[:, None, :].to(memory.device)
        x = self.embed(ys_in_pad)
        all_hs = []
        for index, layer in enumerate(self.decoders):
            if index + 1 in self.gradient_checkpoint_layers:
                x, tgt_mask, memory, memory_mask = torch.utils.checkpoint.checkpoint(
                    self._run_layer, layer, x, tgt_mask, memory, memory_mask,
                    use_reentrant=False,
                )  # fmt: skip
            else:
                x, tgt_mask, memory, memory_mask = self._run_layer(
                    layer, x, tgt_mask, memory, memory_mask
                )
            if return_all_hs:
                all_hs.append(x)
        if self.normalize_before:
            x = self.after_norm(x)
        hidden = x
        x = self.output_layer(x)
        olens = tgt_mask.sum(1)
        if return_hs:
            return (x, hidden), olens
        if return_all_hs:
            return (x, all_hs), olens
        return x, olens

    def forward_one_step(
        self,
        tgt: torch.Tensor,
        tgt_mask: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor | None = None,
        *,
        cache: List[torch.Tensor] | None = None,
        return_hs: bool = False,
    ):
        """``TransformerDecoder.forward_one_step`` (used by ``score`` and ``batch_score``
        in ESPnet's beam search), its layers run by this decoder as in ``forward``."""
        if not self.moe_conf.is_moe:
            return super().forward_one_step(
                tgt, tgt_mask, memory, memory_mask, cache=cache, return_hs=return_hs
            )
        x = self.embed(tgt)
        cache = [None] * len(self.decoders) if cache is None else cache
        new_cache = []
        for layer_cache, layer in zip(cache, self.decoders):
            x, tgt_mask, memory, memory_mask = self._run_layer(
                layer, x, tgt_mask, memory, memory_mask, layer_cache
            )
            new_cache.append(x)
        y = self.after_norm(x[:, -1]) if self.normalize_before else x[:, -1]
        hidden = y
        y = torch.log_softmax(self.output_layer(y), dim=-1)
        return ((y, hidden) if return_hs else y), new_cache

    def forward_partially_AR(self, *args, **kwargs):
        """TransformerDecoder.forward_partially_AR (Mask-CTC), for decoders without MoE
        layers: it runs ESPnet's layers' own partially autoregressive step."""
        if self.moe_conf.is_moe:
            raise NotImplementedError("Mask-CTC decoding of a decoder with MoE layers")
        return super().forward_partially_AR(*args, **kwargs)
