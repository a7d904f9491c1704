"""Trained models decoded one utterance at a time: eager PyTorch, ONNX Runtime, and int8.

Each model of a recipe's experiment dir (``<exp_dir>/asr_<model>``) is decoded by three
engines: eager PyTorch (ESPnet's model, the package's CTC greedy search), its float32 export
(``bin/export``) and its int8 export (``bin/export --int8``: ONNX Runtime's dynamic
quantisation, routers kept float32), the last two in the torch-free runtime. Every utterance
of the test sets goes through every (model, engine), interleaved utterance by utterance in
one process (the order rotates) so that load from other processes slows them alike.
Reported per model and engine: the size of the weights, the in-domain and the average WER
and their change against eager, the share of utterances whose text equals eager's, and the
decoding real-time factor with its ratio to the baseline model on the same engine.

    python benchmarks/trained_models.py --exp_dir egs/espeak_en/asr1/exp \
        --data_dir egs/espeak_en/asr1/data --models dense switch omni
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import torch
from common import markdown_table, ratio, write_report

from espnet_omnirouter.asr.decoding.decoding_modes import decode_waves, make_decoding
from espnet_omnirouter.asr.decoding.eager_model import EagerModel
from espnet_omnirouter.asr.decoding.speech2text import load_speech2text
from espnet_omnirouter.data.kaldi_dir import read_wav_scp
from espnet_omnirouter.runtime.audio import load_audio
from espnet_omnirouter.runtime.decoding import decode
from espnet_omnirouter.runtime.exported_model import ExportedModel
from espnet_omnirouter.scoring.wer import read_kaldi_text, score

ENGINES = ("eager", "onnx", "onnx_int8")
TEST_SETS = (
    "test_clean", "test_noise", "test_reverb", "test_telephone",
    "test_fast", "test_accent", "test_flite", "test_text",
)  # fmt: skip
IN_DOMAIN = "test_clean"
MODEL_FILE = "valid.loss.ave.pth"
SAMPLE_RATE = 16000  # the models' rate: audio of another rate is resampled to it
Decoder = Callable[[np.ndarray], str]


def export(model_dir: Path, output_dir: Path, int8: bool, options: Sequence[str] = ()) -> None:
    """``bin/export`` (with ``options``) of ``model_dir`` into ``output_dir`` (skipped when
    ``export.json`` is there already)."""
    if (output_dir / "export.json").is_file():
        return
    command = [sys.executable, "-m", "espnet_omnirouter.bin.export", "--model", str(model_dir),
               "--output_dir", str(output_dir), *options] + ["--int8"] * int8  # fmt: skip
    print(f"[trained_models] exporting {model_dir} -> {output_dir}", flush=True)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def megabytes(paths: List[Path]) -> float:
    return sum(path.stat().st_size for path in paths) / 2**20


def graph_megabytes(export_dir: Path) -> float:
    """MB of an export's graphs and their external weight files."""
    return megabytes(list(export_dir.glob("*.onnx")) + list(export_dir.glob("*.onnx.data")))


def make_decoder(model_dir: Path, engine: str, threads: int) -> Tuple[Decoder, float]:
    """The CTC greedy decoder of one utterance's samples by ``engine``, and the MB of its
    weights (eager: the checkpoint; ONNX: the graphs)."""
    if engine == "eager":
        speech2text = load_speech2text(model_dir / "config.yaml", model_dir / MODEL_FILE, 1)
        decoding = make_decoding(EagerModel(speech2text), ["ctc_greedy"])

        def eager(samples: np.ndarray) -> str:
            with torch.no_grad():
                texts, _ = decode_waves(decoding, [torch.from_numpy(samples)])["ctc_greedy"]
            return texts[0]

        return eager, megabytes([model_dir / MODEL_FILE])
    output_dir = model_dir / engine
    export(model_dir, output_dir, int8=engine == "onnx_int8")
    runtime = ExportedModel(output_dir, threads)
    if runtime.sample_rate != SAMPLE_RATE:
        raise ValueError(f"{output_dir}: a {runtime.sample_rate} Hz model; this script decodes "
                         f"at {SAMPLE_RATE} Hz")  # fmt: skip
    return (lambda samples: decode(runtime, samples)), graph_megabytes(output_dir)


def decode_test_sets(
    decoders: Dict[Tuple[str, str], Decoder],
    data_dir: Path,
    test_sets: List[str],
    num_utterances: int | None,
) -> Tuple[Dict, Dict[Tuple[str, str], float], float]:
    """The first ``num_utterances`` (None: all) utterances of each set decoded by every
    decoder, interleaved (the order rotates), after one untimed decoding each.

    Returns the texts per (decoder, set) as {utt: text}, the decoding seconds per decoder
    and the seconds of audio.
    """
    keys = list(decoders)
    _, first = min(read_wav_scp(data_dir / test_sets[0]).items())
    for decoder in decoders.values():  # warm-up: sessions are created on first use
        decoder(load_audio(Path(first), SAMPLE_RATE))
    texts = {(key, test_set): {} for key in keys for test_set in test_sets}
    seconds = dict.fromkeys(keys, 0.0)
    audio_seconds, count = 0.0, 0
    for test_set in test_sets:
        utterances = sorted(read_wav_scp(data_dir / test_set).items())[:num_utterances]
        for utt, path in utterances:
            samples = load_audio(Path(path), SAMPLE_RATE)
            audio_seconds += len(samples) / SAMPLE_RATE
            count += 1
            for key in keys[count % len(keys) :] + keys[: count % len(keys)]:
                start = time.perf_counter()
                texts[key, test_set][utt] = decoders[key](samples)
                seconds[key] += time.perf_counter() - start
        print(f"[trained_models] {test_set}: {len(utterances)} utterances decoded", flush=True)
    return texts, seconds, audio_seconds


def set_wers(
    texts: Dict, references: Dict[str, Dict[str, str]], key: Tuple[str, str]
) -> Dict[str, float]:
    """{test set: WER in %} of one decoder's texts."""
    return {s: score(reference, texts[key, s]).wer for s, reference in references.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exp_dir", type=Path, required=True)
    parser.add_argument("--data_dir", type=Path, required=True)
    parser.add_argument("--models", nargs="+", default=["dense", "switch", "omni"])
    parser.add_argument("--baseline", default="dense", help="the model RTF ratios refer to")
    parser.add_argument("--test_sets", nargs="+", default=list(TEST_SETS))
    parser.add_argument("--num_utterances", type=int, help="per test set (default: all)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads, each engine")
    args = parser.parse_args()
    if args.baseline not in args.models:
        parser.error(f"--baseline {args.baseline} is not one of --models {args.models}")
    torch.set_num_threads(args.threads)
    decoders, sizes = {}, {}
    for model in args.models:
        for engine in ENGINES:
            key = model, engine
            decoders[key], sizes[key] = make_decoder(args.exp_dir / f"asr_{model}", engine,
                                                     args.threads)  # fmt: skip
    texts, seconds, audio_seconds = decode_test_sets(
        decoders, args.data_dir, args.test_sets, args.num_utterances
    )
    references = {
        s: {utt: text for utt, text in read_kaldi_text(args.data_dir / s / "text").items()
            if utt in texts[next(iter(decoders)), s]}
        for s in args.test_sets
    }  # fmt: skip
    wers = {key: set_wers(texts, references, key) for key in decoders}
    in_domain = IN_DOMAIN if IN_DOMAIN in args.test_sets else args.test_sets[0]
    rows = []
    for model, engine in decoders:
        key, eager = (model, engine), (model, "eager")
        average, eager_average = (sum(wers[k].values()) / len(wers[k]) for k in (key, eager))
        pairs = [(text, texts[eager, s][utt]) for s in args.test_sets
                 for utt, text in texts[key, s].items()]  # fmt: skip
        rows.append([
            model, engine, f"{sizes[key]:.1f}",
            f"{wers[key][in_domain]:.1f}", f"{wers[key][in_domain] - wers[eager][in_domain]:+.1f}",
            f"{average:.1f}", f"{average - eager_average:+.1f}",
            f"{100 * sum(a == b for a, b in pairs) / len(pairs):.0f}%",
            f"{seconds[key] / audio_seconds:.4f}",
            ratio(seconds[key], seconds[args.baseline, engine]),
            ratio(seconds[eager], seconds[key]),
        ])  # fmt: skip
    import onnxruntime

    write_report(
        "trained_models_cpu",
        "Deployment: trained models, eager vs ONNX Runtime vs int8, batch 1 (cpu)",
        f"The trained models of `{args.exp_dir}` (`{MODEL_FILE}`); "
        f"{sum(len(r) for r in references.values())} utterances "
        f"({audio_seconds / 60:.1f} min) of {', '.join(args.test_sets)}, decoded one at a "
        "time with CTC greedy search by eager PyTorch, by the float32 export of `bin/export` "
        "and by the int8 export of `bin/export --int8` (torch-free runtime, ONNX Runtime "
        f"{onnxruntime.__version__}), {args.threads} intra-op thread(s) each, interleaved "
        "utterance by utterance. *MB*: the checkpoint (eager) or the graphs. WER in %, "
        "average over the sets; *Δ*: against the same model in eager PyTorch; *same text*: "
        "utterances whose text equals eager's; RTF = decoding time / audio duration (from "
        f"the samples: features, encoder, CTC, search); *vs {args.baseline}*: time / time "
        f"of {args.baseline} on the same engine; *speed-up*: eager time / time.\n\n"
        + markdown_table(
            [
                "model",
                "engine",
                "MB",
                f"WER {in_domain}",
                "Δ",
                "WER avg",
                "Δ avg",
                "same text",
                "RTF",
                f"vs {args.baseline}",
                "speed-up",
            ],
            rows,
        ),  # fmt: skip
        torch.device("cpu"),
    )


if __name__ == "__main__":
    main()
