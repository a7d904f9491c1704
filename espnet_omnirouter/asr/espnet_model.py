"""ESPnet ASR model that trains MoE layers: adds their auxiliary losses and stats."""

import logging
from typing import Dict, List, Tuple

import torch
from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.torch_utils.device_funcs import force_gatherable

from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward

logger = logging.getLogger(__name__)


class MoEESPnetASRModel(ESPnetASRModel):
    """``ESPnetASRModel`` whose loss includes the MoE routing losses.

    After ESPnet's CTC/attention loss, adds the mean over the MoE layers that ran of
    ``load_balancing_weight * lb + z_loss_weight * z`` (weights from ``moe_conf``),
    and reports in ``stats`` (ESPnet's log, plots and TensorBoard):
    ``moe_aux_loss``, ``moe_load_balancing_loss``, ``moe_z_loss`` (layer means,
    unweighted for the last two) and, per MoE layer, ``moe_<layer>_entropy`` (mean
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
        loss, stats, weight = super().forward(speech, speech_lengths, text, text_lengths, **kwargs)
        layers = self.routed_moe_layers()
        if layers:
            loss = self._add_moe_losses(loss, stats, layers)
        if self.training and not torch.isfinite(loss):
            logger.warning(
                "non-finite loss (%s) on the batch of utterances %s: the optimizer step "
                "will be skipped",
                loss.item(),
                " ".join(kwargs.get("utt_id", ["(ids unknown)"])),
            )
        return loss, stats, weight

    def _add_moe_losses(
        self, loss: torch.Tensor, stats: Dict[str, torch.Tensor], layers: List[MoEFeedForward]
    ) -> torch.Tensor:
        """``loss`` plus the MoE auxiliary loss; ``stats`` updated with the MoE stats."""
        losses = [layer.auxiliary_losses() for layer in layers]
        aux_loss = torch.stack(
            [layer.weighted_auxiliary_loss(item) for layer, item in zip(layers, losses)]
        ).mean()
        loss = loss + aux_loss
        moe_stats = {"moe_aux_loss": aux_loss.detach()}
        with torch.no_grad():
            for key in losses[0]:
                moe_stats[f"moe_{key}"] = torch.stack([item[key] for item in losses]).mean()
            for layer in layers:
                routing = layer.routing_statistics()
                moe_stats[f"moe_{layer.layer_name}_entropy"] = routing["entropy"]
                moe_stats[f"moe_{layer.layer_name}_load_max"] = routing["load"].max()
        stats.update(force_gatherable(moe_stats, loss.device))
        stats["loss"] = loss.detach()
        return loss

    def routed_moe_layers(self) -> List[MoEFeedForward]:
        """MoE layers that routed tokens in the last forward."""
        return [
            m
            for m in self.modules()
            if isinstance(m, MoEFeedForward) and m.last_routing is not None
        ]
