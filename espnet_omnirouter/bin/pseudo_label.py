"""Pseudo-label untranscribed audio: a Kaldi data dir of a model's transcripts, with a
confidence per utterance, to train on audio nobody transcribed.

Usage:
    python -m espnet_omnirouter.bin.pseudo_label --model exp/asr_omni \
        --lm_dir exp/lm_word3gram --output_dir data/pool_omni --keep_fraction 0.8 \
        data/unlabelled_pool
    python -m espnet_omnirouter.bin.pseudo_label --model model.zip --output_dir data/mine \
        --min_confidence 0.9 recordings/ more/a.mp3 more/b.flac

Inputs, in any mix: Kaldi data dirs (wav.scp, utt2spk, spk2utt; a ``segments`` file is
used; a ``text`` file is ignored), folders (every file under them whose extension
libsndfile reads: wav, flac, ogg, mp3, ...), audio files, and --audio_list files (one path
per line). Audio of any rate and channel count is mixed down and resampled to the model's.
--model is an experiment dir, a packed archive or a zoo / Hugging Face id, as for
bin/transcribe; so are --mode (default: ctc_lexicon_lm with a word LM, given by --lm_dir or
packed with the model, else ctc_greedy) and the messages about bad audio and models.

Recordings longer than --max_segment_seconds are cut at pauses into utterances the model
can take (frame energy: espnet_omnirouter/data/segmentation.py); shorter ones stay whole.
Each utterance is decoded in --mode and with CTC greedy search, and gets two confidence
measures (espnet_omnirouter/asr/decoding/confidence.py): ``ctc``, the mean CTC posterior of
the tokens of the best path, and ``agreement``, the word agreement of the greedy text with
--mode's; --confidence picks the one that filters: ``ctc``, ``agreement`` or ``both``
(their product; the default where --mode is not ctc_greedy, else ``ctc``).
--min_confidence keeps the utterances at or above a value, --keep_fraction the most
confident share; utterances with an empty hypothesis and audio too short for the encoder
are left out.

Outputs:
    <output_dir>/         a Kaldi data dir of the kept utterances: wav.scp (one file per
                          utterance, at the model's rate), text, utt2spk, spk2utt and
                          confidence (the filtering value); written at the end, atomically
    <work_dir>/plan.json  the recordings, the model and the decoding options
    <work_dir>/shards/    one JSON-lines file per shard of recordings: per utterance its
                          audio, text, greedy text, ctc and agreement
    <work_dir>/wav/       audio of segments and of recordings at another rate or with several
                          channels (wav.scp names them: keep it with the data dir)
(default --work_dir: <output_dir>.work).

Work is split into shards of about --shard_seconds of audio; --nj forked workers decode
them with one loaded model, one progress line per shard. A shard's file is written once it
is complete, so a killed run, started again with the same command, does only the shards
not yet written; another --mode, model or input in the same work dir is refused. A
different filter needs no decoding: the same command with another --min_confidence or
--keep_fraction rewrites the data dir from the shards. For job schedulers (the recipes'
cmd.sh), --num_jobs N --job J does only the J-th of N shares of the shards and writes no
data dir; a run without --job then does what is left and writes it.

Exit status: 0 done; 2 bad command line or inconsistent data dir or work dir; 3 audio
files missing or unreadable (every one listed before anything is decoded or written;
a file that fails while it is decoded stops the run, finished shards kept); 4 the model
cannot be loaded.
"""

import argparse
import json
import math
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import soundfile
import torch

import espnet_omnirouter  # noqa: F401  (registers the plugin before the model is built)
from espnet_omnirouter.asr.decoding.confidence import (
    CONFIDENCES,
    combine,
    ctc_confidence,
    word_agreement,
)
from espnet_omnirouter.asr.decoding.decoding_modes import (
    ENCODER_MODES,
    Decoding,
    texts_of_encoded,
)
from espnet_omnirouter.asr.decoding.loading import MissingLMError, load_decoding, names_a_path
from espnet_omnirouter.bin.transcribe import EXIT_BAD_AUDIO, EXIT_BAD_MODEL
from espnet_omnirouter.data.format_data_dir import read_recording, usable_in_place
from espnet_omnirouter.data.kaldi_dir import (
    DataDirError,
    Utterance,
    validate_data_dir,
    write_data_dir,
)
from espnet_omnirouter.data.segmentation import energy_segments
from espnet_omnirouter.data.validation import check_audio, read_table
from espnet_omnirouter.runtime.audio import AudioError, audio_duration, load_audio, mono_at_rate
from espnet_omnirouter.runtime.decoding import DecodingOptions, ModeError
from espnet_omnirouter.runtime.transcribe import unique_ids
from espnet_omnirouter.utils.console import setup_cli_logging
from espnet_omnirouter.utils.files import write_text_atomically
from espnet_omnirouter.utils.model_files import ModelError

EXIT_BAD_INPUT = 2
AUDIO_EXTENSIONS = {  # of the files taken from a folder
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".caf", ".w64",
    ".sph",
}  # fmt: skip
PIPE_SECONDS = 30.0  # what a ``cmd |`` recording counts for when shards are made
PLAN_FILE = "plan.json"


@dataclass
class Recording:
    """A recording to pseudo-label.

    Attributes:
        rec_id: its id (a data dir's, or the file name without extension).
        source: an audio file, or a Kaldi ``cmd |`` pipe of a data dir's wav.scp.
        speaker: the speaker of its utterances where no ``cuts`` say otherwise.
        duration: seconds (None for a pipe).
        cuts: a data dir's segments: (utt id, start, end seconds, speaker); None: the
            recording, cut at pauses if longer than --max_segment_seconds.
    """

    rec_id: str
    source: str
    speaker: str
    duration: Optional[float] = None
    cuts: Optional[List[Tuple[str, float, float, str]]] = None


@dataclass
class Inputs:
    """The recordings found and the problems met: ``bad_input`` (exit 2), ``bad_audio``
    (exit 3)."""

    recordings: List[Recording] = field(default_factory=list)
    bad_input: List[str] = field(default_factory=list)
    bad_audio: List[str] = field(default_factory=list)


def kaldi_id(text: str) -> str:
    return "_".join(text.split())


def add_data_dir(directory: Path, inputs: Inputs) -> None:
    """The recordings of a Kaldi data dir (its ``segments`` as their cuts)."""
    try:
        validate_data_dir(directory, check_audio=False, require_text=False)
    except DataDirError as error:
        inputs.bad_input.append(str(error))
        return
    wav = read_table(directory / "wav.scp", [])
    check_audio(wav, inputs.bad_audio, empty_ok=True, pipes_ok=True)
    speakers = read_table(directory / "utt2spk", []).entries
    cuts: Dict[str, List[Tuple[str, float, float, str]]] = {}
    if (directory / "segments").exists():
        for utt, value in read_table(directory / "segments", []).entries.items():
            recording, start, end = value.split()[:3]
            cuts.setdefault(recording, []).append((utt, float(start), float(end), speakers[utt]))
    for rec_id, entry in wav.entries.items():
        if cuts and rec_id not in cuts:
            continue  # a recording no segment cuts from
        pipe = entry.endswith("|")
        source = entry if pipe else str(Path(entry).resolve())
        duration = None if pipe or not Path(entry).is_file() else soundfile.info(entry).duration
        speaker = speakers.get(rec_id, rec_id)
        inputs.recordings.append(Recording(rec_id, source, speaker, duration, cuts.get(rec_id)))


def find_inputs(paths: Sequence[Path], audio_lists: Sequence[Path]) -> Inputs:
    """Recordings of the command line's data dirs, folders, files and lists, checked
    (headers only), in the order given (--audio_list files after the positional inputs);
    ids of audio files made unique across files."""
    inputs = Inputs()
    for audio_list in audio_lists:
        if not audio_list.is_file():
            inputs.bad_input.append(f"--audio_list {audio_list}: no such file")
            continue
        lines = audio_list.read_text(encoding="utf-8").splitlines()
        paths = [*paths, *(Path(line.strip()) for line in lines if line.strip())]
    # Each input: a data dir, or the audio files it names (a folder's, sorted).
    items: List[Path | List[Path]] = []
    for path in paths:
        if (path / "wav.scp").is_file():
            items.append(path)
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
            if not found:
                inputs.bad_input.append(f"{path}: no audio files (or wav.scp) under it")
            items.append(found)
        else:
            items.append([path])
    files = [file for item in items if isinstance(item, list) for file in item]
    file_ids = dict(zip(files, unique_ids(files)))
    for item in items:
        if not isinstance(item, list):
            add_data_dir(item, inputs)
            continue
        for path in item:
            try:
                duration = audio_duration(path)
            except (FileNotFoundError, AudioError) as error:
                inputs.bad_audio.append(str(error))
                continue
            rec_id = kaldi_id(file_ids[path])
            inputs.recordings.append(Recording(rec_id, str(path.resolve()), rec_id, duration))
    seen: Dict[str, str] = {}
    for recording in inputs.recordings:
        for utt in [c[0] for c in recording.cuts or []] or [recording.rec_id]:
            if utt in seen:
                inputs.bad_input.append(
                    f"id {utt} of {recording.source} is also the id of {seen[utt]}"
                )
            seen[utt] = recording.source
    return inputs


def make_shards(recordings: Sequence[Recording], shard_seconds: float) -> List[List[int]]:
    """Consecutive recordings grouped into shards of about ``shard_seconds`` of audio."""
    shards: List[List[int]] = []
    seconds = math.inf
    for index, recording in enumerate(recordings):
        if seconds >= shard_seconds:
            shards.append([])
            seconds = 0.0
        shards[-1].append(index)
        seconds += PIPE_SECONDS if recording.duration is None else recording.duration
    return shards


@dataclass
class Worker:
    """What forked workers share: the loaded model and the plan."""

    decoding: Decoding
    mode: str
    recordings: List[Recording]
    shards: List[List[int]]
    work_dir: Path
    sample_rate: int
    max_segment_seconds: float
    batch_seconds: float


_WORKER: Optional[Worker] = None


def _init_worker() -> None:
    torch.set_num_threads(1)


def read_samples(recording: Recording, sample_rate: int) -> np.ndarray:
    """Mono samples of a recording at ``sample_rate``; AudioError names a failing one."""
    if not recording.source.endswith("|"):
        return load_audio(Path(recording.source), sample_rate)
    try:
        samples, rate = read_recording(recording.source)
    except (DataDirError, soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"cannot read audio from '{recording.source}': {error}") from error
    return mono_at_rate(samples, rate, sample_rate)


def utterances_of(
    recording: Recording, samples: np.ndarray, worker: Worker
) -> List[Tuple[Dict[str, Any], np.ndarray]]:
    """(record, samples) of each utterance of a recording: its data dir's cuts, its pauses
    if it is longer than ``max_segment_seconds``, else the whole recording. Audio other
    than the whole recording in place is written under <work_dir>/wav/."""
    rate = worker.sample_rate
    if recording.cuts is not None:
        pieces = [
            (utt, int(round(start * rate)), int(round(end * rate)), speaker)
            for utt, start, end, speaker in recording.cuts
        ]
    elif len(samples) > worker.max_segment_seconds * rate:
        pieces = [
            (f"{recording.rec_id}-{first * 100 // rate:07d}-{last * 100 // rate:07d}",
             first, last, recording.speaker)
            for first, last in energy_segments(samples, rate, worker.max_segment_seconds)
        ]  # fmt: skip
    else:
        pieces = [(recording.rec_id, 0, len(samples), recording.speaker)]
    whole_in_place = (
        recording.cuts is None
        and pieces == [(recording.rec_id, 0, len(samples), recording.speaker)]
        and usable_in_place(recording.source, rate)
    )
    utterances = []
    for utt, first, last, speaker in pieces:
        audio = samples[first:last]
        if whole_in_place:
            wav = recording.source
        else:
            wav = str(worker.work_dir / "wav" / f"{utt}.wav")
            staging = f"{wav}.partial.wav"  # a killed run leaves no truncated file behind
            soundfile.write(staging, audio, rate, subtype="PCM_16")
            os.replace(staging, wav)
        record = {
            "utt": utt,
            "recording": recording.rec_id,
            "speaker": speaker,
            "start": None if whole_in_place else round(first / rate, 3),
            "end": None if whole_in_place else round(last / rate, 3),
            "wav": wav,
            "duration": round(len(audio) / rate, 3),
        }
        utterances.append((record, audio))
    return utterances


def length_batches(
    utterances: Sequence[Tuple[Dict[str, Any], np.ndarray]], batch_samples: int
) -> List[List[Tuple[Dict[str, Any], np.ndarray]]]:
    """Utterances sorted by length, in batches of at most ``batch_samples`` samples (a
    longer utterance alone)."""
    batches: List[List[Tuple[Dict[str, Any], np.ndarray]]] = []
    total = batch_samples
    for utterance in sorted(utterances, key=lambda item: len(item[1])):
        if total + len(utterance[1]) > batch_samples:
            batches.append([])
            total = 0
        batches[-1].append(utterance)
        total += len(utterance[1])
    return batches


def label_shard(index: int) -> Tuple[int, List[Dict[str, Any]], float]:
    """Decode the utterances of shard ``index`` in a worker; write its records file.
    Returns the shard index, its records and the seconds spent."""
    worker, start = _WORKER, time.perf_counter()
    utterances = []
    for recording_index in worker.shards[index]:
        recording = worker.recordings[recording_index]
        samples = read_samples(recording, worker.sample_rate)
        utterances += utterances_of(recording, samples, worker)
    decodable = []
    for record, audio in utterances:
        if len(audio) < worker.decoding.model.min_samples:
            record["skipped"] = "too short for the encoder"
        else:
            decodable.append((record, audio))
    decoding, model = worker.decoding, worker.decoding.model
    batch_samples = int(worker.batch_seconds * worker.sample_rate)
    for batch in length_batches(decodable, batch_samples):
        encoded, lengths = model.encode_waves([torch.from_numpy(audio) for _, audio in batch])
        log_probs = model.batch_ctc_log_probs(encoded)
        greedy = texts_of_encoded(decoding, "ctc_greedy", encoded, log_probs, lengths)
        texts = (
            greedy
            if worker.mode == "ctc_greedy"
            else texts_of_encoded(decoding, worker.mode, encoded, log_probs, lengths)
        )
        confidences = ctc_confidence(log_probs, lengths, model.blank_id)
        for (record, _), text, greedy_text, ctc in zip(batch, texts, greedy, confidences):
            record.update(
                text=text, greedy=greedy_text, ctc=round(ctc, 4),
                agreement=round(word_agreement(greedy_text, text), 4),
            )  # fmt: skip
    records = [record for record, _ in utterances]
    lines = "".join(json.dumps(record) + "\n" for record in records)
    write_text_atomically(shard_file(worker.work_dir, index), lines)
    return index, records, time.perf_counter() - start


def shard_file(work_dir: Path, index: int) -> Path:
    return work_dir / "shards" / f"{index + 1:05d}.jsonl"


def write_plan(work_dir: Path, plan: Dict[str, Any]) -> Optional[str]:
    """Write ``plan`` to <work_dir>/plan.json, or check it against the one there; returns
    what differs from it (None where nothing does). Jobs of one run may write it at the
    same time: each through its own staging file."""
    path = work_dir / PLAN_FILE
    plan = json.loads(json.dumps(plan))  # tuples as lists, as read back
    if path.is_file():
        old = json.loads(path.read_text())
        differs = [key for key in plan if old.get(key) != plan[key]]
        return ", ".join(differs) if differs else None
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=work_dir, suffix=".tmp", delete=False) as staging:
        json.dump(plan, staging, indent=1)
    os.replace(staging.name, path)
    return None


def run_shards(worker: Worker, todo: List[int], nj: int, job: str) -> None:
    """Label the shards ``todo`` with ``nj`` forked workers; a progress line per shard."""
    global _WORKER
    _WORKER = worker
    seconds_of = [
        sum(PIPE_SECONDS if r.duration is None else r.duration
            for r in (worker.recordings[i] for i in shard))
        for shard in worker.shards
    ]  # fmt: skip
    total, done_seconds, start = sum(seconds_of[i] for i in todo), 0.0, time.perf_counter()
    context = multiprocessing.get_context("fork")
    with context.Pool(nj, initializer=_init_worker) as pool:
        for done, (index, records, seconds) in enumerate(pool.imap(label_shard, todo), 1):
            done_seconds += seconds_of[index]
            elapsed = time.perf_counter() - start
            left = elapsed * (total - done_seconds) / max(done_seconds, 1e-9)
            print(
                f"[pseudo_label] shard {index + 1}/{len(worker.shards)}{job}: "
                f"{len(records)} utterances, {seconds_of[index]:.0f}s audio, RTF "
                f"{seconds / max(seconds_of[index], 1e-9):.3f}; {done}/{len(todo)} shards, "
                f"{elapsed:.0f}s elapsed, about {left:.0f}s left",
                flush=True,
            )


def read_records(work_dir: Path, num_shards: int) -> List[Dict[str, Any]]:
    """Every utterance's record, in shard order."""
    records = []
    for index in range(num_shards):
        lines = shard_file(work_dir, index).read_text(encoding="utf-8").splitlines()
        records += [json.loads(line) for line in lines]
    return records


def select(
    records: Sequence[Dict[str, Any]],
    confidence: str,
    min_confidence: Optional[float],
    keep_fraction: Optional[float],
) -> Tuple[List[Dict[str, Any]], Dict[str, float]]:
    """The labelled records (non-empty text) that pass the filter, most confident first,
    and the ``confidence`` value of each labelled utterance."""
    labelled = [r for r in records if r.get("text")]
    scores = {r["utt"]: combine(r["ctc"], r["agreement"], confidence) for r in labelled}
    ranked = sorted(labelled, key=lambda r: (-scores[r["utt"]], r["utt"]))
    if min_confidence is not None:
        ranked = [r for r in ranked if scores[r["utt"]] >= min_confidence]
    if keep_fraction is not None:
        ranked = ranked[: int(round(keep_fraction * len(labelled)))]
    return ranked, scores


def write_output(
    records: Sequence[Dict[str, Any]], args: argparse.Namespace, confidence: str
) -> str:
    """The filtered data dir; returns the summary line."""
    kept, scores = select(records, confidence, args.min_confidence, args.keep_fraction)
    utterances = [Utterance(r["utt"], r["speaker"], r["wav"], r["text"]) for r in kept]
    table = {r["utt"]: f"{scores[r['utt']]:.4f}" for r in kept}
    if not utterances:
        raise DataDirError(
            f"no utterance of {len(records)} passes the filter: nothing to write to "
            f"{args.output_dir} (lower --min_confidence or raise --keep_fraction)"
        )
    write_data_dir(utterances, args.output_dir, {"confidence": table})
    skipped = sum(1 for r in records if "skipped" in r)
    empty = sum(1 for r in records if "skipped" not in r and not r["text"])
    hours = sum(r["duration"] for r in kept) / 3600
    all_hours = sum(r["duration"] for r in records) / 3600
    rule = []
    if args.min_confidence is not None:
        rule.append(f"{confidence} >= {args.min_confidence:g}")
    if args.keep_fraction is not None:
        rule.append(f"the {args.keep_fraction:g} most confident ({confidence})")
    return (
        f"[pseudo_label] kept {len(kept)} of {len(records)} utterances "
        f"({' and '.join(rule) or 'no filter'}; {empty} empty hypotheses, {skipped} too short), "
        f"{hours:.2f} of {all_hours:.2f} hours -> {args.output_dir}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="\n".join(__doc__.splitlines()[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", type=Path, nargs="*", help="data dirs, folders, audio files")
    parser.add_argument("--audio_list", type=Path, action="append", default=[],
                        help="a file of audio paths, one per line")  # fmt: skip
    parser.add_argument("--model", required=True, help="experiment dir, packed archive or id")
    parser.add_argument("--model_file", help="checkpoint name inside an experiment dir")
    parser.add_argument("--cache_dir", type=Path, help="where archives unpack (model zoo's)")
    parser.add_argument("--output_dir", type=Path, required=True, help="the data dir written")
    parser.add_argument("--work_dir", type=Path, help="default: <output_dir>.work")
    parser.add_argument("--mode", choices=ENCODER_MODES, help="default: ctc_lexicon_lm with an LM")
    parser.add_argument(
        "--lm_dir", type=Path, help="lexicon.txt + lm.arpa (default: the one packed with --model)"
    )
    parser.add_argument("--lm_weight", type=float, default=2.0, help="ctc_lexicon_lm")
    parser.add_argument("--word_score", type=float, default=0.0, help="ctc_lexicon_lm")
    parser.add_argument("--lexicon_beam_size", type=int, default=32, help="ctc_lexicon_lm")
    parser.add_argument("--ctc_beam_size", type=int, default=10, help="CTC prefix beam / n-best")
    parser.add_argument(
        "--confidence", choices=CONFIDENCES,
        help="the filtering measure (default: both; ctc with --mode ctc_greedy)",
    )  # fmt: skip
    parser.add_argument("--min_confidence", type=float, help="keep utterances at or above it")
    parser.add_argument("--keep_fraction", type=float, help="keep this most confident share")
    parser.add_argument("--max_segment_seconds", type=float, default=20.0,
                        help="longer recordings are cut at pauses")  # fmt: skip
    parser.add_argument("--shard_seconds", type=float, default=600.0, help="audio per shard")
    parser.add_argument("--batch_seconds", type=float, default=60.0, help="audio per batch")
    parser.add_argument("--nj", type=int, default=1, help="parallel decoding workers")
    parser.add_argument("--num_jobs", type=int, default=1, help="shares of the shards")
    parser.add_argument("--job", type=int, help="do only this share (1..--num_jobs)")
    return parser


def check_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.job is not None and not 1 <= args.job <= args.num_jobs:
        parser.error(f"--job {args.job}: must be in 1..--num_jobs ({args.num_jobs})")
    if args.keep_fraction is not None and not 0 < args.keep_fraction <= 1:
        parser.error(f"--keep_fraction {args.keep_fraction}: must be in (0, 1]")
    if args.max_segment_seconds <= 1:
        parser.error(f"--max_segment_seconds {args.max_segment_seconds}: must exceed 1 s")
    if not args.inputs and not args.audio_list:
        parser.error("no inputs: give data dirs, folders, audio files or --audio_list")
    if args.confidence in ("agreement", "both") and args.mode == "ctc_greedy":
        parser.error(
            f"--confidence {args.confidence} compares ctc_greedy with --mode's text: "
            "choose another --mode (e.g. ctc_lexicon_lm with --lm_dir)"
        )


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_options(parser, args)
    setup_cli_logging()
    work_dir = (
        args.work_dir or args.output_dir.with_name(args.output_dir.name + ".work")
    ).resolve()
    if names_a_path(args.model) and not Path(args.model).expanduser().exists():
        print(f"pseudo_label: --model {args.model}: no such file or directory", file=sys.stderr)
        return EXIT_BAD_MODEL
    inputs = find_inputs(args.inputs, args.audio_list)
    for problem in inputs.bad_input + inputs.bad_audio:
        print(f"pseudo_label: {problem}", file=sys.stderr)
    if inputs.bad_input:
        return EXIT_BAD_INPUT
    if inputs.bad_audio:
        print(f"pseudo_label: {len(inputs.bad_audio)} audio files cannot be read: nothing "
              "decoded or written", file=sys.stderr)  # fmt: skip
        return EXIT_BAD_AUDIO

    try:
        decoding = load_decoding(
            args.model, args.mode, DecodingOptions(ctc_beam_size=args.ctc_beam_size),
            args.model_file, args.cache_dir, args.lm_dir, beam_size=1,
            lexicon_options={"beam_size": args.lexicon_beam_size, "lm_weight": args.lm_weight,
                             "word_score": args.word_score},
        )  # fmt: skip
    except MissingLMError as error:
        parser.error(str(error))
    except ModeError as error:
        parser.error(f"--mode {args.mode or 'ctc_greedy'}: {error}")
    except (ModelError, OSError, ImportError, RuntimeError, ValueError) as error:
        print(f"pseudo_label: {error}", file=sys.stderr)
        return EXIT_BAD_MODEL
    mode, model, lm_dir = decoding.modes[0], decoding.files, decoding.lm_dir
    confidence = args.confidence or ("ctc" if mode == "ctc_greedy" else "both")
    if confidence != "ctc" and mode == "ctc_greedy":
        parser.error(f"--confidence {confidence} needs a --mode other than ctc_greedy")
    sample_rate = decoding.model.sample_rate

    shards = make_shards(inputs.recordings, args.shard_seconds)
    plan = {
        "model": {
            "config": str(model.config.resolve()),
            "checkpoint": str(model.checkpoint.resolve()),
        },
        "decoding": {
            "mode": mode,
            "lm_dir": str(lm_dir.resolve()) if lm_dir else None,
            "lm_weight": args.lm_weight,
            "word_score": args.word_score,
            "lexicon_beam_size": args.lexicon_beam_size,
            "ctc_beam_size": args.ctc_beam_size,
            "sample_rate": sample_rate,
            "max_segment_seconds": args.max_segment_seconds,
        },  # fmt: skip
        "recordings": [asdict(recording) for recording in inputs.recordings],
        "shards": shards,
    }
    differs = write_plan(work_dir, plan)
    if differs:
        print(
            f"pseudo_label: {work_dir} holds a run with other {differs}: delete it or choose "
            "another --work_dir",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    (work_dir / "wav").mkdir(exist_ok=True)
    job = args.job or 1
    num_jobs = args.num_jobs if args.job else 1
    mine = [i for i in range(len(shards)) if i % num_jobs == job - 1]
    todo = [i for i in mine if not shard_file(work_dir, i).is_file()]
    of_job = f" (job {job}/{num_jobs})" if args.job else ""
    print(
        f"[pseudo_label] {len(inputs.recordings)} recordings, {len(shards)} shards{of_job}: "
        f"{len(mine) - len(todo)} done before, {len(todo)} to do ({mode}, {args.nj} workers)",
        flush=True,
    )
    worker = Worker(
        decoding, mode, inputs.recordings, shards, work_dir, sample_rate,
        args.max_segment_seconds, args.batch_seconds,
    )  # fmt: skip
    try:
        if todo:
            run_shards(worker, todo, args.nj, of_job)
        if args.job is not None:
            print(f"[pseudo_label] job {job}/{num_jobs} done", flush=True)
            return 0
        print(write_output(read_records(work_dir, len(shards)), args, confidence), flush=True)
    except (FileNotFoundError, AudioError) as error:
        print(f"pseudo_label: {error} (finished shards are kept: run again to resume)",
              file=sys.stderr)  # fmt: skip
        return EXIT_BAD_AUDIO
    except DataDirError as error:
        print(f"pseudo_label: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
