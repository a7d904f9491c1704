"""Decode Kaldi data dirs with a trained model, loading it once for every set.

Usage:
    python -m espnet_omnirouter.bin.decode --asr_train_config exp/asr_omni/config.yaml \
        --asr_model_file exp/asr_omni/valid.loss.ave.pth --output_dir exp/asr_omni/decode \
        --nj 2 data/test_clean data/test_noise ...

Writes <output_dir>/<set>/text (Kaldi format) and <output_dir>/<set>/rtf (decoding time /
audio duration). Modes: ``ctc_greedy`` (batched CTC best path, default) or ``beam``
(ESPnet's Speech2Text beam search; uses the attention decoder where the model has one).
The model is loaded once, then ``--nj`` forked workers share it, so ESPnet's start-up
is paid once per model, not per set or job.
"""

import argparse
import logging
import multiprocessing
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import soundfile
import torch
import yaml

import espnet_omnirouter  # noqa: F401  (registers the plugin before the model is built)
from espnet_omnirouter.data.kaldi_dir import validate_data_dir

_DECODER = None  # the loaded Speech2Text, inherited by forked workers
# A batch to decode: the mode and its (utt_id, wav path) pairs.
Batch = Tuple[str, List[Tuple[str, str]]]


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


def ctc_greedy(speech2text, waves: List[torch.Tensor]) -> List[str]:
    """Batched CTC best path: argmax per frame, merge repeats, drop blanks."""
    model = speech2text.asr_model
    lengths = torch.tensor([len(w) for w in waves])
    speech = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
    encoded, encoded_lengths = model.encode(speech, lengths)
    best = model.ctc.argmax(encoded)
    texts = []
    for path, length in zip(best, encoded_lengths):
        ids = torch.unique_consecutive(path[:length])
        ids = [i for i in ids.tolist() if i != model.blank_id]
        tokens = speech2text.converter.ids2tokens(ids)
        texts.append(speech2text.tokenizer.tokens2text(tokens) if tokens else "")
    return texts


def decode_batch(batch: Batch) -> List[Tuple[str, str]]:
    """Decode one batch of (utt_id, wav path) in a worker; returns (utt_id, text)."""
    mode, items = batch
    waves = []
    for _, path in items:
        audio, _ = soundfile.read(path, dtype="float32")
        waves.append(torch.from_numpy(audio))
    with torch.no_grad():
        if mode == "ctc_greedy":
            texts = ctc_greedy(_DECODER, waves)
        else:
            texts = [_DECODER(wave)[0][0] for wave in waves]
    return [(utt, text) for (utt, _), text in zip(items, texts)]


def make_batches(
    wav_scp: Dict[str, str], batch_seconds: float, mode: str
) -> Tuple[List[Batch], float]:
    """Group utterances of similar length (beam search: one at a time); total seconds."""
    durations = {utt: soundfile.info(path).duration for utt, path in wav_scp.items()}
    order = sorted(wav_scp, key=durations.get)
    batches, current, seconds = [], [], 0.0
    for utt in order:
        if current and (mode == "beam" or seconds + durations[utt] > batch_seconds):
            batches.append((mode, current))
            current, seconds = [], 0.0
        current.append((utt, wav_scp[utt]))
        seconds += durations[utt]
    if current:
        batches.append((mode, current))
    return batches, sum(durations.values())


def _init_worker() -> None:
    torch.set_num_threads(1)


def decode_sets(
    data_dirs: Sequence[Path], output_dir: Path, mode: str, nj: int, batch_seconds: float
) -> None:
    context = multiprocessing.get_context("fork")
    with context.Pool(nj, initializer=_init_worker) as pool:
        for data_dir in data_dirs:
            validate_data_dir(data_dir, check_audio=False)
            wav_scp = dict(
                line.split(maxsplit=1) for line in (data_dir / "wav.scp").read_text().splitlines()
            )
            batches, audio_seconds = make_batches(wav_scp, batch_seconds, mode)
            start = time.perf_counter()
            results = dict(item for batch in pool.imap(decode_batch, batches) for item in batch)
            elapsed = time.perf_counter() - start
            target = output_dir / data_dir.name
            target.mkdir(parents=True, exist_ok=True)
            staging = target / "text.tmp"
            staging.write_text("".join(f"{utt} {results[utt]}\n" for utt in sorted(results)))
            staging.replace(target / "text")
            rtf = elapsed * nj / audio_seconds
            (target / "rtf").write_text(f"{rtf:.4f}\n")
            print(
                f"[decode] {data_dir.name}: {len(results)} utterances, "
                f"{audio_seconds:.0f}s audio in {elapsed:.1f}s with {nj} jobs (RTF {rtf:.3f})",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dirs", type=Path, nargs="+")
    parser.add_argument("--asr_train_config", type=Path, required=True)
    parser.add_argument("--asr_model_file", type=Path, required=True)
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--mode", choices=["ctc_greedy", "beam"], default="ctc_greedy")
    parser.add_argument("--beam_size", type=int, default=5)
    parser.add_argument("--nj", type=int, default=2, help="parallel decoding workers")
    parser.add_argument("--batch_seconds", type=float, default=60.0, help="audio per batch")
    args = parser.parse_args()
    for path in (args.asr_train_config, args.asr_model_file, *args.data_dirs):
        if not path.exists():
            parser.error(f"not found: {path}")
    logging.basicConfig(level=logging.WARNING)
    global _DECODER
    _DECODER = load_speech2text(args.asr_train_config, args.asr_model_file, args.beam_size)
    _DECODER.asr_model.eval()
    decode_sets(args.data_dirs, args.output_dir, args.mode, args.nj, args.batch_seconds)


if __name__ == "__main__":
    main()
