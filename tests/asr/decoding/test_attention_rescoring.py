import pytest
import torch
from conftest import TINY_DECODER

from espnet_omnirouter.asr.decoder.bi_transformer_decoder import BiTransformerDecoder
from espnet_omnirouter.asr.decoder.moe_transformer_decoder import MoETransformerDecoder
from espnet_omnirouter.asr.decoding.eager_model import teacher_forced_log_probs
from espnet_omnirouter.runtime.rescoring import attention_rescoring

VOCAB, DIM = 7, 16
SOS = EOS = VOCAB - 1
MOE = {"type": "u2pp", "num_experts": 2}
NBEST = [([1, 2, 3], -1.0), ([2], -3.0), ([], -4.0), ([3, 3, 1, 2, 5], -2.5), ([4, 1], -1.2)]


class Decoders:
    """The decoders of a model, as the rescoring sees them (``RecognitionModel``)."""

    has_decoder, sos, eos = True, SOS, EOS

    def __init__(self, decoder: torch.nn.Module):
        self.decoder = decoder

    def decoder_log_probs(self, encoder_out, ys_in, ys_in_lens, r_ys_in):
        return teacher_forced_log_probs(self.decoder, encoder_out, ys_in, ys_in_lens, r_ys_in)


def encoder_out() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(8, DIM)


def sequence_log_prob(decoder, tokens, memory) -> float:
    """log P(tokens, <eos>) accumulated token by token with ESPnet's scorer interface."""
    ys, state, total = [SOS], None, 0.0
    for token in [*tokens, EOS]:
        log_probs, state = decoder.score(torch.tensor(ys), state, memory)
        total += float(log_probs[token])
        ys.append(token)
    return total


@pytest.mark.parametrize("ctc_weight, reverse_weight", [(0.5, 0.3), (0.0, 1.0), (0.3, 0.0)])
def test_best_hypothesis_has_the_best_combined_score(ctc_weight, reverse_weight):
    torch.manual_seed(0)
    decoder = BiTransformerDecoder(VOCAB, DIM, moe_conf=MOE, **TINY_DECODER).eval()
    memory = encoder_out()
    with torch.no_grad():
        expected = [
            (1 - reverse_weight) * sequence_log_prob(decoder, tokens, memory)
            + reverse_weight * sequence_log_prob(decoder.right_decoder, tokens[::-1], memory)
            + ctc_weight * ctc_score
            for tokens, ctc_score in NBEST
        ]
    best, scores = attention_rescoring(
        Decoders(decoder), memory[None].numpy(), NBEST, ctc_weight, reverse_weight
    )
    assert scores == pytest.approx(expected, abs=1e-4)
    assert best == NBEST[max(range(len(NBEST)), key=expected.__getitem__)][0]


def test_ctc_score_decides_when_heavily_weighted():
    torch.manual_seed(0)
    decoder = BiTransformerDecoder(VOCAB, DIM, moe_conf=MOE, **TINY_DECODER).eval()
    best, _ = attention_rescoring(Decoders(decoder), encoder_out()[None].numpy(), NBEST, 1e4, 0.3)
    assert best == [1, 2, 3]


def test_left_to_right_decoder_alone():
    torch.manual_seed(0)
    decoder = MoETransformerDecoder(VOCAB, DIM, moe_conf=MOE, **TINY_DECODER).eval()
    memory = encoder_out()
    _, scores = attention_rescoring(Decoders(decoder), memory[None].numpy(), NBEST, 0.5, 0.0)
    with torch.no_grad():
        expected = [sequence_log_prob(decoder, t, memory) + 0.5 * c for t, c in NBEST]
    assert scores == pytest.approx(expected, abs=1e-4)
    with pytest.raises(ValueError, match="right-to-left score needs a BiTransformerDecoder"):
        attention_rescoring(Decoders(decoder), memory[None].numpy(), NBEST, 0.5, 0.3)
