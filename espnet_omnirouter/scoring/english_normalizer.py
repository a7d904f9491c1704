"""The text normaliser of the out-of-domain benchmarks: Whisper's English normaliser.

Cross-corpus English WERs (Whisper's paper, the ESB benchmark, the Open ASR leaderboard)
normalise references and hypotheses with ``EnglishTextNormalizer`` (package
``whisper-normalizer``), so our numbers follow the same rules. Applied identically to both
sides, it:
    - lower-cases and removes punctuation and symbols;
    - removes text in brackets and parentheses (``[laughter]``, ``<unk>``, ``(%HESITATION)``)
      and the hesitations hmm, mm, mhm, mmm, uh, um;
    - spells numbers, currencies and ordinals as digits ("twenty one" -> "21",
      "two pounds" -> "£2");
    - standardises contractions and titles ("won't" -> "will not", "mr." -> "mister"; "'s"
      becomes "is", possessives too) and British to American spelling ("colour" -> "color").
Before it, LDC's curly-brace annotations (``{breath}``, WSJ/Switchboard) are removed too.
"""

import functools
import re

from whisper_normalizer.english import EnglishTextNormalizer


@functools.lru_cache(maxsize=1)
def _normalizer() -> EnglishTextNormalizer:
    return EnglishTextNormalizer()


def normalize_english(text: str) -> str:
    """``text`` as the benchmarks score it (see the module docstring)."""
    return " ".join(_normalizer()(re.sub(r"\{[^}]*\}", " ", text)).split())
