"""CTC beam search restricted to a lexicon and scored with a word n-gram LM.

The search is flashlight-text's lexicon decoder (C++, through torchaudio's
``ctc_decoder``) with the KenLM model written by ``bin/make_lexicon_lm``: hypotheses
only spell words of the lexicon, and each finished word adds ``lm_weight`` times its LM
log-probability plus ``word_score``. The model's blank doubles as the word boundary,
since sentencepiece tokens carry the word boundary themselves (``▁the``).
"""

import logging
from pathlib import Path
from typing import List, Sequence

import torch

from espnet_omnirouter.utils.console import native_output_logged
from espnet_omnirouter.utils.extras import import_optional
from espnet_omnirouter.utils.model_files import LEXICON_FILE, LM_FILE

logger = logging.getLogger(__name__)


class CTCLexiconDecoder:
    """Decode CTC log-probabilities (B, T, V) with lengths (B,) into word strings.

    Args:
        token_list: the model's tokens, index = CTC output index.
        lm_dir: directory with ``lexicon.txt`` and ``lm.arpa`` (``bin/make_lexicon_lm``).
        beam_size: hypotheses kept per frame.
        lm_weight: weight of the LM log-probability (natural log scale of the search).
        word_score: score added per word (positive: longer outputs).
        blank: the CTC blank token.
    """

    def __init__(
        self,
        token_list: Sequence[str],
        lm_dir: Path,
        beam_size: int = 32,
        lm_weight: float = 2.0,
        word_score: float = 0.0,
        blank: str = "<blank>",
    ) -> None:
        for name in (LEXICON_FILE, LM_FILE):
            if not (lm_dir / name).is_file():
                raise FileNotFoundError(
                    f"{lm_dir / name} not found: build it with "
                    "python -m espnet_omnirouter.bin.make_lexicon_lm"
                )
        import_optional("flashlight.lib.text", "lexicon decoding")
        from torchaudio.models.decoder import ctc_decoder

        with native_output_logged(logger, "KenLM"):  # its loading banner, not for the console
            self._decoder = ctc_decoder(
                lexicon=str(lm_dir / LEXICON_FILE),
                tokens=list(token_list),
                lm=str(lm_dir / LM_FILE),
                beam_size=beam_size,
                lm_weight=lm_weight,
                word_score=word_score,
                blank_token=blank,
                sil_token=blank,
                unk_word="<unk>",
            )

    def __call__(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> List[str]:
        hypotheses = self._decoder(log_probs.float().contiguous(), lengths.to(torch.int32))
        return [" ".join(nbest[0].words) if nbest else "" for nbest in hypotheses]
