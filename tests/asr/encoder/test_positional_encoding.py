"""Stateless legacy relative positions: ESPnet's table values, for any frame, whatever came
before."""

import torch

from espnet_omnirouter.asr.encoder.positional_encoding import (
    StatelessRelPositionalEncoding,
    make_positions_stateless,
)
from espnet_omnirouter.utils.legacy_nets import Conv2dSubsampling, LegacyRelPositionalEncoding


def test_equals_espnets_table_inside_it_and_extends_the_formula_beyond():
    espnet = LegacyRelPositionalEncoding(16, 0.0, max_len=50).eval()
    ours = StatelessRelPositionalEncoding.from_legacy(espnet).eval()
    x = torch.randn(2, 50, 16)
    (espnet_x, espnet_pos), (our_x, our_pos) = espnet(x), ours(x)
    torch.testing.assert_close(our_x, espnet_x, rtol=0, atol=0)
    torch.testing.assert_close(our_pos, espnet_pos, rtol=0, atol=1e-6)
    # Beyond the table: the sinusoid of position max_len - 1 - j, for negative values too.
    far = ours.position_encoding(70, 3, x)
    position = torch.tensor([49.0 - 70, 49.0 - 71, 49.0 - 72]).unsqueeze(1)
    expected = torch.zeros(3, 16)
    expected[:, 0::2] = torch.sin(position * ours.frequencies)
    expected[:, 1::2] = torch.cos(position * ours.frequencies)
    torch.testing.assert_close(far[0], expected, rtol=0, atol=1e-6)


def test_a_long_input_changes_nothing_for_later_ones_unlike_espnets_table():
    espnet = LegacyRelPositionalEncoding(8, 0.0, max_len=20).eval()
    ours = StatelessRelPositionalEncoding.from_legacy(espnet).eval()
    x = torch.randn(1, 10, 8)
    before_espnet, before_ours = espnet(x)[1], ours(x)[1]
    espnet(torch.randn(1, 30, 8)), ours(torch.randn(1, 30, 8))  # longer than the table
    assert not torch.allclose(espnet(x)[1], before_espnet)  # ESPnet's rebuilt table moved
    assert torch.equal(ours(x)[1], before_ours)
    # A chunk's embeddings are the full sequence's at the same frames.
    torch.testing.assert_close(
        ours.position_encoding(25, 5, x), ours(torch.randn(1, 30, 8))[1][:, 25:]
    )
    assert not hasattr(ours, "pe")  # no table that grows


def test_replaces_the_encoding_wherever_the_input_layer_keeps_it():
    layer = Conv2dSubsampling(20, 16, 0.0, LegacyRelPositionalEncoding(16, 0.0, 100))
    stateless = make_positions_stateless(layer)
    assert isinstance(stateless, StatelessRelPositionalEncoding) and stateless.max_len == 100
    assert [m for m in layer.modules() if isinstance(m, LegacyRelPositionalEncoding)] == []
    assert stateless in list(layer.modules())
    assert layer.state_dict().keys() == Conv2dSubsampling(20, 16, 0.0).state_dict().keys()
    (x, pos_emb), _ = layer(torch.randn(1, 31, 20), None)
    assert x.shape == (1, 7, 16) and pos_emb.shape == (1, 7, 16)
    assert make_positions_stateless(torch.nn.Sequential(torch.nn.Linear(2, 2))) is None
