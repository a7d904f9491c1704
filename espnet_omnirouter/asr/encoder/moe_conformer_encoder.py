"""ESPnet Conformer encoder whose feed-forward networks can be MoE layers."""

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import torch
from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
from typeguard import typechecked

from espnet_omnirouter.asr.encoder.conformer_block import ConformerBlock
from espnet_omnirouter.asr.encoder.positional_encoding import make_positions_stateless
from espnet_omnirouter.asr.encoder.subsampling import subsampling_geometry
from espnet_omnirouter.layers.moe.config import MoEConfig, MoEConfigError
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.router import Router
from espnet_omnirouter.utils.legacy_nets import TooShortUttError

# Intermediate encoder outputs for intermediate CTC: (block number, (#batch, T', D)).
IntermediateOutputs = List[Tuple[int, torch.Tensor]]


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
)  # fmt: skip


def refuse_ignored_options(conf: Mapping[str, Any]) -> None:
    """Fail, naming the option, when ``conf`` sets a ``ConformerEncoder`` option away
    from its default where ESPnet would not read it, or one the project's blocks do not
    run (``ctc_trim``: trimming frames by CTC posterior)."""
    if conf.get("ctc_trim", False):
        raise MoEConfigError(
            "encoder_conf.ctc_trim=True: not supported by the plugin's encoders; remove it"
        )
    for option, default, is_read, needs in _CONDITIONAL_OPTIONS:
        if option in conf and conf[option] != default and not is_read(conf):
            raise MoEConfigError(
                f"encoder_conf.{option}={conf[option]!r} has no effect without {needs}: "
                f"remove it or set {needs}"
            )


class MoEConformerEncoder(ConformerEncoder):
    """ESPnet's ``ConformerEncoder`` with Switch or Omni-router MoE FFNs, run by the
    project's blocks.

    Takes every ``ConformerEncoder`` argument plus ``moe_conf`` (see ``MoEConfig``).
    The encoder is built by ESPnet, then the chosen FFNs of the chosen blocks are
    replaced by ``MoEFeedForward`` layers of the same input and hidden sizes (so top-1
    MoE has the active parameters per frame of the dense model), and every block becomes
    a ``ConformerBlock`` (same sub-layers and state dict) that is given the padding mask:
    MoE layers keep padding out of routing and expert compute, and the convolution reads
    zeros past an utterance's end, so an utterance's output is the same alone and in a
    padded batch. Output lengths are each utterance's own (``subsampling_geometry``).
    With ``type: omni`` one ``Router`` (``shared_router``) serves every MoE layer: the
    encoder passes it to each block. With ``type: dense`` the state dict is
    ``ConformerEncoder``'s. ESPnet's legacy relative positions (``rel_pos_type: legacy``)
    are computed as a function of the frame index (``StatelessRelPositionalEncoding``: an
    input longer than ``max_pos_emb_len`` does not change the outputs of later ones), and
    an option set where ESPnet would ignore it is refused (``refuse_ignored_options``).
    Intermediate CTC, ``layer_drop_rate`` and ``stochastic_depth_rate`` work as in
    ESPnet's ``ConformerEncoder``.

    Shapes are ESPnet's: ``forward(xs_pad (B, T, input_size), ilens (B,))`` returns
    ``(B, T', output_size)`` (with intermediate CTC, that and ``[(block, (B, T',
    output_size)), ...]``), ``(B,)`` and None.
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
        try:
            self.subsampling = subsampling_geometry(self.embed)
        except ValueError as error:
            raise MoEConfigError(f"encoder_conf.input_layer: {error}") from error
        self.layer_drop_rate = float(getattr(self.encoders, "layer_drop_rate", 0.0))
        self.moe_conf = MoEConfig.from_dict(moe_conf)
        conf = self.moe_conf
        self.shared_router = (
            Router(self._output_size, conf.num_experts, conf.jitter_noise)
            if conf.is_moe and conf.shares_router
            else None
        )
        moe_blocks = conf.moe_blocks(len(self.encoders)) if conf.is_moe else set()
        for index in sorted(moe_blocks):
            block = self.encoders[index]
            for attr, role in self._moe_ffn_attributes(block):
                moe_layer = MoEFeedForward.from_dense(
                    getattr(block, attr), conf, f"enc{index}_{role}"
                )
                setattr(block, attr, moe_layer)
        self.encoders = torch.nn.ModuleList(
            [ConformerBlock.from_layer(block) for block in self.encoders]
        )

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
        return [
            ffn
            for block in self.encoders
            for ffn in (block.feed_forward_macaron, block.feed_forward)
            if isinstance(ffn, MoEFeedForward)
        ]

    @property
    def subsampling_rate(self) -> int:
        """Input frames per encoder frame."""
        return self.subsampling.rate

    @property
    def right_context(self) -> int:
        """Input frames after an encoder frame's first one that it reads."""
        return self.subsampling.right_context

    def embed_with_positions(self, xs: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Input layer: (#batch, T, input_size) -> frames (#batch, T', output_size) and
        the relative attention's positional embedding (None: absolute positions, added
        to the frames)."""
        too_short = self.right_context + 1
        if xs.size(1) < too_short:
            raise TooShortUttError(
                f"has {xs.size(1)} frames and is too short for subsampling "
                f"(it needs at least {too_short} frames)",
                xs.size(1),
                too_short,
            )
        # ESPnet's conv2d layers take (and subsample) a mask; frame-wise ones do not.
        if isinstance(self.embed, torch.nn.Sequential):
            x = self.embed(xs)
        else:
            x = self.embed(xs, None)[0]
        return x if isinstance(x, tuple) else (x, None)

    def attention_mask(
        self, pad_masks: torch.Tensor, chunk_size: Optional[int], num_left_chunks: Optional[int]
    ) -> torch.Tensor:
        """Which keys each frame attends to: (#batch, 1, T') every real frame (full
        context; the U2++ encoder adds chunks)."""
        if chunk_size:
            raise ValueError(
                f"chunk attention (chunk_size={chunk_size}) needs a u2pp_conformer encoder"
            )
        return pad_masks

    def forward(
        self,
        xs_pad: torch.Tensor,
        ilens: torch.Tensor,
        prev_states: torch.Tensor | None = None,
        masks: torch.Tensor | None = None,
        ctc: torch.nn.Module | None = None,
        return_all_hs: bool = False,
        chunk_size: Optional[int] = None,
        num_left_chunks: Optional[int] = None,
    ) -> Tuple[torch.Tensor | Tuple[torch.Tensor, list], torch.Tensor, None]:
        """Forward of a padded batch (see the class docstring); ``return_all_hs``: every
        block's output as ESPnet's (with no intermediate CTC). ``chunk_size`` and
        ``num_left_chunks``: the attention context of a U2++ encoder in evaluation (None:
        its configured one, ``decoding_chunk_size``; 0: full context)."""
        if masks is not None:
            raise ValueError(f"{type(self).__name__} takes input lengths (ilens), not masks")
        x, pos_emb = self.embed_with_positions(xs_pad)
        olens = self.subsampling.output_lengths(ilens.to(x.device))
        pad_masks = (torch.arange(x.size(1), device=x.device) < olens[:, None]).unsqueeze(1)
        attention_masks = self.attention_mask(pad_masks, chunk_size, num_left_chunks)
        dropped = [False] * len(self.encoders)
        if self.training and self.layer_drop_rate > 0:  # ESPnet's MultiSequential layer drop
            dropped = (torch.rand(len(self.encoders)) < self.layer_drop_rate).tolist()
        intermediate_outs: IntermediateOutputs = []
        all_hs = []
        for index, block in enumerate(self.encoders):
            if dropped[index]:
                continue
            x, _, _ = block(
                x, pos_emb, attention_masks, pad_mask=pad_masks, router=self.shared_router
            )
            if return_all_hs:
                all_hs.append(x)
            x = self._intermediate_ctc(index, x, ctc, intermediate_outs)
        if self.normalize_before:
            x = self.after_norm(x)
        if intermediate_outs:
            return (x, intermediate_outs), olens, None
        if return_all_hs:
            return (x, all_hs), olens, None
        return x, olens, None

    def _intermediate_ctc(
        self,
        block_index: int,
        x: torch.Tensor,
        ctc: Optional[torch.nn.Module],
        outputs: IntermediateOutputs,
    ) -> torch.Tensor:
        """After block ``block_index``: record its normalised output for intermediate CTC
        and, with ``interctc_use_conditioning``, add the CTC posteriors' projection
        (Self-conditioned CTC; ESPnet's ``ConformerEncoder``)."""
        if block_index + 1 not in self.interctc_layer_idx:
            return x
        out = self.after_norm(x) if self.normalize_before else x
        outputs.append((block_index + 1, out))
        if not self.interctc_use_conditioning:
            return x
        if ctc is None:
            raise ValueError(
                "encoder_conf.interctc_use_conditioning: the encoder needs the model's CTC "
                "(ESPnet's model passes ctc=)"
            )
        return x + self.conditioning_layer(ctc.softmax(out))
