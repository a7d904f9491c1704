"""U2++ Conformer encoder: causal convolution, dynamic chunk attention and chunk-by-chunk
streaming with caches, with dense or MoE feed-forward networks."""

from typing import Any, Dict, List, Optional, Tuple

import torch
from typeguard import typechecked

from espnet_omnirouter.asr.encoder.chunk_attention import ChunkRelPositionAttention
from espnet_omnirouter.asr.encoder.chunk_mask import chunk_attention_mask
from espnet_omnirouter.asr.encoder.conformer_block import ConformerBlock
from espnet_omnirouter.asr.encoder.convolution import CausalConvolutionModule
from espnet_omnirouter.asr.encoder.moe_conformer_encoder import MoEConformerEncoder
from espnet_omnirouter.asr.encoder.positional_encoding import StatelessRelPositionalEncoding
from espnet_omnirouter.layers.moe.config import MoEConfigError

# Per layer: attention inputs of the cached frames (#batch, cache_time, size) and the
# convolution cache (#batch, size, kernel_size - 1).
StreamingState = Tuple[List[torch.Tensor], List[Optional[torch.Tensor]]]

# ConformerEncoder options the chunked, cached computation cannot honour, with the reason.
_UNSTREAMABLE_OPTIONS = {
    "positionwise_layer_type": (
        "linear",
        "conv1d FFNs look at neighbouring frames, past the chunk and without a cache",
    ),
    "ctc_trim": (False, "trimming frames by CTC posterior re-times the stream"),
}
_INPUT_LAYERS = ("conv2d", "conv2d1", "conv2d2", "conv2d6", "conv2d8", "linear")


def _refuse_unstreamable_options(conf: Dict[str, Any]) -> None:
    for option, (allowed, reason) in _UNSTREAMABLE_OPTIONS.items():
        if conf.get(option, allowed) != allowed:
            raise MoEConfigError(
                f"encoder_conf.{option}={conf[option]!r}: not supported by u2pp_conformer "
                f"({reason}); use {option}: {allowed!r}"
            )
    if conf.get("input_layer", "conv2d") not in _INPUT_LAYERS:
        raise MoEConfigError(
            f"encoder_conf.input_layer={conf['input_layer']!r}: u2pp_conformer streams "
            f"feature frames through one of {_INPUT_LAYERS}"
        )
    legacy = (
        conf.get("rel_pos_type", "legacy") == "legacy"
        and conf.get("pos_enc_layer_type", "rel_pos") in ("rel_pos", "legacy_rel_pos")
        and conf.get("selfattention_layer_type", "rel_selfattn")
        in ("rel_selfattn", "legacy_rel_selfattn")
    )
    if not legacy:
        raise MoEConfigError(
            "u2pp_conformer needs ESPnet's legacy relative positions (one embedding per "
            "key, so cached keys keep theirs): set encoder_conf.rel_pos_type: legacy, "
            "pos_enc_layer_type: rel_pos, selfattention_layer_type: rel_selfattn"
        )


class U2ppConformerEncoder(MoEConformerEncoder):
    """The Conformer of U2/U2++ (WeNet): one model for streaming and full-context decoding.

    ``MoEConformerEncoder`` (every ``ConformerEncoder`` option plus ``moe_conf``; for
    U2++ MoE use ``moe_conf: {type: u2pp}``) with:

    - causal depthwise convolution (``causal``), so no frame sees the future through it,
      and relative-position attention without ESPnet's legacy shift
      (``ChunkRelPositionAttention``, WeNet's), so cached keys keep their scores;
    - chunk attention: frames attend within their chunk and to earlier chunks (all of
      them, or ``num_left_chunks``). In training with ``use_dynamic_chunk`` the chunk
      size is drawn per batch: full context with probability ``full_context_prob``,
      else uniform in 1..``max_chunk_size`` frames (after subsampling), with a random
      number of left chunks if ``use_dynamic_left_chunk``; ``static_chunk_size`` > 0
      trains one fixed size instead. In evaluation, ``forward``'s ``chunk_size`` and
      ``num_left_chunks`` set the mask (by default ``decoding_chunk_size`` (> 0) and
      ``num_decoding_left_chunks``, else full context or the static size), as ESPnet's
      ``Speech2Text`` decodes;
    - ``forward_chunk`` / ``forward_chunk_by_chunk``: streaming with explicit attention
      and convolution caches, whose output equals the chunk-masked ``forward``.
      Positions are a function of the frame index (``StatelessRelPositionalEncoding``),
      so a stream of any length works and no output depends on earlier inputs.

    Needs ESPnet's legacy relative positions (``rel_pos_type: legacy``, ESPnet's default,
    with ``pos_enc_layer_type: rel_pos`` and ``selfattention_layer_type: rel_selfattn``),
    ``positionwise_layer_type: linear`` and no ``ctc_trim``; the input layer is one of
    ``conv2d``, ``conv2d1``, ``conv2d2``, ``conv2d6``, ``conv2d8``, ``linear`` (its
    geometry is read from its convolutions). Intermediate CTC (``interctc_layer_idx``,
    ``interctc_use_conditioning``), ``layer_drop_rate`` and ``stochastic_depth_rate``
    work as in ESPnet's ``ConformerEncoder``. With ``causal: false`` the convolution
    looks ``(cnn_module_kernel - 1) / 2`` frames ahead: chunk-masked decoding works,
    streaming (``forward_chunk``) is refused.

    Shapes are ESPnet's: ``forward(xs_pad (B, T, input_size), ilens (B,))`` returns
    ``(B, T', output_size)`` (with intermediate CTC, that and ``[(block, (B, T',
    output_size)), ...]``), ``(B,)`` and None.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        moe_conf: Dict[str, Any] | None = None,
        causal: bool = True,
        use_dynamic_chunk: bool = True,
        full_context_prob: float = 0.5,
        max_chunk_size: int = 25,
        use_dynamic_left_chunk: bool = False,
        static_chunk_size: int = 0,
        decoding_chunk_size: int = 0,
        num_decoding_left_chunks: int = -1,
        layer_drop_rate: float = 0.0,
        **conformer_conf: Any,
    ):
        _refuse_unstreamable_options(conformer_conf)
        if not 0.0 <= full_context_prob <= 1.0 or max_chunk_size < 1 or static_chunk_size < 0:
            raise MoEConfigError(
                "encoder_conf: full_context_prob must lie in [0, 1], max_chunk_size be >= 1 "
                "and static_chunk_size >= 0"
            )
        if not 0.0 <= layer_drop_rate < 1.0:
            raise MoEConfigError(f"encoder_conf.layer_drop_rate={layer_drop_rate}: in [0, 1)")
        super().__init__(input_size, moe_conf, layer_drop_rate=layer_drop_rate, **conformer_conf)
        self.positions = next(
            m for m in self.embed.modules() if isinstance(m, StatelessRelPositionalEncoding)
        )
        self.causal = causal
        self.use_dynamic_chunk = use_dynamic_chunk
        self.full_context_prob = full_context_prob
        self.max_chunk_size = max_chunk_size
        self.use_dynamic_left_chunk = use_dynamic_left_chunk
        self.static_chunk_size = static_chunk_size
        if decoding_chunk_size < 0:
            raise MoEConfigError(
                f"encoder_conf.decoding_chunk_size={decoding_chunk_size}: >= 0 (0: full context)"
            )
        self.decoding_chunk_size = decoding_chunk_size
        self.num_decoding_left_chunks = num_decoding_left_chunks
        blocks = []
        for block in self.encoders:
            conv = block.conv_module
            if causal and conv is not None:
                conv = CausalConvolutionModule(
                    conv.depthwise_conv.in_channels,
                    conv.depthwise_conv.kernel_size[0],
                    conv.activation,
                    conv.depthwise_conv.bias is not None,
                )
            attention = block.self_attn
            chunk_attention = ChunkRelPositionAttention(
                attention.h, attention.linear_out.out_features, attention.dropout.p
            )
            if hasattr(attention, "use_sdpa"):  # ESPnet 202609+: use_sdpa
                chunk_attention.use_sdpa = attention.use_sdpa
            blocks.append(ConformerBlock.from_layer(block, chunk_attention, conv))
        self.encoders = torch.nn.ModuleList(blocks)

    @property
    def streamable(self) -> bool:
        """Whether ``forward_chunk`` reproduces the chunk-masked forward (no convolution
        looks ahead)."""
        return self.causal or all(block.conv_module is None for block in self.encoders)

    def chunk_config(
        self,
        num_frames: int,
        chunk_size: Optional[int] = None,
        num_left: Optional[int] = None,
        device: Optional[torch.device] = None,
    ) -> Tuple[int | torch.Tensor, int | torch.Tensor]:
        """(chunk size, left chunks) of the attention mask for ``num_frames`` frames:
        drawn in training (dynamic chunks: 0-dim tensors on ``device``, never read on the
        host); in evaluation ``chunk_size`` / ``num_left`` (None: ``decoding_chunk_size`` /
        ``num_decoding_left_chunks``; 0: full context)."""
        if self.training and self.use_dynamic_chunk:
            return self._draw_dynamic_chunk(num_frames, device)
        if self.training:
            return self.static_chunk_size or num_frames, -1
        if chunk_size is None:
            chunk_size = self.decoding_chunk_size or self.static_chunk_size
        if chunk_size < 0:
            raise ValueError(
                f"decoding chunk size must be >= 0 (0: full context), got {chunk_size}"
            )
        if num_left is None:
            num_left = self.num_decoding_left_chunks
        return (chunk_size, num_left) if chunk_size else (num_frames, -1)

    def _draw_dynamic_chunk(
        self, num_frames: int, device: Optional[torch.device]
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """U2++'s dynamic chunk draw as 0-dim tensors: full context with probability
        ``full_context_prob``, else a chunk size uniform in 1..``max_chunk_size`` and,
        with ``use_dynamic_left_chunk``, left chunks uniform in 0..(all earlier chunks)."""
        full = torch.rand((), device=device) < self.full_context_prob
        drawn = torch.randint(1, self.max_chunk_size + 1, (), device=device)
        chunk = torch.where(full, num_frames, drawn)
        left = torch.full((), -1, device=device)
        if self.use_dynamic_left_chunk:
            earlier = (num_frames - 1) // chunk + 1
            left = torch.where(full, -1, (torch.rand((), device=device) * earlier).long())
        return chunk, left

    def attention_mask(
        self, pad_masks: torch.Tensor, chunk_size: Optional[int], num_left_chunks: Optional[int]
    ) -> torch.Tensor:
        """(#batch, T', T'): every real frame of its own and the visible earlier chunks
        (``chunk_config``)."""
        num_frames = pad_masks.size(-1)
        chunk_size, num_left = self.chunk_config(
            num_frames, chunk_size, num_left_chunks, pad_masks.device
        )
        return pad_masks & chunk_attention_mask(
            num_frames, chunk_size, num_left, pad_masks.device
        ).unsqueeze(0)

    def forward_chunk(
        self,
        xs: torch.Tensor,
        offset: int,
        required_cache_size: int,
        state: Optional[StreamingState] = None,
        ctc: Optional[torch.nn.Module] = None,
    ) -> Tuple[torch.Tensor, StreamingState]:
        """Encode the next chunk of one stream.

        Args:
            xs: (1, time, input_size) features of the chunk, including the subsampling's
                right context (``(chunk_size - 1) * subsampling_rate + right_context + 1``
                frames for a full chunk).
            offset: encoder frames already output for this stream.
            required_cache_size: encoder frames to keep for the next chunk's attention
                (``chunk_size * num_left_chunks``), or -1 for all.
            state: the state this method returned for the previous chunk (None: first).
            ctc: the model's CTC, needed with ``interctc_use_conditioning``.

        Returns:
            (1, time', output_size) encoder output of the chunk, and the next state.
        """
        if not self.streamable:
            raise ValueError(
                "encoder_conf.causal: false: the convolution looks ahead of the chunk, so "
                "chunk-by-chunk streaming cannot reproduce the encoder; train with causal: "
                "true to stream (chunk-masked decoding works)"
            )
        x, _ = self.embed_with_positions(xs)
        att_caches, cnn_caches = state if state is not None else ([None] * len(self.encoders),) * 2
        cache_time = 0 if att_caches[0] is None else att_caches[0].size(1)
        pos_emb = self.positions.position_encoding(offset - cache_time, cache_time + x.size(1), x)
        mask = torch.ones(1, x.size(1), cache_time + x.size(1), dtype=torch.bool, device=x.device)
        new_att_caches, new_cnn_caches = [], []
        for index, (block, att_cache, cnn_cache) in enumerate(
            zip(self.encoders, att_caches, cnn_caches)
        ):
            x, keys, cnn_cache = block(
                x, pos_emb, mask, att_cache, cnn_cache, router=self.shared_router
            )
            if required_cache_size >= 0:
                keys = keys[:, max(keys.size(1) - required_cache_size, 0) :]
            new_att_caches.append(keys)
            new_cnn_caches.append(cnn_cache)
            x = self._intermediate_ctc(index, x, ctc, [])
        if self.normalize_before:
            x = self.after_norm(x)
        return x, (new_att_caches, new_cnn_caches)

    def streaming_window(self, chunk_size: int) -> Tuple[int, int]:
        """(input frames per chunk, input frames between chunk starts)."""
        return (chunk_size - 1) * self.subsampling_rate + self.right_context + 1, (
            chunk_size * self.subsampling_rate
        )

    def forward_chunk_by_chunk(
        self,
        xs: torch.Tensor,
        chunk_size: int,
        num_left_chunks: int = -1,
        ctc: Optional[torch.nn.Module] = None,
    ) -> torch.Tensor:
        """Stream the features (1, T, input_size) of one utterance through
        ``forward_chunk``; (1, T', output_size), equal to the chunk-masked ``forward``."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        window, stride = self.streaming_window(chunk_size)
        required_cache_size = chunk_size * num_left_chunks if num_left_chunks >= 0 else -1
        outputs, state, offset = [], None, 0
        for start in range(0, xs.size(1) - self.right_context, stride):
            y, state = self.forward_chunk(
                xs[:, start : start + window], offset, required_cache_size, state, ctc
            )
            outputs.append(y)
            offset += y.size(1)
        return torch.cat(outputs, dim=1)
