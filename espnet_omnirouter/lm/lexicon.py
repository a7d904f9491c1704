"""Pronunciation lexicon for CTC lexicon decoding: each word spelt in the model's tokens."""

import logging
from pathlib import Path
from typing import Iterable, List, Sequence

import sentencepiece

from espnet_omnirouter.utils.files import write_text_atomically

logger = logging.getLogger(__name__)


def spell_words(words: Iterable[str], bpemodel: Path, token_list: Sequence[str]) -> List[List[str]]:
    """``[word, token, token, ...]`` per word, spelt by the sentencepiece model.

    Words whose spelling needs a token outside ``token_list`` (characters the tokenizer
    never saw) cannot be produced by the model and are left out, with a warning.
    """
    processor = sentencepiece.SentencePieceProcessor(model_file=str(bpemodel))
    known = set(token_list)
    entries, skipped = [], []
    for word in sorted(set(words)):
        pieces = processor.encode(word, out_type=str)
        if pieces and all(piece in known for piece in pieces):
            entries.append([word, *pieces])
        else:
            skipped.append(word)
    if skipped:
        logger.warning(
            "%d words need tokens outside the token list and are left out of the lexicon: %s",
            len(skipped),
            " ".join(skipped[:10]),
        )
    return entries


def write_lexicon(entries: List[List[str]], path: Path) -> None:
    """Write ``word<TAB>token token ...`` lines (flashlight-text's lexicon format)."""
    write_text_atomically(path, "".join(f"{word}\t{' '.join(p)}\n" for word, *p in entries))
