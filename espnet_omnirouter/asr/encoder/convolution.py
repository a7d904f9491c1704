"""The Conformer convolution modules of the project's blocks: causal with a streaming
cache (U2++), and non-causal with padding kept out of the valid frames."""

from typing import Optional, Tuple

import torch

from espnet_omnirouter.utils.legacy_nets import ConvolutionModule


class CausalConvolutionModule(ConvolutionModule):
    """ESPnet's Conformer ``ConvolutionModule`` whose depthwise convolution only looks
    back: the input is padded with ``kernel_size - 1`` frames on the left (zeros, or the
    cache of the previous chunk's last frames when streaming) and none on the right.

    Same parameters (and state dict keys) as ``ConvolutionModule``.
    """

    def __init__(self, channels: int, kernel_size: int, activation: torch.nn.Module, bias: bool):
        super().__init__(channels, kernel_size, activation, bias)
        self.depthwise_conv.padding = (0,)
        self.lorder = kernel_size - 1

    def forward(
        self, x: torch.Tensor, cache: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(#batch, time, channels) and the cache (#batch, channels, kernel_size - 1) of
        the previous chunk (None: zeros) -> output (#batch, time, channels) and the cache
        for the next chunk."""
        x = torch.nn.functional.glu(self.pointwise_conv1(x.transpose(1, 2)), dim=1)
        if cache is None:
            cache = x.new_zeros(x.size(0), x.size(1), self.lorder)
        x = torch.cat([cache, x], dim=2)
        new_cache = x[:, :, x.size(2) - self.lorder :]
        x = self.activation(self.norm(self.depthwise_conv(x)))
        return self.pointwise_conv2(x).transpose(1, 2), new_cache


class PaddingMaskedConvolutionModule(ConvolutionModule):
    """ESPnet's Conformer ``ConvolutionModule`` whose depthwise convolution reads zeros,
    not padding frames, past an utterance's end (WeNet's ``mask_pad``): an utterance's
    output is then the same alone and in a padded batch. ESPnet 202511's module takes no
    mask, so padding frames leak into the last ``(kernel_size - 1) / 2`` valid frames.

    Same parameters (and state dict keys) as ``ConvolutionModule``.
    """

    def forward(self, x: torch.Tensor, pad_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(#batch, time, channels) and (#batch, 1, time) True on real frames (None: no
        padding) -> (#batch, time, channels)."""
        x = torch.nn.functional.glu(self.pointwise_conv1(x.transpose(1, 2)), dim=1)
        if pad_mask is not None:
            x = x.masked_fill(~pad_mask, 0.0)
        x = self.activation(self.norm(self.depthwise_conv(x)))
        return self.pointwise_conv2(x).transpose(1, 2)
