"""Transcribe audio files with a trained or packed model.

Usage:
    python -m espnet_omnirouter.bin.transcribe --model exp/asr_omni a.wav b.flac
    python -m espnet_omnirouter.bin.transcribe --model model.zip --mode beam \
        --output_text out/text --output_jsonl out/result.jsonl recordings/*.wav

--model is an experiment dir (config.yaml + --model_file inside it), a packed model
(.zip / .tar.gz from espnet2.bin.pack, unpacked by espnet_model_zoo) or a model-zoo /
Hugging Face id (downloaded by espnet_model_zoo, or found in its cache offline). The
default mode is ctc_lexicon_lm where a word LM is given (--lm_dir) or packed with the
model (bin/pack_model --option exp/lm_word3gram), else ctc_greedy; U2++ models also decode
with ctc_prefix_beam_search, attention_rescoring, and streaming (--chunk_size N: the audio
is fed chunk by chunk, as a live stream would be). Audio of any sample rate is
resampled to the model's, several channels are averaged. Prints ``<id> <text>`` per file
(id: the file name without extension); --output_text writes the same as a Kaldi text
file, --output_jsonl one JSON object per file with duration, decoding seconds and RTF.

An audio file too short for the encoder (an empty one included) gets the empty text, with
a notice on stderr.

Exit status: 0 all files transcribed; 2 bad command line; 3 some audio file missing or
unreadable (the others are still transcribed); 4 the model cannot be loaded
(a --model that names a file or dir that does not exist: "no such file or directory").
Other libraries' notices (FutureWarnings, the model zoo's cache notice, KenLM's loading
banner) are not printed; OMNIROUTER_LOG_LEVEL=DEBUG shows them.
"""

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch

import espnet_omnirouter  # noqa: F401  (registers the plugin before the model is built)
from espnet_omnirouter.asr.decoding.batch_search import load_speech2text
from espnet_omnirouter.asr.decoding.ctc_lexicon_decoder import CTCLexiconDecoder
from espnet_omnirouter.asr.decoding.decoding_modes import MODES, decode_waves, make_decoding
from espnet_omnirouter.runtime.audio import AudioError, load_audio
from espnet_omnirouter.runtime.transcribe import Transcripts, report_too_short, unique_ids
from espnet_omnirouter.utils.console import setup_cli_logging
from espnet_omnirouter.utils.model_config import frontend_sample_rate
from espnet_omnirouter.utils.model_files import ModelError, ResolvedModel, resolve_model

EXIT_BAD_AUDIO = 3
EXIT_BAD_MODEL = 4
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


def names_a_path(model: str) -> bool:
    """Whether ``--model`` is meant as a file or dir rather than a zoo / Hub id
    (``owner/name``): it is absolute, starts with ``.`` or ``~``, or names an archive."""
    return model.startswith(("/", ".", "~")) or model.endswith(ARCHIVE_SUFFIXES)


class MissingLMError(ValueError):
    """``ctc_lexicon_lm`` asked for, and no LM given or packed with the model."""


def load_for_decoding(
    model: str,
    model_file: Optional[str],
    cache_dir: Optional[Path],
    mode: Optional[str],
    lm_dir: Optional[Path],
    beam_size: int,
    lexicon_options: Optional[Dict[str, Any]] = None,
) -> Tuple[ResolvedModel, Any, str, Optional[Path], Optional[CTCLexiconDecoder]]:
    """``--model`` (a dir, archive or zoo / Hub id) loaded for decoding in ``mode``, in
    eval mode.

    ``mode`` defaults to ``ctc_lexicon_lm`` where an LM is given (``lm_dir``) or packed with
    the model, else ``ctc_greedy``; ``lexicon_options`` (its beam_size, lm_weight,
    word_score) go to ``CTCLexiconDecoder``; ``beam_size`` is Speech2Text's.
    Returns the model's files, its Speech2Text, the mode, the LM dir and the lexicon decoder
    (None unless ``ctc_lexicon_lm``).

    Raises:
        MissingLMError: ``ctc_lexicon_lm`` without an LM.
        ModelError, OSError, ImportError, RuntimeError, ValueError: the model cannot load.
    """
    resolved = resolve_model(
        str(Path(model).expanduser()) if names_a_path(model) else model, model_file, cache_dir
    )
    lm_dir = lm_dir or resolved.lm_dir
    mode = mode or ("ctc_lexicon_lm" if lm_dir else "ctc_greedy")
    if mode == "ctc_lexicon_lm" and lm_dir is None:
        raise MissingLMError("--mode ctc_lexicon_lm needs --lm_dir (the model has no packed LM)")
    speech2text = load_speech2text(resolved.config, resolved.checkpoint, beam_size)
    speech2text.asr_model.eval()
    lexicon_decoder = (
        CTCLexiconDecoder(speech2text.asr_model.token_list, lm_dir, **(lexicon_options or {}))
        if mode == "ctc_lexicon_lm"
        else None
    )
    return resolved, speech2text, mode, lm_dir, lexicon_decoder


def input_sample_rate(speech2text: Any) -> int:
    """The rate the model's frontend takes audio at (16 kHz unless its config says)."""
    train_args = speech2text.asr_train_args
    return frontend_sample_rate(train_args.frontend, train_args.frontend_conf) or 16000


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("audio", type=Path, nargs="+", help="wav/flac/... files")
    parser.add_argument("--model", required=True, help="experiment dir, packed archive or id")
    parser.add_argument("--model_file", help="checkpoint name inside an experiment dir")
    parser.add_argument("--mode", choices=MODES, help="default: ctc_lexicon_lm with an LM")
    parser.add_argument("--beam_size", type=int, default=5, help="for --mode beam")
    parser.add_argument("--ctc_beam_size", type=int, default=10, help="CTC prefix beam / n-best")
    parser.add_argument(
        "--chunk_size", type=int, default=0,
        help="U2++ models: attention chunks of this many encoder frames (0: full context); "
        "--mode streaming feeds the audio chunk by chunk and needs it",
    )  # fmt: skip
    parser.add_argument("--num_left_chunks", type=int, default=-1, help="-1: all earlier chunks")
    parser.add_argument(
        "--lm_dir", type=Path, help="lexicon.txt + lm.arpa (default: the one packed with --model)"
    )
    parser.add_argument("--cache_dir", type=Path, help="where archives unpack (model zoo's)")
    parser.add_argument("--output_text", type=Path, help="write a Kaldi text file")
    parser.add_argument("--output_jsonl", type=Path, help="write JSON lines with timings")
    args = parser.parse_args(argv)
    setup_cli_logging()
    if names_a_path(args.model) and not Path(args.model).expanduser().exists():
        print(f"transcribe: --model {args.model}: no such file or directory", file=sys.stderr)
        return EXIT_BAD_MODEL

    try:
        _, speech2text, mode, _, lexicon_decoder = load_for_decoding(
            args.model, args.model_file, args.cache_dir, args.mode, args.lm_dir, args.beam_size
        )
    except MissingLMError as error:
        parser.error(str(error))
    except (ModelError, OSError, ImportError, RuntimeError, ValueError) as error:
        print(f"transcribe: {error}", file=sys.stderr)
        return EXIT_BAD_MODEL
    try:
        decoding = make_decoding(
            speech2text, [mode], ctc_beam_size=args.ctc_beam_size,
            chunk_size=args.chunk_size, num_left_chunks=args.num_left_chunks,
        )  # fmt: skip
    except ValueError as error:
        parser.error(f"--mode {mode}: {error}")
    decoding.lexicon_decoder = lexicon_decoder
    sample_rate = input_sample_rate(speech2text)

    transcripts, failed = Transcripts(), 0
    for utt_id, path in zip(unique_ids(args.audio), args.audio):
        try:
            samples = load_audio(path, sample_rate)
        except (FileNotFoundError, AudioError) as error:
            print(f"transcribe: {error}", file=sys.stderr)
            failed += 1
            continue
        if len(samples) < decoding.min_samples:
            report_too_short(path, len(samples), decoding.min_samples)
        start = time.perf_counter()
        with torch.no_grad():
            text = decode_waves(decoding, [torch.from_numpy(samples)])[mode][0][0]
        seconds = time.perf_counter() - start
        duration = len(samples) / sample_rate
        transcripts.add(utt_id, path, text, duration, seconds)
    transcripts.write(args.output_text, args.output_jsonl)
    return EXIT_BAD_AUDIO if failed else 0


if __name__ == "__main__":
    sys.exit(main())
