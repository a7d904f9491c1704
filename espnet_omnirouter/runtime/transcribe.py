"""Transcribe audio files with an exported model on ONNX Runtime, without torch.

Usage:
    python -m espnet_omnirouter.runtime.transcribe --model exp/asr_u2pp_moe/onnx a.wav b.flac
    python -m espnet_omnirouter.runtime.transcribe --model exp/asr_u2pp_moe/onnx \
        --mode streaming --chunk_size 16 --output_text out/text --output_jsonl out/r.jsonl *.wav
    # from the copy inside an export dir, on a machine without torch:
    PYTHONPATH=exp/asr_u2pp_moe/onnx python -m omnirouter_runtime.transcribe --model ...

--model is an export dir written by ``python -m espnet_omnirouter.bin.export``. Modes:
ctc_greedy (default), ctc_prefix_beam_search, attention_rescoring (models with
decoders) and streaming (U2++: the audio fed chunk by chunk, --chunk_size N encoder
frames); --chunk_size with the other modes decodes with chunk attention. auto is streaming
for an export that streams when --chunk_size is given, else ctc_greedy (the recipes' check
of every export). Audio of
another rate is resampled, channels are averaged. Prints ``<id> <text>`` per file;
--output_text writes a Kaldi text file, --output_jsonl JSON lines with duration,
decoding seconds and RTF.

An audio file too short for the encoder (an empty one included) gets the empty text,
with a notice on stderr.

Exit status: 0 all files transcribed; 2 bad command line; 3 some audio file missing or
unreadable (the others are still transcribed); 4 the export cannot be loaded.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

from .audio import AudioError, load_audio
from .decoding import MODES, DecodingOptions, check_mode, decode, resolve_auto_mode
from .exported_model import ExportedModel

EXIT_BAD_AUDIO = 3
EXIT_BAD_MODEL = 4


def unique_ids(paths: List[Path]) -> List[str]:
    """File names without extension, numbered where two files share one."""
    ids, seen = [], {}
    for path in paths:
        seen[path.stem] = seen.get(path.stem, 0) + 1
        ids.append(path.stem if seen[path.stem] == 1 else f"{path.stem}-{seen[path.stem]}")
    return ids


def write_text_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def report_too_short(path: Path, num_samples: int, min_samples: int) -> None:
    """Say on stderr that ``path``, shorter than the model encodes, gets the empty text."""
    print(
        f"transcribe: {path}: {num_samples} samples, fewer than the model's minimum "
        f"{min_samples}: empty hypothesis",
        file=sys.stderr,
    )


class Transcripts:
    """Files transcribed by a CLI: each printed as ``<id> <text>`` when done, then all
    written as a Kaldi text file and JSON lines (duration, decoding seconds, RTF)."""

    def __init__(self):
        self.texts: Dict[str, str] = {}
        self.records: List[dict] = []

    def add(self, utt_id: str, path: Path, text: str, duration: float, seconds: float) -> None:
        self.texts[utt_id] = text
        print(f"{utt_id} {text}", flush=True)
        self.records.append(
            {
                "id": utt_id,
                "audio": str(path),
                "text": text,
                "duration": round(duration, 3),
                "seconds": round(seconds, 4),
                "rtf": round(seconds / duration, 4) if duration else None,
            }
        )

    def write(self, output_text: Optional[Path], output_jsonl: Optional[Path]) -> None:
        if output_text:
            kaldi_text = "".join(f"{utt} {text}\n" for utt, text in sorted(self.texts.items()))
            write_text_atomically(output_text, kaldi_text)
        if output_jsonl:
            lines = "".join(json.dumps(record) + "\n" for record in self.records)
            write_text_atomically(output_jsonl, lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("audio", type=Path, nargs="+", help="wav/flac/... files")
    parser.add_argument("--model", type=Path, required=True, help="export dir (bin/export)")
    parser.add_argument("--mode", choices=(*MODES, "auto"), default="ctc_greedy")
    parser.add_argument("--ctc_beam_size", type=int, default=10, help="CTC prefix beam / n-best")
    parser.add_argument(
        "--chunk_size", type=int, default=0,
        help="U2++ models: attention chunks of this many encoder frames (0: full context); "
        "--mode streaming feeds the audio chunk by chunk and needs it",
    )  # fmt: skip
    parser.add_argument("--num_left_chunks", type=int, default=-1, help="-1: all earlier chunks")
    parser.add_argument("--num_threads", type=int, default=0, help="ONNX Runtime threads (0: all)")
    parser.add_argument("--output_text", type=Path, help="write a Kaldi text file")
    parser.add_argument("--output_jsonl", type=Path, help="write JSON lines with timings")
    args = parser.parse_args(argv)

    try:
        model = ExportedModel(args.model, args.num_threads)
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        print(f"transcribe: cannot load export {args.model}: {error}", file=sys.stderr)
        return EXIT_BAD_MODEL
    if args.mode == "auto":
        args.mode, args.chunk_size = resolve_auto_mode(model, args.chunk_size)
    try:
        check_mode(model, args.mode, args.chunk_size)
    except ValueError as error:
        parser.error(f"--mode {args.mode}: {error}")
    options = DecodingOptions(
        ctc_beam_size=args.ctc_beam_size, chunk_size=args.chunk_size,
        num_left_chunks=args.num_left_chunks,
    )  # fmt: skip

    transcripts, failed = Transcripts(), 0
    for utt_id, path in zip(unique_ids(args.audio), args.audio):
        try:
            samples = load_audio(path, model.sample_rate)
        except (FileNotFoundError, AudioError) as error:
            print(f"transcribe: {error}", file=sys.stderr)
            failed += 1
            continue
        if len(samples) < model.min_samples:
            report_too_short(path, len(samples), model.min_samples)
        start = time.perf_counter()
        text = decode(model, samples, args.mode, options)
        seconds = time.perf_counter() - start
        duration = len(samples) / model.sample_rate
        transcripts.add(utt_id, path, text, duration, seconds)
    transcripts.write(args.output_text, args.output_jsonl)
    return EXIT_BAD_AUDIO if failed else 0


if __name__ == "__main__":
    sys.exit(main())
