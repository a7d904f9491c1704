"""Decode Kaldi data dirs with a trained model, loading it once for every set.

Usage:
    python -m espnet_omnirouter.bin.decode --asr_train_config exp/asr_omni/config.yaml \
        --asr_model_file exp/asr_omni/valid.loss.ave.pth --output_dir exp/asr_omni/decode \
        --nj 2 data/test_clean data/test_noise ...

Writes <output_dir>/<mode>/<set>/text (Kaldi format) and <output_dir>/<mode>/<set>/rtf
(decoding time of one job / audio duration) for every mode of ``--modes`` (default ``auto``:
the modes that suit the model, see below), and <output_dir>/decoding.json (the mode dirs
written, best first):

- ``ctc_greedy``: batched CTC best path (the default);
- ``ctc_lexicon_lm``: CTC beam search over the words of a lexicon with a word n-gram LM
  (``--lm_dir`` from ``bin/make_lexicon_lm``); shares the encoder pass with ``ctc_greedy``;
  ``--tune_set data/dev`` first picks its LM weight and word score on that held-out set
  (written to <output_dir>/lm_tuning.json);
- ``ctc_prefix_beam_search``: the best prefix of CTC prefix beam search (``--ctc_beam_size``);
- ``attention_rescoring`` (U2++): its n-best rescored with the attention decoder(s), left to
  right and right to left (``--rescoring_ctc_weight``, ``--reverse_weight``);
- ``beam``: ESPnet's Speech2Text beam search ("attention" decoding: the attention decoder
  with CTC weight 0.3 where the model has one, else CTC), one utterance at a time;
- ``streaming`` (U2++ with causal convolution): the audio of each utterance fed chunk by
  chunk to a ``runtime.streaming.StreamingRecognizer`` (CTC prefix beam search, then
  attention rescoring): the real-time factor of streaming; its text equals
  ``attention_rescoring`` with the same chunk size.

The ctc_* and attention_rescoring modes share one batched encoder pass (its time counts in
each mode's RTF). ``--decoding_chunk_size N`` (U2++ encoders) decodes with chunk attention of
N encoder frames, which gives exactly what streaming gives.

What depends on the model is decided here, from the loaded model: ``--modes auto`` is
attention_rescoring and ctc_prefix_beam_search for a U2++ model (u2pp_conformer encoder),
attention_rescoring and ctc_greedy for another model with an attention decoder, and
ctc_lexicon_lm (with ``--lm_dir``) and ctc_greedy for a CTC-only model; ``--u2pp_modes``
replaces ``--modes`` for U2++ models; ``--streaming_chunk_size N`` also decodes the models
that stream (U2++ with causal convolution, only them; ``causal: false`` looks ahead) with
``--streaming_modes`` and chunks of N frames into <output_dir>/chunk<N>/. The search of
every mode but ``ctc_lexicon_lm`` and ``beam`` is the torch-free runtime's
(``runtime.decoding``), run on the eager model (``asr.decoding.eager_model``).

The model is loaded once, then ``--nj`` forked workers share it, so ESPnet's start-up
is paid once per model, not per set. For job schedulers (the recipes' ``cmd.sh``),
``--num_jobs N --job J`` decodes only the J-th of N shares of every set's utterances into
<output_dir>/jobs/J/; ``--merge_jobs N`` then assembles the N shares into the layout above.

Before that, every data dir is checked (ids consistent, audio readable and at the model's
sample rate); the run stops with every problem listed and nothing written. Utterances too
short for the encoder (empty audio included) get the empty hypothesis.
"""

import argparse
import json
import multiprocessing
import shutil
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import yaml

import espnet_omnirouter  # noqa: F401  (registers the plugin before the model is built)
from espnet_omnirouter.asr.decoding.ctc_lexicon_decoder import CTCLexiconDecoder
from espnet_omnirouter.asr.decoding.decoding_modes import (
    MODES,
    Decoding,
    auto_modes,
    decode_waves,
    make_decoding,
)
from espnet_omnirouter.asr.decoding.eager_model import EagerModel
from espnet_omnirouter.asr.decoding.speech2text import load_speech2text
from espnet_omnirouter.data.audio_batches import Batch, make_batches, read_waves
from espnet_omnirouter.data.kaldi_dir import DataDirError, read_wav_scp, validate_data_dir
from espnet_omnirouter.runtime.decoding import DecodingOptions
from espnet_omnirouter.scoring.wer import read_kaldi_text, score
from espnet_omnirouter.utils.console import setup_cli_logging
from espnet_omnirouter.utils.files import write_text_atomically
from espnet_omnirouter.utils.model_config import frontend_sample_rate

DECODING_FILE = "decoding.json"  # the mode dirs written, best first
SECONDS_FILE = "seconds"  # a job's "<decoding seconds> <audio seconds>" of its share of a set

_DECODING: Optional[Decoding] = None


def decode_batch(batch: Batch) -> Dict[str, Tuple[List[str], float]]:
    """Decode one batch in a worker (see ``decode_waves``)."""
    return decode_waves(_DECODING, read_waves(batch))


def _init_worker() -> None:
    torch.set_num_threads(1)


def job_share(wav_scp: Dict[str, str], job: int, num_jobs: int) -> Dict[str, str]:
    """The utterances of job ``job`` (1-based) of ``num_jobs``: every ``num_jobs``-th one
    in the order of their ids, so that every job gets a similar mix."""
    return {utt: wav_scp[utt] for utt in sorted(wav_scp)[job - 1 :: num_jobs]}


def decode_sets(
    data_dirs: Sequence[Path],
    output_dir: Path,
    nj: int,
    batch_seconds: float,
    share: Tuple[int, int] = (1, 1),
) -> None:
    """Decode every data dir with every mode of ``_DECODING``; one line of progress per set.
    ``share`` (job, number of jobs): decode only that job's share of each set
    (``job_share``) and also write its decoding and audio seconds."""
    modes = _DECODING.modes
    job, num_jobs = share
    context = multiprocessing.get_context("fork")
    with context.Pool(nj, initializer=_init_worker) as pool:
        for data_dir in data_dirs:
            wav_scp = job_share(read_wav_scp(data_dir), job, num_jobs)
            # modes that decode one utterance at a time: one per batch balances the jobs
            one_by_one = {"beam", "streaming"} & set(modes)
            batches, audio_seconds = make_batches(wav_scp, 0 if one_by_one else batch_seconds)
            texts = {mode: {} for mode in modes}
            seconds = dict.fromkeys(modes, 0.0)
            for batch, results in zip(batches, pool.imap(decode_batch, batches)):
                for mode, (batch_texts, batch_seconds_spent) in results.items():
                    texts[mode].update(zip((utt for utt, _ in batch), batch_texts))
                    seconds[mode] += batch_seconds_spent
            summary = []
            for mode in modes:
                target = output_dir / mode / data_dir.name
                lines = "".join(f"{utt} {texts[mode][utt]}\n" for utt in sorted(texts[mode]))
                write_text_atomically(target / "text", lines)
                rtf = seconds[mode] / audio_seconds if audio_seconds else 0.0
                write_text_atomically(target / "rtf", f"{rtf:.4f}\n")
                if num_jobs > 1:
                    write_text_atomically(
                        target / SECONDS_FILE, f"{seconds[mode]:.6f} {audio_seconds:.6f}\n"
                    )
                summary.append(f"{mode} RTF {rtf:.3f}")
            of_jobs = f" (job {job}/{num_jobs})" if num_jobs > 1 else ""
            print(
                f"[decode] {data_dir.name}{of_jobs}: {len(wav_scp)} utterances, "
                f"{audio_seconds:.0f}s audio, {nj} workers: {', '.join(summary)}",
                flush=True,
            )


def merge_jobs(output_dir: Path, num_jobs: int) -> List[str]:
    """Assemble what ``--num_jobs num_jobs`` jobs wrote under <output_dir>/jobs/<J>/ into
    <output_dir>: per mode dir and set, the texts of every share and the RTF of their
    summed seconds; ``lm_tuning.json`` and ``decoding.json`` of the first job (all jobs
    find the same). Returns the summary lines. Raises FileNotFoundError naming a job
    that did not finish."""
    jobs = [output_dir / "jobs" / str(job) for job in range(1, num_jobs + 1)]
    for job_dir in jobs:
        if not (job_dir / DECODING_FILE).is_file():
            raise FileNotFoundError(f"{job_dir}: no {DECODING_FILE}: the job did not finish")
    mode_dirs = json.loads((jobs[0] / DECODING_FILE).read_text())["modes"]
    lines = []
    for mode_dir in mode_dirs:
        for set_dir in sorted(p for p in (jobs[0] / mode_dir).iterdir() if p.is_dir()):
            texts, seconds, audio_seconds = {}, 0.0, 0.0
            for job_dir in jobs:
                share = job_dir / mode_dir / set_dir.name
                texts.update(read_kaldi_text(share / "text"))
                job_seconds, job_audio = map(float, (share / SECONDS_FILE).read_text().split())
                seconds, audio_seconds = seconds + job_seconds, audio_seconds + job_audio
            target = output_dir / mode_dir / set_dir.name
            write_text_atomically(
                target / "text", "".join(f"{utt} {texts[utt]}\n" for utt in sorted(texts))
            )
            rtf = seconds / audio_seconds if audio_seconds else 0.0
            write_text_atomically(target / "rtf", f"{rtf:.4f}\n")
            lines.append(f"{mode_dir}/{set_dir.name}: {len(texts)} utterances, RTF {rtf:.3f}")
    for name in ("lm_tuning.json", DECODING_FILE):
        if (jobs[0] / name).is_file():
            shutil.copyfile(jobs[0] / name, output_dir / name)
    return lines


def tune_lexicon_decoding(
    model: EagerModel,
    lm_dir: Path,
    tune_set: Path,
    lm_weights: Sequence[float],
    word_scores: Sequence[float],
    beam_size: int,
    batch_seconds: float,
) -> Dict[str, object]:
    """Choose the LM weight and word score of ``ctc_lexicon_lm`` by WER on ``tune_set``
    (a held-out set such as dev, never a test set): the set is encoded once, then
    decoded with every pair of the grid. Returns the best pair and the grid's WERs."""
    wav_scp = read_wav_scp(tune_set)
    batches, _ = make_batches(wav_scp, batch_seconds)
    encoded = []
    with torch.no_grad():
        for batch in batches:
            encoder_out, lengths = model.encode_waves(read_waves(batch))
            log_probs = model.batch_ctc_log_probs(encoder_out)
            encoded.append(([utt for utt, _ in batch], log_probs, lengths))
    references = read_kaldi_text(tune_set / "text")
    grid = {}
    for lm_weight in lm_weights:
        for word_score in word_scores:
            decoder = CTCLexiconDecoder(
                model.model.token_list, lm_dir, beam_size, lm_weight, word_score
            )
            hypotheses = {}
            for utts, log_probs, lengths in encoded:
                hypotheses.update(zip(utts, decoder(log_probs, lengths)))
            grid[(lm_weight, word_score)] = score(references, hypotheses).wer
    best = min(grid, key=grid.get)
    return {
        "tune_set": str(tune_set),
        "lm_weight": best[0],
        "word_score": best[1],
        "wer": round(grid[best], 2),
        "grid": [
            {"lm_weight": w, "word_score": s, "wer": round(e, 2)} for (w, s), e in grid.items()
        ],
    }


def check_data_dirs(
    parser: argparse.ArgumentParser, config: Path, data_dirs: Sequence[Optional[Path]]
) -> None:
    """Before anything is loaded or written: every data dir consistent, every audio file
    readable and at the model's sample rate (empty audio allowed: empty hypothesis).
    Exits with status 2 listing every problem."""
    conf = yaml.safe_load(config.read_text()) or {}
    sample_rate = frontend_sample_rate(conf.get("frontend"), conf.get("frontend_conf"))
    problems = []
    for data_dir in data_dirs:
        if data_dir is None:
            continue
        try:
            validate_data_dir(data_dir, sample_rate=sample_rate, empty_audio_ok=True)
        except DataDirError as error:
            problems.append(str(error))
    if problems:
        parser.error("\n".join(problems))


def floats(text: str) -> List[float]:
    return [float(value) for value in text.split(",")]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="\n".join(__doc__.splitlines()[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("data_dirs", type=Path, nargs="*", help="Kaldi data dirs to decode")
    parser.add_argument("--asr_train_config", type=Path)
    parser.add_argument("--asr_model_file", type=Path)
    parser.add_argument("--output_dir", type=Path, required=True)
    mode_choices = [*MODES, "auto"]
    parser.add_argument(
        "--modes", nargs="+", choices=mode_choices, default=["auto"],
        help="decoding modes; auto: those that suit the model (see above)",
    )  # fmt: skip
    parser.add_argument(
        "--u2pp_modes", nargs="+", choices=mode_choices,
        help="the modes of U2++ models (u2pp_conformer encoder) instead of --modes",
    )  # fmt: skip
    parser.add_argument(
        "--streaming_chunk_size", type=int, default=0,
        help="U2++ models only: also decode with --streaming_modes and attention chunks of "
        "this many encoder frames, into <output_dir>/chunk<N>/ (0: no)",
    )  # fmt: skip
    parser.add_argument(
        "--streaming_modes", nargs="+", choices=MODES, default=["streaming"],
        help="the modes of --streaming_chunk_size",
    )  # fmt: skip
    parser.add_argument("--beam_size", type=int, default=5, help="for beam (ESPnet)")
    parser.add_argument("--lm_dir", type=Path, help="lexicon.txt + lm.arpa for ctc_lexicon_lm")
    parser.add_argument("--lexicon_beam_size", type=int, default=32)
    parser.add_argument("--lm_weight", type=float, default=2.0)
    parser.add_argument("--word_score", type=float, default=0.0)
    parser.add_argument(
        "--tune_set", type=Path,
        help="held-out data dir on which --lm_weights x --word_scores is searched for the "
        "ctc_lexicon_lm weights (replacing --lm_weight/--word_score); never a test set",
    )  # fmt: skip
    parser.add_argument("--lm_weights", type=floats, default="0.5,1,1.5,2", help="for --tune_set")
    parser.add_argument("--word_scores", type=floats, default="-1,0,1", help="for --tune_set")
    parser.add_argument("--ctc_beam_size", type=int, default=10, help="CTC prefix beam / n-best")
    parser.add_argument(
        "--rescoring_ctc_weight", type=float, default=0.5, help="attention_rescoring, streaming"
    )
    parser.add_argument(
        "--reverse_weight", type=float, help="right-to-left decoder weight (default: model's)"
    )
    parser.add_argument(
        "--decoding_chunk_size", type=int, default=0,
        help="u2pp_conformer: attention chunks of this many encoder frames (0: full context); "
        "the chunk-masked output equals streaming's; required by --modes streaming",
    )  # fmt: skip
    parser.add_argument("--num_decoding_left_chunks", type=int, default=-1, help="-1: all")
    parser.add_argument("--nj", type=int, default=2, help="parallel decoding workers")
    parser.add_argument("--batch_seconds", type=float, default=60.0, help="audio per batch")
    parser.add_argument(
        "--num_jobs", type=int, default=1,
        help="decode only the --job-th of this many shares of each set, into <output_dir>/jobs/J",
    )  # fmt: skip
    parser.add_argument("--job", type=int, default=1, help="1..--num_jobs")
    parser.add_argument(
        "--merge_jobs", type=int, metavar="N",
        help="only assemble what --num_jobs N jobs wrote under <output_dir>/jobs/",
    )  # fmt: skip
    return parser


def choose_modes(args: argparse.Namespace, model: EagerModel) -> List[str]:
    """The modes to decode ``model`` with at full context (``--modes``, or ``--u2pp_modes``
    for a U2++ model), ``auto`` replaced by ``auto_modes``."""
    requested = args.u2pp_modes if model.chunk_attention and args.u2pp_modes else args.modes
    modes = []
    for mode in requested:
        modes += auto_modes(model, args.lm_dir is not None) if mode == "auto" else [mode]
    return list(dict.fromkeys(modes))


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    setup_cli_logging()
    if args.merge_jobs is not None:
        try:
            lines = merge_jobs(args.output_dir, args.merge_jobs)
        except (FileNotFoundError, ValueError) as error:
            parser.error(str(error))
        print(f"[decode] {args.output_dir}: {args.merge_jobs} jobs merged ({len(lines)} sets)")
        return
    if not args.data_dirs or args.asr_train_config is None or args.asr_model_file is None:
        parser.error("decoding needs data dirs, --asr_train_config and --asr_model_file")
    if not 1 <= args.job <= args.num_jobs:
        parser.error(f"--job {args.job}: must be in 1..--num_jobs ({args.num_jobs})")
    tune_set = args.tune_set if args.lm_dir else None  # used if the modes need the LM
    inputs = (args.asr_train_config, args.asr_model_file, args.lm_dir, tune_set, *args.data_dirs)
    for path in inputs:
        if path is not None and not path.exists():
            parser.error(f"not found: {path}")
    check_data_dirs(parser, args.asr_train_config, [*args.data_dirs, tune_set])
    speech2text = load_speech2text(args.asr_train_config, args.asr_model_file, args.beam_size)
    model = EagerModel(speech2text)
    modes = choose_modes(args, model)
    if "ctc_lexicon_lm" in modes and args.lm_dir is None:
        parser.error("--modes ctc_lexicon_lm needs --lm_dir")
    output_dir = args.output_dir
    if args.num_jobs > 1:
        output_dir = output_dir / "jobs" / str(args.job)
    passes = [(Path("."), modes, args.decoding_chunk_size)]
    if args.streaming_chunk_size > 0 and model.streamable:
        chunk = args.streaming_chunk_size
        passes.append((Path(f"chunk{chunk}"), list(args.streaming_modes), chunk))
    global _DECODING
    decodings = []
    for _, pass_modes, chunk_size in passes:
        options = DecodingOptions(
            args.ctc_beam_size, args.rescoring_ctc_weight, args.reverse_weight, chunk_size,
            args.num_decoding_left_chunks,
        )  # fmt: skip
        try:
            decodings.append(make_decoding(model, pass_modes, options))
        except ValueError as error:
            parser.error(f"{error} (modes {' '.join(pass_modes)}, chunk size {chunk_size})")
    if "ctc_lexicon_lm" in modes:
        if tune_set is not None:
            start = time.perf_counter()
            tuning = tune_lexicon_decoding(
                model, args.lm_dir, tune_set, args.lm_weights, args.word_scores,
                args.lexicon_beam_size, args.batch_seconds,
            )  # fmt: skip
            write_text_atomically(output_dir / "lm_tuning.json", json.dumps(tuning, indent=1))
            args.lm_weight, args.word_score = tuning["lm_weight"], tuning["word_score"]
            if args.job == 1:  # every job finds the same weights: one line is enough
                print(
                    f"[decode] {tune_set.name}: lm_weight {args.lm_weight}, word_score "
                    f"{args.word_score} (WER {tuning['wer']}%, {len(tuning['grid'])} pairs, "
                    f"{time.perf_counter() - start:.0f}s)",
                    flush=True,
                )
        decodings[0].lexicon_decoder = CTCLexiconDecoder(
            model.model.token_list,
            args.lm_dir,
            beam_size=args.lexicon_beam_size,
            lm_weight=args.lm_weight,
            word_score=args.word_score,
        )
    written = []
    for (subdir, _, _), decoding in zip(passes, decodings):
        _DECODING = decoding
        decode_sets(
            args.data_dirs, output_dir / subdir, args.nj, args.batch_seconds,
            (args.job, args.num_jobs),
        )  # fmt: skip
        written += [(subdir / mode).as_posix() for mode in decoding.modes]
    write_text_atomically(output_dir / DECODING_FILE, json.dumps({"modes": written}, indent=1))


if __name__ == "__main__":
    main()
