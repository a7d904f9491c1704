"""Left-to-right plus right-to-left attention decoders (U2++, WeNet's BiTransformerDecoder)."""

from typing import Any, Dict, List, Tuple

import torch
from typeguard import typechecked

from espnet_omnirouter.asr.decoder.moe_transformer_decoder import MoETransformerDecoder
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward


class BiTransformerDecoder(MoETransformerDecoder):
    """A left-to-right ``MoETransformerDecoder`` carrying a right-to-left one.

    U2++ (Wu et al., 2021; WeNet's ``BiTransformerDecoder``) trains a second attention
    decoder on the reversed transcripts and uses both to rescore the CTC n-best. This
    module is itself the left-to-right decoder, so everything ESPnet does with a decoder
    (``forward``, ``score``, ``batch_score``, its beam search, ``Speech2Text``) uses that
    direction unchanged; ``right_decoder`` is the right-to-left one, with
    ``r_num_blocks`` blocks (default: ``num_blocks``), the other options and
    ``moe_conf`` of this one, its own parameters (an Omni-router decoder has one shared
    router per direction) and MoE layers named ``rdec<block>_ffn``.

    Args:
        vocab_size, encoder_output_size, num_blocks, moe_conf, **transformer_conf:
            As ``MoETransformerDecoder`` (ESPnet's ``TransformerDecoder`` arguments).
        r_num_blocks: Blocks of the right-to-left decoder; None: ``num_blocks``.
    """

    @typechecked
    def __init__(
        self,
        vocab_size: int,
        encoder_output_size: int,
        num_blocks: int = 6,
        r_num_blocks: int | None = None,
        moe_conf: Dict[str, Any] | None = None,
        **transformer_conf: Any,
    ):
        super().__init__(
            vocab_size, encoder_output_size, moe_conf, num_blocks=num_blocks, **transformer_conf
        )
        self.right_decoder = MoETransformerDecoder(
            vocab_size,
            encoder_output_size,
            moe_conf,
            moe_layer_prefix="rdec",
            num_blocks=num_blocks if r_num_blocks is None else r_num_blocks,
            **transformer_conf,
        )

    @property
    def moe_layers(self) -> List[MoEFeedForward]:
        """The MoE layers, left-to-right decoder first, each in block order."""
        return super().moe_layers + self.right_decoder.moe_layers

    def forward_bidirectional(
        self,
        hs_pad: torch.Tensor,
        hlens: torch.Tensor,
        ys_in_pad: torch.Tensor,
        ys_in_lens: torch.Tensor,
        r_ys_in_pad: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run both decoders on the same encoder output.

        Args:
            hs_pad: Encoder output (#batch, T, D).
            hlens: Encoder output lengths (#batch,).
            ys_in_pad: ``<sos>`` + tokens, padded (#batch, L).
            ys_in_lens: Lengths of ``ys_in_pad`` rows (#batch,), also those of
                ``r_ys_in_pad``.
            r_ys_in_pad: ``<sos>`` + the tokens reversed, padded at the end (#batch, L).

        Returns:
            Left-to-right logits (#batch, L, vocab_size), right-to-left logits
            (#batch, L, vocab_size) and ESPnet's ``olens``.
        """
        l_logits, olens = self.forward(hs_pad, hlens, ys_in_pad, ys_in_lens)
        r_logits, _ = self.right_decoder(hs_pad, hlens, r_ys_in_pad, ys_in_lens)
        return l_logits, r_logits, olens
