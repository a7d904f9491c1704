from espnet_omnirouter.scoring.english_normalizer import normalize_english
from espnet_omnirouter.scoring.wer import score


def test_benchmark_conventions_are_normalised_away():
    # "'s" becomes "is" even as a possessive: Whisper's rule, applied to both sides.
    cases = {
        "Uh, I {breath} won't pay twenty-one dollars [laughter] <unk>!": "i will not pay $21",
        "The COLOUR of Mr. Smith's car (%HESITATION)": "the color of mister smith is car",
        "um hmm": "",
    }
    for text, expected in cases.items():
        assert normalize_english(text) == expected, text


def test_scoring_with_it_ignores_spelling_conventions():
    references = {"u1": "It's twenty-one, mister Jones.", "u2": "the colour red"}
    hypotheses = {"u1": "it is 21 mr jones", "u2": "the color read"}
    errors = score(references, hypotheses, normalize_english)
    assert errors.errors.tolist() == [0.0, 1.0]
