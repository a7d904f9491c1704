"""U2++ Conformer encoder: causal convolution, dynamic chunk attention and chunk-by-chunk
streaming with caches, with dense or MoE feed-forward networks."""

from typing import Any, Dict, List, Optional, Tuple

import torch
from typeguard import typechecked

from espnet_omnirouter.asr.encoder.causal_convolution import CausalConvolutionModule
from espnet_omnirouter.asr.encoder.chunk_attention import ChunkRelPositionAttention
from espnet_omnirouter.asr.encoder.chunk_conformer_layer import ChunkConformerLayer
from espnet_omnirouter.asr.encoder.chunk_mask import chunk_attention_mask
from espnet_omnirouter.asr.encoder.moe_conformer_encoder import MoEConformerEncoder
from espnet_omnirouter.layers.moe.config import MoEConfigError
from espnet_omnirouter.legacy_nets import (
    Conv2dSubsampling,
    Conv2dSubsampling2,
    Conv2dSubsampling6,
    Conv2dSubsampling8,
    LegacyRelPositionalEncoding,
    TooShortUttError,
    check_short_utt,
    make_pad_mask,
)

# Subsampling layer -> (input frames per output frame, input frames of right context).
SUBSAMPLING_GEOMETRY = {
    Conv2dSubsampling: (4, 6),
    Conv2dSubsampling2: (2, 6),
    Conv2dSubsampling6: (6, 10),
    Conv2dSubsampling8: (8, 14),
}
# Per layer: attention inputs of the cached frames (#batch, cache_time, size) and the
# convolution cache (#batch, size, kernel_size - 1).
StreamingState = Tuple[List[torch.Tensor], List[Optional[torch.Tensor]]]


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
      trains one fixed size instead. In evaluation, ``decoding_chunk_size`` (> 0) and
      ``num_decoding_left_chunks`` set the mask (``set_decoding_chunk``), else full
      context (or the static size);
    - ``forward_chunk`` / ``forward_chunk_by_chunk``: streaming with explicit attention
      and convolution caches, whose output equals the chunk-masked ``forward``.

    Needs ESPnet's legacy relative positions (``rel_pos_type: legacy``, ESPnet's default,
    with ``pos_enc_layer_type: rel_pos`` and ``selfattention_layer_type: rel_selfattn``)
    and a conv2d subsampling ``input_layer`` (conv2d, conv2d2, conv2d6, conv2d8).

    Shapes are ESPnet's: ``forward(xs_pad (B, T, input_size), ilens (B,))`` returns
    ``(B, T', output_size)``, ``(B,)`` and None.
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
        **conformer_conf: Any,
    ):
        super().__init__(input_size, moe_conf, **conformer_conf)
        if type(self.embed) not in SUBSAMPLING_GEOMETRY:
            raise MoEConfigError(
                "u2pp_conformer streams through conv2d subsampling only: set encoder_conf."
                f"input_layer to conv2d, conv2d2, conv2d6 or conv2d8 (got {type(self.embed)})"
            )
        if not isinstance(self.embed[-1], LegacyRelPositionalEncoding):
            raise MoEConfigError(
                "u2pp_conformer needs ESPnet's legacy relative positions (one embedding per "
                "key, so cached keys keep theirs): set encoder_conf.rel_pos_type: legacy, "
                "pos_enc_layer_type: rel_pos, selfattention_layer_type: rel_selfattn"
            )
        if not 0.0 <= full_context_prob <= 1.0 or max_chunk_size < 1 or static_chunk_size < 0:
            raise MoEConfigError(
                "encoder_conf: full_context_prob must lie in [0, 1], max_chunk_size be >= 1 "
                "and static_chunk_size >= 0"
            )
        self.subsampling_rate, self.right_context = SUBSAMPLING_GEOMETRY[type(self.embed)]
        self.use_dynamic_chunk = use_dynamic_chunk
        self.full_context_prob = full_context_prob
        self.max_chunk_size = max_chunk_size
        self.use_dynamic_left_chunk = use_dynamic_left_chunk
        self.static_chunk_size = static_chunk_size
        self.set_decoding_chunk(decoding_chunk_size, num_decoding_left_chunks)
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
            attention = ChunkRelPositionAttention(
                attention.h, attention.linear_out.out_features, attention.dropout.p
            )
            blocks.append(ChunkConformerLayer.from_layer(block, attention, conv))
        self.encoders = torch.nn.ModuleList(blocks)

    def set_decoding_chunk(self, chunk_size: int, num_left_chunks: int = -1) -> None:
        """Attention context in evaluation: chunks of ``chunk_size`` frames (after
        subsampling) seeing ``num_left_chunks`` earlier chunks (-1: all); 0: full context."""
        if chunk_size < 0:
            raise ValueError(
                f"decoding chunk size must be >= 0 (0: full context), got {chunk_size}"
            )
        self.decoding_chunk_size = chunk_size
        self.num_decoding_left_chunks = num_left_chunks

    def chunk_config(self, num_frames: int) -> Tuple[int, int]:
        """(chunk size, left chunks) of the attention mask for ``num_frames`` frames."""
        if self.training and self.use_dynamic_chunk:
            if torch.rand(()).item() < self.full_context_prob:
                return num_frames, -1
            chunk_size = int(torch.randint(1, self.max_chunk_size + 1, ()).item())
            num_left = -1
            if self.use_dynamic_left_chunk:
                num_left = int(torch.randint(0, (num_frames - 1) // chunk_size + 1, ()).item())
            return chunk_size, num_left
        if self.training:
            return self.static_chunk_size or num_frames, -1
        chunk_size = self.decoding_chunk_size or self.static_chunk_size
        return (chunk_size, self.num_decoding_left_chunks) if chunk_size else (num_frames, -1)

    def forward(
        self,
        xs_pad: torch.Tensor,
        ilens: torch.Tensor,
        prev_states: torch.Tensor | None = None,
        masks: torch.Tensor | None = None,
        ctc: torch.nn.Module | None = None,
        return_all_hs: bool = False,
    ) -> Tuple[torch.Tensor, torch.Tensor, None]:
        """Chunk-masked forward of a padded batch (see the class docstring)."""
        for layer in self.moe_layers:
            layer.reset_routing()
        too_short, limit = check_short_utt(self.embed, xs_pad.size(1))
        if too_short:
            raise TooShortUttError(
                f"has {xs_pad.size(1)} frames and is too short for subsampling "
                f"(it needs more than {limit} frames)",
                xs_pad.size(1),
                limit,
            )
        pad_masks = ~make_pad_mask(ilens, maxlen=xs_pad.size(1))[:, None, :].to(xs_pad.device)
        (x, pos_emb), pad_masks = self.embed(xs_pad, pad_masks)
        chunk_size, num_left = self.chunk_config(x.size(1))
        attention_masks = pad_masks & chunk_attention_mask(
            x.size(1), chunk_size, num_left, x.device
        ).unsqueeze(0)
        for layer in self.moe_layers:
            layer.valid_frames = pad_masks[:, 0, :]
        for block in self.encoders:
            x, _, _ = block(x, pos_emb, attention_masks)
        if self.normalize_before:
            x = self.after_norm(x)
        return x, pad_masks.squeeze(1).sum(1), None

    def forward_chunk(
        self,
        xs: torch.Tensor,
        offset: int,
        required_cache_size: int,
        state: Optional[StreamingState] = None,
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

        Returns:
            (1, time', output_size) encoder output of the chunk, and the next state.
        """
        for layer in self.moe_layers:
            layer.reset_routing()
        (x, _), _ = self.embed(xs, None)
        att_caches, cnn_caches = state if state is not None else ([None] * len(self.encoders),) * 2
        cache_time = 0 if att_caches[0] is None else att_caches[0].size(1)
        positions = self.embed[-1]
        positions.extend_pe(x.new_zeros(1, offset + x.size(1)))
        pos_emb = positions.pe[:, offset - cache_time : offset + x.size(1)]
        mask = torch.ones(1, x.size(1), cache_time + x.size(1), dtype=torch.bool, device=x.device)
        new_att_caches, new_cnn_caches = [], []
        for block, att_cache, cnn_cache in zip(self.encoders, att_caches, cnn_caches):
            x, keys, cnn_cache = block(x, pos_emb, mask, att_cache, cnn_cache)
            if required_cache_size >= 0:
                keys = keys[:, max(keys.size(1) - required_cache_size, 0) :]
            new_att_caches.append(keys)
            new_cnn_caches.append(cnn_cache)
        if self.normalize_before:
            x = self.after_norm(x)
        return x, (new_att_caches, new_cnn_caches)

    def streaming_window(self, chunk_size: int) -> Tuple[int, int]:
        """(input frames per chunk, input frames between chunk starts)."""
        return (chunk_size - 1) * self.subsampling_rate + self.right_context + 1, (
            chunk_size * self.subsampling_rate
        )

    def forward_chunk_by_chunk(
        self, xs: torch.Tensor, chunk_size: int, num_left_chunks: int = -1
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
                xs[:, start : start + window], offset, required_cache_size, state
            )
            outputs.append(y)
            offset += y.size(1)
        return torch.cat(outputs, dim=1)
