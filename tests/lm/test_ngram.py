"""Kneser-Ney n-gram estimation: hand-computed probabilities, normalisation, ARPA file."""

import math

import pytest
from flashlight.lib.text.decoder.kenlm import KenLM
from flashlight.lib.text.dictionary import Dictionary

from espnet_omnirouter.lm.ngram import BOS, KneserNeyLM

SENTENCES = [["a", "b"], ["a", "c"]]


def test_bigram_probabilities_match_hand_computation():
    lm = KneserNeyLM(SENTENCES, order=2)
    # Unigrams from continuation counts a:1 b:1 c:1 </s>:2 (total 5), D1 = 3/(3+2*1) = 0.6;
    # the 2.4/5 left over is spread over 5 words (a b c </s> <unk>): 0.096 each.
    assert lm.prob(("b",)) == pytest.approx(0.4 / 5 + 0.096)
    assert lm.prob(("</s>",)) == pytest.approx(1.4 / 5 + 0.096)
    assert lm.prob(("<unk>",)) == pytest.approx(0.096)
    # Bigrams: four seen once, (<s> a) twice: D2 = 4/(4+2) = 2/3; context "a" has 2 types in
    # 2 tokens, so its back-off weight is 2/3 and P(b|a) = (1 - 2/3)/2 + 2/3 P(b).
    assert lm.backoffs[("a",)] == pytest.approx(2 / 3)
    assert lm.prob(("a", "b")) == pytest.approx(1 / 6 + 2 / 3 * 0.176)
    # An unseen bigram backs off: P(a|a) = bow(a) P(a).
    assert lm.prob(("a", "a")) == pytest.approx(2 / 3 * 0.176)


@pytest.mark.parametrize("context", [(BOS,), ("the",), ("the", "cat"), ("unseen", "words")])
def test_every_context_is_a_distribution(context):
    sentences = [s.split() for s in ["the cat sat", "the cat ran away", "a dog sat", "the dog"]]
    lm = KneserNeyLM(sentences, order=3)
    vocabulary = [ngram[0] for ngram in lm.probs if len(ngram) == 1]
    total = sum(lm.prob(context[-2:] + (word,)) for word in vocabulary)
    assert total == pytest.approx(1.0)


def test_perplexity_is_lower_on_training_text_than_on_shuffled_text():
    sentences = [s.split() for s in ["the cat sat on the mat", "the dog sat on the rug"] * 5]
    lm = KneserNeyLM(sentences, order=3)
    assert lm.perplexity(sentences) < lm.perplexity([list(reversed(s)) for s in sentences])


def test_arpa_file_matches_the_model_when_read_by_kenlm(tmp_path):
    sentences = [s.split() for s in ["the cat sat", "the cat ran away", "a dog sat", "the dog"]]
    lm = KneserNeyLM(sentences, order=3)
    path = tmp_path / "lm.arpa"
    lm.write_arpa(path)
    words = ["<unk>", "the", "cat", "sat", "ran", "away", "a", "dog"]
    word_dict = Dictionary()
    for word in words:
        word_dict.add_entry(word)
    kenlm = KenLM(str(path), word_dict)
    state = kenlm.start(False)
    history = [BOS]
    for word in ["the", "dog", "sat"]:  # "dog sat" is unseen: KenLM backs off as we do
        state, score = kenlm.score(state, word_dict.get_index(word))
        expected = math.log10(lm.prob(tuple(history[-2:]) + (word,)))
        assert score == pytest.approx(expected, abs=1e-4), word
        history.append(word)


def test_rejects_empty_text_and_bad_order():
    with pytest.raises(ValueError, match="order"):
        KneserNeyLM(SENTENCES, order=0)
    with pytest.raises(ValueError, match="no sentences"):
        KneserNeyLM([], order=2)
