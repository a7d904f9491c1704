"""Chunk attention masks."""

import torch

from espnet_omnirouter.asr.encoder.chunk_mask import chunk_attention_mask


def test_chunks_see_themselves_and_every_earlier_chunk():
    expected = torch.tensor(
        [
            [1, 1, 0, 0, 0],
            [1, 1, 0, 0, 0],
            [1, 1, 1, 1, 0],
            [1, 1, 1, 1, 0],
            [1, 1, 1, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(chunk_attention_mask(5, 2), expected)


def test_limited_left_chunks():
    mask = chunk_attention_mask(6, 2, num_left_chunks=1)
    assert mask[5].tolist() == [False, False, True, True, True, True]
    assert mask[1].tolist() == [True, True, False, False, False, False]
    assert chunk_attention_mask(6, 2, num_left_chunks=0)[3].tolist() == [0, 0, 1, 1, 0, 0]


def test_chunk_as_long_as_the_input_is_full_context():
    assert chunk_attention_mask(4, 4).all() and chunk_attention_mask(4, 9).all()
    assert torch.equal(chunk_attention_mask(4, 1), torch.ones(4, 4, dtype=torch.bool).tril())
