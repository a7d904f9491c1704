"""One call from a ``--model`` argument to a ``Decoding``: the model's files found (an
experiment dir, a packed archive or a model-zoo / Hub id), ESPnet's ``Speech2Text`` built,
wrapped as an ``EagerModel``, the mode checked against it and the lexicon decoder loaded."""

from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Optional

from espnet_omnirouter.asr.decoding.ctc_lexicon_decoder import CTCLexiconDecoder
from espnet_omnirouter.asr.decoding.decoding_modes import Decoding, make_decoding
from espnet_omnirouter.asr.decoding.eager_model import EagerModel
from espnet_omnirouter.asr.decoding.speech2text import load_speech2text
from espnet_omnirouter.runtime.decoding import DecodingOptions
from espnet_omnirouter.utils.model_files import resolve_model

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


class MissingLMError(ValueError):
    """``ctc_lexicon_lm`` asked for, and no LM given or packed with the model."""


def names_a_path(model: str) -> bool:
    """Whether ``--model`` is meant as a file or dir rather than a zoo / Hub id
    (``owner/name``): it is absolute, starts with ``.`` or ``~``, or names an archive."""
    return model.startswith(("/", ".", "~")) or model.endswith(ARCHIVE_SUFFIXES)


def load_decoding(
    model: str,
    mode: Optional[str] = None,
    options: Optional[DecodingOptions] = None,
    model_file: Optional[str] = None,
    cache_dir: Optional[Path] = None,
    lm_dir: Optional[Path] = None,
    beam_size: int = 5,
    lexicon_options: Optional[Dict[str, Any]] = None,
) -> Decoding:
    """``--model`` (a dir, archive or zoo / Hub id) loaded to decode in ``mode``.

    ``mode`` defaults to ``ctc_lexicon_lm`` where an LM is given (``lm_dir``) or packed
    with the model, else ``ctc_greedy``; ``options``: ``DecodingOptions`` (default: its
    defaults); ``lexicon_options`` (its beam_size, lm_weight,
    word_score) go to ``CTCLexiconDecoder``; ``beam_size`` is ESPnet's beam search's.
    The returned decoding names the model's files and the LM dir it uses.

    Raises:
        MissingLMError: ``ctc_lexicon_lm`` without an LM.
        ModeError: the mode or options do not fit the model (the message says why).
        ModelError, OSError, ImportError, RuntimeError: the model cannot load.
    """
    files = resolve_model(
        str(Path(model).expanduser()) if names_a_path(model) else model, model_file, cache_dir
    )
    lm_dir = lm_dir or files.lm_dir
    mode = mode or ("ctc_lexicon_lm" if lm_dir else "ctc_greedy")
    if mode == "ctc_lexicon_lm" and lm_dir is None:
        raise MissingLMError("--mode ctc_lexicon_lm needs --lm_dir (the model has no packed LM)")
    eager = EagerModel(load_speech2text(files.config, files.checkpoint, beam_size))
    lexicon_decoder = None
    if mode == "ctc_lexicon_lm":
        lexicon_decoder = CTCLexiconDecoder(
            eager.model.token_list, lm_dir, **(lexicon_options or {})
        )
    decoding = make_decoding(eager, [mode], options or DecodingOptions())
    return replace(decoding, lexicon_decoder=lexicon_decoder, files=files, lm_dir=lm_dir)
