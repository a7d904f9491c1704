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
from typing import List, Optional

import torch

import espnet_omnirouter  # noqa: F401  (registers the plugin before the model is built)
from espnet_omnirouter.asr.decoding.decoding_modes import MODES, decode_waves
from espnet_omnirouter.asr.decoding.loading import MissingLMError, load_decoding, names_a_path
from espnet_omnirouter.runtime.audio import AudioError, load_audio
from espnet_omnirouter.runtime.decoding import DecodingOptions, ModeError
from espnet_omnirouter.runtime.transcribe import Transcripts, report_too_short, unique_ids
from espnet_omnirouter.utils.console import setup_cli_logging
from espnet_omnirouter.utils.model_files import ModelError

EXIT_BAD_AUDIO = 3
EXIT_BAD_MODEL = 4


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

    options = DecodingOptions(
        ctc_beam_size=args.ctc_beam_size, chunk_size=args.chunk_size,
        num_left_chunks=args.num_left_chunks,
    )  # fmt: skip
    try:
        decoding = load_decoding(
            args.model, args.mode, options, args.model_file, args.cache_dir, args.lm_dir,
            args.beam_size,
        )  # fmt: skip
    except MissingLMError as error:
        parser.error(str(error))
    except ModeError as error:
        parser.error(f"--mode {args.mode or 'ctc_greedy'}: {error}")
    except (ModelError, OSError, ImportError, RuntimeError, ValueError) as error:
        print(f"transcribe: {error}", file=sys.stderr)
        return EXIT_BAD_MODEL
    mode, sample_rate = decoding.modes[0], decoding.model.sample_rate

    transcripts, failed = Transcripts(), 0
    for utt_id, path in zip(unique_ids(args.audio), args.audio):
        try:
            samples = load_audio(path, sample_rate)
        except (FileNotFoundError, AudioError) as error:
            print(f"transcribe: {error}", file=sys.stderr)
            failed += 1
            continue
        if len(samples) < decoding.model.min_samples:
            report_too_short(path, len(samples), decoding.model.min_samples)
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
