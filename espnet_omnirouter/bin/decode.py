"""Decode Kaldi data dirs with a trained model, loading it once for every set.

Usage:
    python -m espnet_omnirouter.bin.decode --asr_train_config exp/asr_omni/config.yaml \
        --asr_model_file exp/asr_omni/valid.loss.ave.pth --output_dir exp/asr_omni/decode \
        --nj 2 data/test_clean data/test_noise ...

Writes <output_dir>/<mode>/<set>/text (Kaldi format) and <output_dir>/<mode>/<set>/rtf
(decoding time of one job / audio duration) for every mode of ``--modes``:

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
- ``streaming`` (U2++): the audio of each utterance fed chunk by chunk to a
  ``StreamingRecognizer`` (CTC prefix beam search, then attention rescoring): the real-time
  factor of streaming; its text equals ``attention_rescoring`` with the same chunk size.

The ctc_* and attention_rescoring modes share one batched encoder pass (its time counts in
each mode's RTF). ``--decoding_chunk_size N`` (U2++ encoders) decodes with chunk attention of
N encoder frames, which gives exactly what streaming gives.

The model is loaded once, then ``--nj`` forked workers share it, so ESPnet's start-up
is paid once per model, not per set or job.

Before that, every data dir is checked (ids consistent, audio readable and at the model's
sample rate); the run stops with every problem listed and nothing written. Utterances too
short for the encoder (empty audio included) get the empty hypothesis.
"""

import argparse
import json
import logging
import multiprocessing
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import yaml

import espnet_omnirouter  # noqa: F401  (registers the plugin before the model is built)
from espnet_omnirouter.asr.decoding.batch_search import ctc_log_probs, load_speech2text
from espnet_omnirouter.asr.decoding.ctc_lexicon_decoder import CTCLexiconDecoder
from espnet_omnirouter.asr.decoding.decoding_modes import (
    MODES,
    Decoding,
    decode_waves,
    make_decoding,
)
from espnet_omnirouter.data.audio_batches import Batch, make_batches, read_waves
from espnet_omnirouter.data.kaldi_dir import DataDirError, read_wav_scp, validate_data_dir
from espnet_omnirouter.scoring.wer import read_kaldi_text, score
from espnet_omnirouter.utils.files import write_text_atomically
from espnet_omnirouter.utils.model_config import frontend_sample_rate

_DECODING: Optional[Decoding] = None


def decode_batch(batch: Batch) -> Dict[str, Tuple[List[str], float]]:
    """Decode one batch in a worker (see ``decode_waves``)."""
    return decode_waves(_DECODING, read_waves(batch))


def _init_worker() -> None:
    torch.set_num_threads(1)


def decode_sets(data_dirs: Sequence[Path], output_dir: Path, nj: int, batch_seconds: float) -> None:
    """Decode every data dir with every mode of ``_DECODING``; one line of progress per set."""
    modes = _DECODING.modes
    context = multiprocessing.get_context("fork")
    with context.Pool(nj, initializer=_init_worker) as pool:
        for data_dir in data_dirs:
            wav_scp = read_wav_scp(data_dir)
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
                rtf = seconds[mode] / audio_seconds
                write_text_atomically(target / "rtf", f"{rtf:.4f}\n")
                summary.append(f"{mode} RTF {rtf:.3f}")
            print(
                f"[decode] {data_dir.name}: {len(wav_scp)} utterances, {audio_seconds:.0f}s audio, "
                f"{nj} jobs: {', '.join(summary)}",
                flush=True,
            )


def tune_lexicon_decoding(
    speech2text,
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
            utts = [utt for utt, _ in batch]
            encoded.append((utts, *ctc_log_probs(speech2text, read_waves(batch))))
    references = read_kaldi_text(tune_set / "text")
    grid = {}
    for lm_weight in lm_weights:
        for word_score in word_scores:
            decoder = CTCLexiconDecoder(
                speech2text.asr_model.token_list, lm_dir, beam_size, lm_weight, word_score
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dirs", type=Path, nargs="+")
    parser.add_argument("--asr_train_config", type=Path, required=True)
    parser.add_argument("--asr_model_file", type=Path, required=True)
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=["ctc_greedy"])
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
    args = parser.parse_args()
    if "ctc_lexicon_lm" in args.modes and args.lm_dir is None:
        parser.error("--modes ctc_lexicon_lm needs --lm_dir")
    lm_dir = args.lm_dir if "ctc_lexicon_lm" in args.modes else None
    tune_set = args.tune_set if lm_dir else None
    for path in (args.asr_train_config, args.asr_model_file, lm_dir, tune_set, *args.data_dirs):
        if path is not None and not path.exists():
            parser.error(f"not found: {path}")
    check_data_dirs(parser, args.asr_train_config, [*args.data_dirs, tune_set])
    logging.basicConfig(level=logging.WARNING)
    speech2text = load_speech2text(args.asr_train_config, args.asr_model_file, args.beam_size)
    speech2text.asr_model.eval()
    global _DECODING
    try:
        _DECODING = make_decoding(
            speech2text, args.modes, args.ctc_beam_size, args.rescoring_ctc_weight,
            args.reverse_weight, args.decoding_chunk_size, args.num_decoding_left_chunks,
        )  # fmt: skip
    except ValueError as error:
        parser.error(str(error))
    if tune_set is not None:
        start = time.perf_counter()
        tuning = tune_lexicon_decoding(
            speech2text, lm_dir, tune_set, args.lm_weights, args.word_scores,
            args.lexicon_beam_size, args.batch_seconds,
        )  # fmt: skip
        write_text_atomically(args.output_dir / "lm_tuning.json", json.dumps(tuning, indent=1))
        args.lm_weight, args.word_score = tuning["lm_weight"], tuning["word_score"]
        print(
            f"[decode] {tune_set.name}: lm_weight {args.lm_weight}, word_score "
            f"{args.word_score} (WER {tuning['wer']}%, {len(tuning['grid'])} pairs, "
            f"{time.perf_counter() - start:.0f}s)",
            flush=True,
        )
    if "ctc_lexicon_lm" in args.modes:
        _DECODING.lexicon_decoder = CTCLexiconDecoder(
            speech2text.asr_model.token_list,
            args.lm_dir,
            beam_size=args.lexicon_beam_size,
            lm_weight=args.lm_weight,
            word_score=args.word_score,
        )
    decode_sets(args.data_dirs, args.output_dir, args.nj, args.batch_seconds)


if __name__ == "__main__":
    main()
