"""ESPnet Transformer decoder whose feed-forward networks can be MoE layers."""

from typing import Any, Dict, List, Tuple

import torch
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder
from typeguard import typechecked

from espnet_omnirouter.layers.moe.config import MoEConfig, MoEConfigError
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.router import Router

_DECODER_LAYER_ARGS = ("tgt", "tgt_mask", "memory", "memory_mask", "cache")


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


def _pass_valid_tokens_to_moe(
    layer: torch.nn.Module, args: Tuple[Any, ...], kwargs: Dict[str, Any]
) -> None:
    """Forward pre-hook of a decoder layer: give its MoE FFN the padding mask.

    ESPnet's ``DecoderLayer.forward(tgt, tgt_mask, memory, memory_mask, cache=None)``
    calls its FFN without a mask. In a full forward ``tgt_mask`` (#batch or 1, L, L) is
    the padding mask AND the subsequent mask, so its last row is the padding mask. With
    a ``cache`` (incremental decoding) only the last position is computed, and it is
    never padding: no mask.
    """
    inputs = {**dict(zip(_DECODER_LAYER_ARGS, args)), **kwargs}
    tgt, tgt_mask = inputs["tgt"], inputs.get("tgt_mask")
    valid = None
    if inputs.get("cache") is None and tgt_mask is not None and tgt_mask.dim() == 3:
        valid = tgt_mask[:, -1, :].bool().expand(tgt.shape[0], tgt.shape[1])
    layer.feed_forward.valid_frames = valid


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
    this is exactly ``TransformerDecoder`` (same state dict).

    Shapes are ESPnet's: ``forward(hs_pad (B, T, D), hlens (B,), ys_in_pad (B, L),
    ys_in_lens (B,))`` returns logits (B, L, vocab_size) and (B, L); incremental
    decoding (``score``, ``batch_score``, ``forward_one_step``) is unchanged, so
    ESPnet's beam search and ``Speech2Text`` use this decoder as they use theirs.
    Padding tokens are kept out of routing: each MoE layer's ``valid_frames`` comes
    from ``tgt_mask`` (see ``_pass_valid_tokens_to_moe``).
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
        for index in sorted(conf.moe_blocks(len(self.decoders))):
            layer = self.decoders[index]
            layer.feed_forward = MoEFeedForward.from_dense(
                layer.feed_forward, conf, self.shared_router, f"{moe_layer_prefix}{index}_ffn"
            )
            layer.register_forward_pre_hook(_pass_valid_tokens_to_moe, with_kwargs=True)

    @property
    def moe_layers(self) -> List[MoEFeedForward]:
        """The MoE layers in block order."""
        return [
            layer.feed_forward
            for layer in self.decoders
            if isinstance(layer.feed_forward, MoEFeedForward)
        ]

    def reset_routing(self) -> None:
        """Forget every MoE layer's last routing, so layers that do not run in the next
        call report none instead of a stale one."""
        for layer in self.moe_layers:
            layer.reset_routing()

    def forward(
        self,
        hs_pad: torch.Tensor,
        hlens: torch.Tensor,
        ys_in_pad: torch.Tensor,
        ys_in_lens: torch.Tensor,
        return_hs: bool = False,
        return_all_hs: bool = False,
    ):
        """TransformerDecoder.forward after ``reset_routing``."""
        self.reset_routing()
        return super().forward(hs_pad, hlens, ys_in_pad, ys_in_lens, return_hs, return_all_hs)

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
        """TransformerDecoder.forward_one_step (used by ``score`` and ``batch_score``)
        after ``reset_routing``."""
        self.reset_routing()
        return super().forward_one_step(
            tgt, tgt_mask, memory, memory_mask, cache=cache, return_hs=return_hs
        )

    def forward_partially_AR(self, *args, **kwargs):
        """TransformerDecoder.forward_partially_AR (Mask-CTC) after ``reset_routing``:
        it calls the layers' own ``forward_partially_AR``, which the padding hook does
        not see, so the MoE layers route every token."""
        self.reset_routing()
        return super().forward_partially_AR(*args, **kwargs)
