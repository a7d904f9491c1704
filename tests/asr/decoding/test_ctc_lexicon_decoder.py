"""CTC lexicon decoding: spellings outside the lexicon are corrected, the LM picks words."""

from pathlib import Path
from typing import List

import pytest
import torch

from espnet_omnirouter.asr.decoding.ctc_lexicon_decoder import CTCLexiconDecoder
from espnet_omnirouter.lm.lexicon import write_lexicon
from espnet_omnirouter.lm.ngram import KneserNeyLM

TOKENS = ["<blank>", "<unk>", "▁c", "▁d", "a", "o", "t", "g", "s", "<sos/eos>"]


def emissions(frames: List[dict]) -> torch.Tensor:
    """Log-probabilities (1, T, V) from per-frame {token: probability} (rest: blank)."""
    probs = torch.full((len(frames), len(TOKENS)), 1e-4)
    for t, frame in enumerate(frames):
        for token, p in frame.items():
            probs[t, TOKENS.index(token)] = p
        probs[t, 0] = max(1.0 - sum(frame.values()), 1e-4)
    return (probs / probs.sum(-1, keepdim=True)).log()[None]


def make_lm_dir(tmp_path: Path, sentences: List[str]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    spellings = {"cat": ["▁c", "a", "t"], "cot": ["▁c", "o", "t"], "dog": ["▁d", "o", "g"]}
    spellings["dogs"] = spellings["dog"] + ["s"]
    write_lexicon([[word, *pieces] for word, pieces in spellings.items()], tmp_path / "lexicon.txt")
    KneserNeyLM([s.split() for s in sentences], order=2).write_arpa(tmp_path / "lm.arpa")
    return tmp_path


def spell(pieces: List[str], confidence: float = 0.9) -> List[dict]:
    return [frame for piece in pieces for frame in ({piece: confidence}, {})]


def test_a_spelling_outside_the_lexicon_becomes_the_nearest_word(tmp_path):
    lm_dir = make_lm_dir(tmp_path, ["cat dog", "dog cat", "cot"])
    decoder = CTCLexiconDecoder(TOKENS, lm_dir, lm_weight=0.5)
    # Frames spell "▁c g t" (not a word); the 'g' is uncertain between g and a.
    frames = spell(["▁c"]) + [{"g": 0.5, "a": 0.4}, {}] + spell(["t", "▁d", "o", "g"])
    log_probs = emissions(frames)
    assert decoder(log_probs, torch.tensor([len(frames)])) == ["cat dog"]


def test_the_language_model_chooses_between_acoustically_equal_words(tmp_path):
    frames = spell(["▁d", "o", "g", "▁c"]) + [{"a": 0.45, "o": 0.45}, {}] + spell(["t"])
    log_probs, lengths = emissions(frames), torch.tensor([len(frames)])
    after_dog = {
        "cat": ["dog cat"] * 5 + ["cot"],
        "cot": ["dog cot"] * 5 + ["cat"],
    }
    for expected, sentences in after_dog.items():
        decoder = CTCLexiconDecoder(TOKENS, make_lm_dir(tmp_path / expected, sentences))
        assert decoder(log_probs, lengths) == [f"dog {expected}"]


def test_batch_with_padding_decodes_each_utterance_to_its_length(tmp_path):
    decoder = CTCLexiconDecoder(TOKENS, make_lm_dir(tmp_path, ["cat", "dog", "dogs"]))
    short, long = spell(["▁d", "o", "g"]), spell(["▁d", "o", "g", "s"])
    batch = torch.cat([emissions(short + [{"s": 0.9}, {}]), emissions(long)])
    assert decoder(batch, torch.tensor([len(short), len(long)])) == ["dog", "dogs"]


def test_missing_lm_files_name_the_file_and_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="lexicon.txt.*make_lexicon_lm"):
        CTCLexiconDecoder(TOKENS, tmp_path)
