import numpy as np
import pytest

from espnet_omnirouter.scoring.wer import normalize_text, read_kaldi_text, score


def test_normalizer_applies_to_both_sides():
    assert normalize_text("Don't  STOP-me, now!") == "don't stop me now"
    assert normalize_text("'quoted' words'") == "quoted words"


def test_hand_computed_word_errors():
    references = {"u1": "the cat sat on the mat", "u2": "a b c", "u3": "hello world"}
    hypotheses = {
        "u1": "the cat sat on mat",  # 1 deletion
        "u2": "a x c d",  # 1 substitution + 1 insertion
        # u3 missing: counts as an empty hypothesis, 2 deletions
    }
    result = score(references, hypotheses)
    assert result.utt_ids == ["u1", "u2", "u3"]
    np.testing.assert_array_equal(result.errors, [1, 2, 2])
    np.testing.assert_array_equal(result.ref_words, [6, 3, 2])
    assert result.wer == pytest.approx(100 * 5 / 11)


def test_casing_and_punctuation_are_not_errors():
    assert score({"u": "Hello, World."}, {"u": "hello world"}).wer == 0.0


def test_read_kaldi_text_keeps_empty_hypotheses(tmp_path):
    path = tmp_path / "text"
    path.write_text("u1 hello there\nu2\nu3 x\n")
    assert read_kaldi_text(path) == {"u1": "hello there", "u2": "", "u3": "x"}
