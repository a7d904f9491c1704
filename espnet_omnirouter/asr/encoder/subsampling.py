"""The time geometry of an ESPnet input layer, read from its convolutions."""

from dataclasses import dataclass
from typing import Tuple

import torch


@dataclass(frozen=True)
class SubsamplingGeometry:
    """How an input layer maps input frames to output frames along time.

    Attributes:
        convolutions: (kernel size, stride) of each convolution along time, in order;
            empty for a frame-wise input layer (``linear``).
    """

    convolutions: Tuple[Tuple[int, int], ...]

    @property
    def rate(self) -> int:
        """Input frames per output frame."""
        rate = 1
        for _, stride in self.convolutions:
            rate *= stride
        return rate

    @property
    def right_context(self) -> int:
        """Input frames after the first one that output frame 0 reads: output frame ``t``
        reads input frames ``t * rate .. t * rate + right_context``."""
        context, step = 0, 1
        for kernel, stride in self.convolutions:
            context += (kernel - 1) * step
            step *= stride
        return context

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Output frames of inputs of ``lengths`` frames (each on its own, not padded)."""
        for kernel, stride in self.convolutions:
            lengths = ((lengths - kernel) // stride + 1).clamp(min=0)
        return lengths


def subsampling_geometry(embed: torch.nn.Module) -> SubsamplingGeometry:
    """The geometry of ESPnet's input layer ``embed`` (``conv2d``, ``conv2d1``, ``conv2d2``,
    ``conv2d6``, ``conv2d8``, ``linear``, ...): its convolutions in the order they run,
    time being the first spatial axis of ESPnet's subsampling convolutions."""
    convolutions = []
    for module in embed.modules():
        if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d)):
            if module.padding[0] != 0 or module.dilation[0] != 1:
                raise ValueError(
                    f"input layer {type(embed).__name__}: a convolution with padding or "
                    "dilation along time has no fixed streaming geometry"
                )
            convolutions.append((module.kernel_size[0], module.stride[0]))
    return SubsamplingGeometry(tuple(convolutions))
