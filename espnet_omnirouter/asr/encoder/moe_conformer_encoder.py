"""ESPnet Conformer encoder whose feed-forward networks can be MoE layers."""

from typing import Any, Callable, Dict, List, Mapping, Tuple

import torch
from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
from typeguard import typechecked

from espnet_omnirouter.asr.encoder.positional_encoding import make_positions_stateless
from espnet_omnirouter.layers.moe.config import MoEConfig, MoEConfigError
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.router import Router


def _attention_type(conf: Mapping[str, Any]) -> str:
    """The self-attention ESPnet builds: ``selfattn``, ``rel_selfattn`` (latest) or
    ``legacy_rel_selfattn``."""
    attention = conf.get("selfattention_layer_type", "rel_selfattn")
    if attention == "rel_selfattn" and conf.get("rel_pos_type", "legacy") == "legacy":
        return "legacy_rel_selfattn"
    return attention


# ConformerEncoder switches that ESPnet reads only in some configurations and ignores
# silently in the others: (option, its default, when it is read, what it needs). Sizes of
# a disabled module (cnn_module_kernel without the convolution, ...) are left alone.
_CONDITIONAL_OPTIONS: Tuple[Tuple[str, Any, Callable[[Mapping[str, Any]], bool], str], ...] = (
    ("qk_norm", False, lambda c: _attention_type(c) == "selfattn",
     "selfattention_layer_type: selfattn"),
    ("zero_triu", False, lambda c: _attention_type(c) == "rel_selfattn",
     "rel_pos_type: latest with selfattention_layer_type: rel_selfattn"),
    ("interctc_use_conditioning", False, lambda c: bool(c.get("interctc_layer_idx")),
     "interctc_layer_idx (the blocks whose output feeds an intermediate CTC)"),
    ("ctc_trim", False, lambda c: bool(c.get("interctc_layer_idx")),
     "interctc_layer_idx (the blocks whose output feeds an intermediate CTC)"),
)  # fmt: skip


def refuse_ignored_options(conf: Mapping[str, Any]) -> None:
    """Fail, naming the option, when ``conf`` sets a ``ConformerEncoder`` option away
    from its default where ESPnet would not read it."""
    for option, default, is_read, needs in _CONDITIONAL_OPTIONS:
        if option in conf and conf[option] != default and not is_read(conf):
            raise MoEConfigError(
                f"encoder_conf.{option}={conf[option]!r} has no effect without {needs}: "
                f"remove it or set {needs}"
            )


def _moe_ffns(block: torch.nn.Module) -> List[MoEFeedForward]:
    """The MoE FFNs of a Conformer block, macaron first."""
    return [
        ffn
        for ffn in (block.feed_forward_macaron, block.feed_forward)
        if isinstance(ffn, MoEFeedForward)
    ]


def _pass_valid_frames_to_moe(block: torch.nn.Module, args: Tuple[Any, ...]) -> None:
    """Forward pre-hook of a Conformer block: give its MoE FFNs the padding mask.

    ESPnet's ``EncoderLayer.forward(x, mask)`` calls its FFNs without the mask, which
    MoE layers need to keep padding out of routing losses and expert compute.
    """
    mask = args[1]
    valid = mask[:, 0, :] if mask is not None and mask.dim() == 3 and mask.size(1) == 1 else None
    for ffn in _moe_ffns(block):
        ffn.valid_frames = valid


class MoEConformerEncoder(ConformerEncoder):
    """ESPnet's ``ConformerEncoder`` with Switch or Omni-router MoE FFNs.

    Takes every ``ConformerEncoder`` argument plus ``moe_conf`` (see ``MoEConfig``).
    The encoder is built by ESPnet unchanged, then the chosen FFNs of the chosen
    blocks are replaced by ``MoEFeedForward`` layers of the same input and hidden
    sizes (so top-1 MoE has the active parameters per frame of the dense model).
    With ``type: omni`` one ``Router`` (``shared_router``) serves every MoE layer.
    With ``type: dense`` this is exactly ``ConformerEncoder`` (same state dict), but for
    two things: ESPnet's legacy relative positions (``rel_pos_type: legacy``) are
    computed as a function of the frame index (``StatelessRelPositionalEncoding``: an
    input longer than ``max_pos_emb_len`` does not change the outputs of later ones),
    and an option set where ESPnet would ignore it is refused (``refuse_ignored_options``).

    Shapes are ESPnet's: ``forward(xs_pad (B, T, input_size), ilens (B,))`` returns
    ``(B, T', output_size)``, ``(B,)`` and None.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        moe_conf: Dict[str, Any] | None = None,
        **conformer_conf: Any,
    ):
        refuse_ignored_options(conformer_conf)
        super().__init__(input_size, **conformer_conf)
        make_positions_stateless(self.embed)
        self.moe_conf = MoEConfig.from_dict(moe_conf)
        if not self.moe_conf.is_moe:
            return
        conf = self.moe_conf
        self.shared_router = (
            Router(self._output_size, conf.num_experts, conf.jitter_noise)
            if conf.shares_router
            else None
        )
        for index in sorted(conf.moe_blocks(len(self.encoders))):
            block = self.encoders[index]
            for attr, role in self._moe_ffn_attributes(block):
                moe_layer = MoEFeedForward.from_dense(
                    getattr(block, attr), conf, self.shared_router, f"enc{index}_{role}"
                )
                setattr(block, attr, moe_layer)
            block.register_forward_pre_hook(_pass_valid_frames_to_moe)

    def _moe_ffn_attributes(self, block: torch.nn.Module) -> List[Tuple[str, str]]:
        ffn = self.moe_conf.ffn
        if ffn in ("macaron", "both") and block.feed_forward_macaron is None:
            raise MoEConfigError(
                f"moe_conf.ffn={ffn!r} needs a macaron FFN: set encoder_conf.macaron_style: "
                "true, or use moe_conf.ffn: second"
            )
        return {
            "macaron": [("feed_forward_macaron", "macaron")],
            "second": [("feed_forward", "ffn")],
            "both": [("feed_forward_macaron", "macaron"), ("feed_forward", "ffn")],
        }[ffn]

    @property
    def moe_layers(self) -> List[MoEFeedForward]:
        """The MoE layers in block order (macaron before second FFN)."""
        return [ffn for block in self.encoders for ffn in _moe_ffns(block)]

    def forward(
        self,
        xs_pad: torch.Tensor,
        ilens: torch.Tensor,
        prev_states: torch.Tensor | None = None,
        masks: torch.Tensor | None = None,
        ctc: torch.nn.Module | None = None,
        return_all_hs: bool = False,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """ConformerEncoder.forward; MoE layers skipped this time (layer drop,
        stochastic depth) report no routing instead of a stale one."""
        for layer in self.moe_layers:
            layer.reset_routing()
        return super().forward(xs_pad, ilens, prev_states, masks, ctc, return_all_hs)
