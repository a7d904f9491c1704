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
- ``beam``: ESPnet's Speech2Text beam search (uses the attention decoder where the model
  has one), one utterance at a time.

The model is loaded once, then ``--nj`` forked workers share it, so ESPnet's start-up
is paid once per model, not per set or job.
"""

import argparse
import json
import logging
import multiprocessing
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import soundfile
import torch
import yaml

import espnet_omnirouter  # noqa: F401  (registers the plugin before the model is built)
from espnet_omnirouter.asr.decoding.ctc_lexicon_decoder import CTCLexiconDecoder
from espnet_omnirouter.data.kaldi_dir import validate_data_dir
from espnet_omnirouter.scoring.wer import read_kaldi_text, score
from espnet_omnirouter.utils.files import write_text_atomically

MODES = ("ctc_greedy", "ctc_lexicon_lm", "beam")
# Set in the parent before the workers fork, inherited by them: the loaded Speech2Text, the
# lexicon decoder (or None) and the modes to run.
_SPEECH2TEXT = None
_LEXICON_DECODER: Optional[CTCLexiconDecoder] = None
_MODES: Sequence[str] = ()
# A batch to decode: (utt_id, wav path) pairs.
Batch = List[Tuple[str, str]]


def load_speech2text(config: Path, model_file: Path, beam_size: int):
    from espnet2.bin.asr_inference import Speech2Text

    return Speech2Text(
        asr_train_config=str(config),
        asr_model_file=str(model_file),
        device="cpu",
        beam_size=beam_size,
        ctc_weight=1.0 if _is_ctc_only(config) else 0.3,
        nbest=1,
    )


def _is_ctc_only(config: Path) -> bool:
    conf = yaml.safe_load(config.read_text())
    return conf.get("decoder") is None or conf.get("model_conf", {}).get("ctc_weight") == 1.0


def ctc_log_probs(speech2text, waves: List[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Encode a batch of waveforms: CTC log-probabilities (B, T, V) and lengths (B,)."""
    model = speech2text.asr_model
    lengths = torch.tensor([len(w) for w in waves])
    speech = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
    encoded, encoded_lengths = model.encode(speech, lengths)
    return model.ctc.log_softmax(encoded), encoded_lengths


def ctc_greedy(speech2text, log_probs: torch.Tensor, lengths: torch.Tensor) -> List[str]:
    """CTC best path: argmax per frame, merge repeats, drop blanks."""
    blank_id = speech2text.asr_model.blank_id
    texts = []
    for path, length in zip(log_probs.argmax(-1), lengths):
        ids = torch.unique_consecutive(path[:length])
        ids = [i for i in ids.tolist() if i != blank_id]
        tokens = speech2text.converter.ids2tokens(ids)
        texts.append(speech2text.tokenizer.tokens2text(tokens) if tokens else "")
    return texts


def read_waves(batch: Batch) -> List[torch.Tensor]:
    """The float32 samples of each (utt_id, wav path) of ``batch``."""
    return [torch.from_numpy(soundfile.read(path, dtype="float32")[0]) for _, path in batch]


def decode_batch(batch: Batch) -> Dict[str, Tuple[List[str], float]]:
    """Decode one batch in a worker: per mode, the texts (in batch order) and seconds spent."""
    waves = read_waves(batch)
    results = {}
    with torch.no_grad():
        if "ctc_greedy" in _MODES or "ctc_lexicon_lm" in _MODES:
            start = time.perf_counter()
            log_probs, lengths = ctc_log_probs(_SPEECH2TEXT, waves)
            encoder_seconds = time.perf_counter() - start
        for mode in _MODES:
            start = time.perf_counter()
            if mode == "ctc_greedy":
                texts = ctc_greedy(_SPEECH2TEXT, log_probs, lengths)
            elif mode == "ctc_lexicon_lm":
                texts = _LEXICON_DECODER(log_probs, lengths)
            else:
                texts = [_SPEECH2TEXT(wave)[0][0] for wave in waves]
            seconds = time.perf_counter() - start
            results[mode] = (texts, seconds + (encoder_seconds if mode != "beam" else 0.0))
    return results


def make_batches(wav_scp: Dict[str, str], batch_seconds: float) -> Tuple[List[Batch], float]:
    """Group utterances of similar length into batches; total seconds of audio."""
    durations = {utt: soundfile.info(path).duration for utt, path in wav_scp.items()}
    order = sorted(wav_scp, key=durations.get)
    batches, current, seconds = [], [], 0.0
    for utt in order:
        if current and seconds + durations[utt] > batch_seconds:
            batches.append(current)
            current, seconds = [], 0.0
        current.append((utt, wav_scp[utt]))
        seconds += durations[utt]
    if current:
        batches.append(current)
    return batches, sum(durations.values())


def _init_worker() -> None:
    torch.set_num_threads(1)


def decode_sets(data_dirs: Sequence[Path], output_dir: Path, nj: int, batch_seconds: float) -> None:
    """Decode every data dir with every mode of ``_MODES``; one line of progress per set."""
    context = multiprocessing.get_context("fork")
    with context.Pool(nj, initializer=_init_worker) as pool:
        for data_dir in data_dirs:
            validate_data_dir(data_dir, check_audio=False)
            wav_scp = dict(
                line.split(maxsplit=1) for line in (data_dir / "wav.scp").read_text().splitlines()
            )
            # beam search decodes one utterance at a time: one per batch balances the jobs
            batches, audio_seconds = make_batches(wav_scp, 0 if "beam" in _MODES else batch_seconds)
            texts = {mode: {} for mode in _MODES}
            seconds = dict.fromkeys(_MODES, 0.0)
            for batch, results in zip(batches, pool.imap(decode_batch, batches)):
                for mode, (batch_texts, batch_seconds_spent) in results.items():
                    texts[mode].update(zip((utt for utt, _ in batch), batch_texts))
                    seconds[mode] += batch_seconds_spent
            summary = []
            for mode in _MODES:
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
    validate_data_dir(tune_set, check_audio=False)
    wav_scp = read_kaldi_text(tune_set / "wav.scp")
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
    logging.basicConfig(level=logging.WARNING)
    global _SPEECH2TEXT, _LEXICON_DECODER, _MODES
    _MODES = list(dict.fromkeys(args.modes))
    _SPEECH2TEXT = load_speech2text(args.asr_train_config, args.asr_model_file, args.beam_size)
    _SPEECH2TEXT.asr_model.eval()
    if tune_set is not None:
        start = time.perf_counter()
        tuning = tune_lexicon_decoding(
            _SPEECH2TEXT, lm_dir, tune_set, args.lm_weights, args.word_scores,
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
    if "ctc_lexicon_lm" in _MODES:
        _LEXICON_DECODER = CTCLexiconDecoder(
            _SPEECH2TEXT.asr_model.token_list,
            args.lm_dir,
            beam_size=args.lexicon_beam_size,
            lm_weight=args.lm_weight,
            word_score=args.word_score,
        )
    decode_sets(args.data_dirs, args.output_dir, args.nj, args.batch_seconds)


if __name__ == "__main__":
    main()
