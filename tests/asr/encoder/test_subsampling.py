"""Input-layer geometry read from the convolutions: rate, right context, output lengths."""

import pytest
import torch

from espnet_omnirouter.asr.encoder.subsampling import subsampling_geometry
from espnet_omnirouter.utils.legacy_nets import (
    Conv2dSubsampling,
    Conv2dSubsampling2,
    Conv2dSubsampling6,
    Conv2dSubsampling8,
)


@pytest.mark.parametrize(
    "layer_class, rate, right_context",
    [(Conv2dSubsampling, 4, 6), (Conv2dSubsampling2, 2, 6), (Conv2dSubsampling6, 6, 10),
     (Conv2dSubsampling8, 8, 14)],
)  # fmt: skip
def test_geometry_matches_what_the_layer_outputs(layer_class, rate, right_context):
    layer = layer_class(20, 8, 0.0).eval()
    geometry = subsampling_geometry(layer)
    assert (geometry.rate, geometry.right_context) == (rate, right_context)
    lengths = torch.arange(right_context + 1, right_context + 40)
    for length in lengths.tolist():
        out, _ = layer(torch.randn(1, length, 20), None)
        out = out[0] if isinstance(out, tuple) else out
        assert out.size(1) == int(geometry.output_lengths(torch.tensor(length)))
        assert out.size(1) == (length - right_context - 1) // rate + 1
    assert int(geometry.output_lengths(torch.tensor(right_context))) == 0


def test_a_frame_wise_input_layer_keeps_every_frame():
    geometry = subsampling_geometry(torch.nn.Sequential(torch.nn.Linear(20, 8)))
    assert (geometry.rate, geometry.right_context) == (1, 0)
    assert torch.equal(geometry.output_lengths(torch.tensor([3, 9])), torch.tensor([3, 9]))
