"""U2++ ASR model: CTC plus left-to-right and right-to-left attention losses."""

from typing import Dict, Tuple

import torch
from espnet2.torch_utils.device_funcs import force_gatherable

from espnet_omnirouter.asr.decoder.bi_transformer_decoder import BiTransformerDecoder
from espnet_omnirouter.asr.espnet_model import MoEESPnetASRModel
from espnet_omnirouter.utils.legacy_nets import add_sos_eos


def reverse_padded(ys_pad: torch.Tensor, ys_lens: torch.Tensor) -> torch.Tensor:
    """Reverse the valid tokens of each row, leaving the padding at the end.

    (#batch, L) and lengths (#batch,) -> (#batch, L); WeNet's ``reverse_pad_list``.
    """
    positions = torch.arange(ys_pad.size(1), device=ys_pad.device)
    lengths = ys_lens.to(ys_pad.device).unsqueeze(1)
    index = torch.where(positions < lengths, lengths - 1 - positions, positions)
    return ys_pad.gather(1, index)


class U2ppASRModel(MoEESPnetASRModel):
    """``MoEESPnetASRModel`` trained as U2++ (Wu et al., 2021; WeNet's ASRModel).

    With a ``BiTransformerDecoder`` the attention loss is
    ``(1 - reverse_weight) * L2R + reverse_weight * R2L``, R2L being the right-to-left
    decoder's loss on each transcript reversed, so ESPnet's total
    ``ctc_weight * CTC + (1 - ctc_weight) * loss_att`` is U2++'s (plus the MoE
    auxiliary losses). Accuracy, CER and WER stay ESPnet's, of the left-to-right
    decoder; ``stats`` add ``loss_att_l2r`` and ``loss_att_r2l``.

    Args:
        reverse_weight: Weight of the right-to-left loss, in [0, 1]; > 0 exactly when
            the decoder is a ``BiTransformerDecoder``.
        *args, **kwargs: ``ESPnetASRModel``'s arguments.
    """

    def __init__(self, *args, reverse_weight: float = 0.3, **kwargs):
        if not isinstance(reverse_weight, (int, float)) or not 0.0 <= reverse_weight <= 1.0:
            raise ValueError(f"model_conf.reverse_weight={reverse_weight!r}: must be in [0, 1]")
        super().__init__(*args, **kwargs)
        if reverse_weight == 0 and isinstance(self.decoder, BiTransformerDecoder):
            raise ValueError(
                "model_conf.reverse_weight=0 with decoder: bi_transformer would never train "
                "the right-to-left decoder (and stops DDP training: its parameters get no "
                "gradient); use decoder: moe_transformer, or reverse_weight > 0"
            )
        if reverse_weight > 0 and self.decoder is not None:
            if not isinstance(self.decoder, BiTransformerDecoder):
                raise ValueError(
                    f"model_conf.reverse_weight={reverse_weight}: a right-to-left loss needs "
                    f"decoder: bi_transformer, not {type(self.decoder).__name__}; set "
                    "model_conf.reverse_weight: 0 to train the left-to-right decoder only"
                )
            if self.lang_token_id is not None:
                raise ValueError(
                    "model_conf.lang_token_id: not supported with model_conf.reverse_weight > 0"
                )
        self.reverse_weight = float(reverse_weight)
        self._att_loss_stats: Dict[str, torch.Tensor] = {}

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """MoEESPnetASRModel.forward, whose stats gain the two directions' losses."""
        self._att_loss_stats = {}
        loss, stats, weight = super().forward(speech, speech_lengths, text, text_lengths, **kwargs)
        stats.update(force_gatherable(self._att_loss_stats, loss.device))
        self._att_loss_stats = {}
        return loss, stats, weight

    def _calc_att_loss(
        self,
        encoder_out: torch.Tensor,
        encoder_out_lens: torch.Tensor,
        ys_pad: torch.Tensor,
        ys_pad_lens: torch.Tensor,
    ):
        """ESPnet's left-to-right loss, accuracy, CER and WER, with the right-to-left
        loss mixed into the loss (overridden because ESPnet's has one direction)."""
        if self.reverse_weight == 0.0:
            loss_att, acc_att, cer_att, wer_att = super()._calc_att_loss(
                encoder_out, encoder_out_lens, ys_pad, ys_pad_lens
            )
            self._att_loss_stats = {"loss_att_l2r": loss_att.detach()}
            return loss_att, acc_att, cer_att, wer_att
        r_ys_in_pad, r_ys_out_pad = add_sos_eos(
            reverse_padded(ys_pad, ys_pad_lens), self.sos, self.eos, self.ignore_id
        )
        r_ys_in_lens = ys_pad_lens + 1
        loss_l2r, acc_att, cer_att, wer_att = super()._calc_att_loss(
            encoder_out, encoder_out_lens, ys_pad, ys_pad_lens
        )
        r_decoder_out, _ = self.decoder.right_decoder(
            encoder_out, encoder_out_lens, r_ys_in_pad, r_ys_in_lens
        )
        loss_r2l = self.criterion_att(r_decoder_out, r_ys_out_pad)
        loss_att = (1 - self.reverse_weight) * loss_l2r + self.reverse_weight * loss_r2l
        self._att_loss_stats = {
            "loss_att_l2r": loss_l2r.detach(),
            "loss_att_r2l": loss_r2l.detach(),
        }
        return loss_att, acc_att, cer_att, wer_att
