"""ESPnet ASR model that trains MoE layers: adds their auxiliary losses and stats."""

import logging
from typing import Dict, List, Tuple

import torch
from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.torch_utils.device_funcs import force_gatherable

from espnet_omnirouter.layers.moe.routing import (
    RoutingRecord,
    collect_routing,
    summarize_routing,
)

logger = logging.getLogger(__name__)


class MoEESPnetASRModel(ESPnetASRModel):
    """``ESPnetASRModel`` whose loss includes the MoE routing losses.

    Adds the MoE auxiliary loss to ESPnet's CTC/attention loss with Switch Transformer's
    semantics: ``moe_aux_loss = sum over the MoE layers that ran of
    load_balancing_weight * lb + z_loss_weight * z`` (weights from ``moe_conf``; summed
    over layers as Mesh-TensorFlow's Switch Transformer does, so every router feels the
    configured weight) is relative to a *per-token* task loss. ESPnet's losses are sums
    over an utterance's tokens divided by the batch size, so the auxiliary loss is added
    times ``task_loss_tokens`` (the tokens per unit of ESPnet's loss): the ratio of the
    added auxiliary loss to the task loss is the ratio Switch's weights are tuned for.

    ``stats`` (ESPnet's log, plots and TensorBoard) report ``moe_aux_loss`` (per-token
    scale, as configured), ``moe_load_balancing_loss`` and ``moe_z_loss`` (unweighted
    means over layers: 1.0 is balanced) and, per MoE layer, ``moe_<layer>_entropy`` (mean
    router entropy) and ``moe_<layer>_load_max`` (fraction of tokens taken by its
    busiest expert: 1/E when balanced, 1 when collapsed).

    A non-finite training loss is logged with the batch's utterance ids (ESPnet's trainer
    then skips the step: its gradient norm is not finite).
    """

    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        **kwargs,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        with collect_routing() as records:
            loss, stats, weight = super().forward(
                speech, speech_lengths, text, text_lengths, **kwargs
            )
        if records:
            loss = self._add_moe_losses(loss, stats, records, self.task_loss_tokens(text_lengths))
        if self.training and not torch.isfinite(loss):
            logger.warning(
                "non-finite loss (%s) on the batch of utterances %s: the optimizer step "
                "will be skipped",
                loss.item(),
                " ".join(kwargs.get("utt_id", ["(ids unknown)"])),
            )
        return loss, stats, weight

    def task_loss_tokens(self, text_lengths: torch.Tensor) -> torch.Tensor:
        """The scale at which the per-token auxiliary loss joins ESPnet's loss.

        ESPnet's CTC loss (intermediate CTC included) is a sum over each utterance's
        tokens divided by the batch size: per token, its unit is the mean number of
        target tokens per utterance. So is the attention loss, unless
        ``length_normalized_loss`` makes it a mean over tokens (unit 1). The loss mixes
        them with ``ctc_weight``, and so is each one's auxiliary loss.

        Args:
            text_lengths: (#batch,) target tokens per utterance.
        """
        tokens_per_utterance = text_lengths.float().mean()
        if self.ctc_weight == 1.0 or self.use_transducer_decoder:  # RNN-T: per utterance too
            return tokens_per_utterance
        att_unit = 1.0 if self.criterion_att.normalize_length else tokens_per_utterance
        return self.ctc_weight * tokens_per_utterance + (1.0 - self.ctc_weight) * att_unit

    def _add_moe_losses(
        self,
        loss: torch.Tensor,
        stats: Dict[str, torch.Tensor],
        records: List[RoutingRecord],
        task_loss_tokens: torch.Tensor,
    ) -> torch.Tensor:
        """``loss`` plus the MoE auxiliary loss of the forward's routing ``records`` at
        the task loss's scale; ``stats`` updated with the MoE stats (``summarize_routing``)."""
        aux_loss, moe_stats = summarize_routing(records)
        loss = loss + aux_loss * task_loss_tokens
        stats.update(force_gatherable(moe_stats, loss.device))
        stats["loss"] = loss.detach()
        return loss
