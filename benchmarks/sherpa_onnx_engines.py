"""sherpa-onnx vs this package's runtime vs eager PyTorch, on trained kaldi_fbank models.

The models of a recipe trained with ``--frontend kaldi_fbank`` (``<exp_dir>/asr_<model>``)
are decoded one utterance at a time by five engines: eager PyTorch (ESPnet's model, the
package's decoding core), the float32 and int8 exports of ``bin/export`` in the torch-free
runtime, and the float32 and int8 exports of ``bin/export --format sherpa-onnx`` in
sherpa-onnx's own recognizers. CTC models (dense, switch, omni) decode offline with CTC
greedy search; streamable U2++ models stream in chunks of ``--chunk_size`` encoder frames
with ``--num_left_chunks`` earlier chunks, fed one chunk of audio at a time: sherpa-onnx
with its greedy search, eager and runtime with the CTC prefix search of beam 1 and no
attention rescoring (the same work: features, encoder chunks, CTC). Every utterance goes
through every (model, engine), interleaved utterance by utterance (the order rotates), for
each thread count in turn.

    python benchmarks/sherpa_onnx_engines.py --exp_dir egs/espeak_en/asr1/exp \
        --data_dir egs/espeak_en/asr1/data --num_utterances 50
"""

import argparse
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
from common import markdown_table, ratio, write_report
from trained_models import (
    decode_test_sets,
    export,
    graph_megabytes,
    make_decoder,
    megabytes,
    set_wers,
)

from espnet_omnirouter.asr.decoding.eager_model import EagerModel
from espnet_omnirouter.asr.decoding.speech2text import load_speech2text
from espnet_omnirouter.runtime.exported_model import ExportedModel
from espnet_omnirouter.runtime.streaming import StreamingRecognizer
from espnet_omnirouter.scoring.wer import read_kaldi_text

ENGINES = ("eager", "runtime", "runtime_int8", "sherpa_onnx", "sherpa_onnx_int8")
MODELS = ("dense_kaldi_fbank", "omni_kaldi_fbank", "u2pp_dense_kaldi_fbank", "u2pp_moe_kaldi_fbank")
BASELINES = ("dense_kaldi_fbank", "u2pp_dense_kaldi_fbank")  # per mode: offline, streaming
MODEL_FILE = "valid.loss.ave.pth"
SAMPLE_RATE = 16000
FEATURE_DIM = 80
Decoder = Callable[[np.ndarray], str]


def sherpa_onnx_dir(model_dir: Path) -> Path:
    """``bin/export --format sherpa-onnx --int8`` of ``model_dir`` (skipped when there)."""
    output_dir = model_dir / "sherpa_onnx"
    if not (output_dir / "model.int8.onnx").is_file():
        export(model_dir, output_dir, int8=True, options=["--format", "sherpa-onnx"])
    return output_dir


def streaming_decoder(model, chunk_size: int, num_left_chunks: int) -> Decoder:
    """The runtime's StreamingRecognizer on ``model`` (eager or exported), CTC prefix search
    of beam 1, no rescoring, fed one chunk of audio at a time."""
    recognizer = StreamingRecognizer(model, chunk_size, num_left_chunks, 1, rescore=False)
    step = recognizer.samples_per_chunk

    def run(samples: np.ndarray) -> str:
        for start in range(0, len(samples), step):
            recognizer.accept_waveform(samples[start : start + step])
        return recognizer.finalize()

    return run


def sherpa_offline_decoder(model_dir: Path, model_file: str, threads: int) -> Decoder:
    import sherpa_onnx

    recognizer = sherpa_onnx.OfflineRecognizer.from_wenet_ctc(
        model=str(model_dir / model_file), tokens=str(model_dir / "tokens.txt"),
        num_threads=threads, sample_rate=SAMPLE_RATE, feature_dim=FEATURE_DIM,
    )  # fmt: skip

    def run(samples: np.ndarray) -> str:
        stream = recognizer.create_stream()
        stream.accept_waveform(SAMPLE_RATE, samples)
        recognizer.decode_stream(stream)
        return stream.result.text

    return run


def sherpa_online_decoder(
    model_dir: Path, model_file: str, threads: int, chunk_size: int, num_left_chunks: int,
    step: int,
) -> Decoder:  # fmt: skip
    import sherpa_onnx

    recognizer = sherpa_onnx.OnlineRecognizer.from_wenet_ctc(
        model=str(model_dir / model_file), tokens=str(model_dir / "tokens.txt"),
        chunk_size=chunk_size, num_left_chunks=num_left_chunks, num_threads=threads,
        sample_rate=SAMPLE_RATE, feature_dim=FEATURE_DIM, enable_endpoint_detection=False,
    )  # fmt: skip

    def run(samples: np.ndarray) -> str:
        stream = recognizer.create_stream()
        for start in range(0, len(samples), step):
            stream.accept_waveform(SAMPLE_RATE, samples[start : start + step])
            while recognizer.is_ready(stream):
                recognizer.decode_stream(stream)
        stream.input_finished()
        while recognizer.is_ready(stream):
            recognizer.decode_stream(stream)
        return recognizer.get_result(stream)

    return run


def model_decoders(
    model_dir: Path, threads: int, chunk_size: int, num_left_chunks: int
) -> Tuple[bool, Dict[str, Decoder], Dict[str, float]]:
    """Whether the model streams, and its decoder and weights' MB per engine."""
    sherpa = sherpa_onnx_dir(model_dir)
    sherpa_files = {"sherpa_onnx": "model.onnx", "sherpa_onnx_int8": "model.int8.onnx"}
    sizes = {engine: megabytes([sherpa / name]) for engine, name in sherpa_files.items()}
    ours = {"eager": "eager", "runtime": "onnx", "runtime_int8": "onnx_int8"}
    speech2text = load_speech2text(model_dir / "config.yaml", model_dir / MODEL_FILE, 1)
    eager = EagerModel(speech2text)
    decoders = {}
    if not eager.streamable:
        for engine, name in ours.items():
            decoders[engine], sizes[engine] = make_decoder(model_dir, name, threads)
        for engine, name in sherpa_files.items():
            decoders[engine] = sherpa_offline_decoder(sherpa, name, threads)
        return False, decoders, sizes
    sizes["eager"] = megabytes([model_dir / MODEL_FILE])
    decoders["eager"] = streaming_decoder(eager, chunk_size, num_left_chunks)
    for engine in ("runtime", "runtime_int8"):
        export_dir = model_dir / ours[engine]
        export(model_dir, export_dir, int8=engine == "runtime_int8")
        runtime = ExportedModel(export_dir, threads)
        decoders[engine] = streaming_decoder(runtime, chunk_size, num_left_chunks)
        sizes[engine] = graph_megabytes(export_dir)
    window, stride = eager.streaming_window(chunk_size)
    for engine, name in sherpa_files.items():
        decoders[engine] = sherpa_online_decoder(
            sherpa, name, threads, chunk_size, num_left_chunks, stride * eager.hop_length
        )
    # sherpa-onnx decodes whole chunks only: every engine hears a chunk's worth of silence
    # more, so that the last words are in a whole chunk for all of them.
    silence = np.zeros((window + 1) * eager.hop_length, dtype=np.float32)
    return True, {engine: _padded(d, silence) for engine, d in decoders.items()}, sizes


def _padded(decoder: Decoder, silence: np.ndarray) -> Decoder:
    return lambda samples: decoder(np.concatenate([samples, silence]))


def trained_by(exp_dir: Path) -> str:
    """The recipe command that last ran in ``exp_dir`` (its ``run_command.txt``)."""
    command = exp_dir / "run_command.txt"
    if command.is_file():  # "./run.sh ...", run in the recipe dir above exp_dir
        recipe_command = command.read_text().strip().replace("./", f"{exp_dir.parent}/", 1)
        return f"trained by `{recipe_command}`"
    return "trained with `--frontend kaldi_fbank`"


def normalise(text: str) -> str:
    return " ".join(text.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exp_dir", type=Path, required=True)
    parser.add_argument("--data_dir", type=Path, required=True)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument(
        "--baselines", nargs="+", default=list(BASELINES),
        help="the models RTF ratios refer to (one offline, one streaming)",
    )  # fmt: skip
    parser.add_argument("--test_set", default="test_clean")
    parser.add_argument("--num_utterances", type=int, help="of the test set (default: all)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chunk_size", type=int, default=16, help="encoder frames per chunk")
    parser.add_argument("--num_left_chunks", type=int, default=4)
    args = parser.parse_args()
    if args.num_left_chunks < 0:
        parser.error("--num_left_chunks: sherpa-onnx keeps a fixed number of chunks, >= 0")
    rows: List[List[str]] = []
    reference = read_kaldi_text(args.data_dir / args.test_set / "text")
    for threads in args.threads:
        torch.set_num_threads(threads)
        decoders, sizes, streams = {}, {}, {}
        for model in args.models:
            streams[model], engines, engine_sizes = model_decoders(
                args.exp_dir / f"asr_{model}", threads, args.chunk_size, args.num_left_chunks
            )
            for engine in ENGINES:
                decoders[model, engine] = engines[engine]
                sizes[model, engine] = engine_sizes[engine]
        texts, seconds, audio_seconds = decode_test_sets(
            decoders, args.data_dir, [args.test_set], args.num_utterances
        )
        texts = {key: {u: normalise(t) for u, t in value.items()} for key, value in texts.items()}
        decoded = texts[next(iter(decoders)), args.test_set]
        references = {args.test_set: {utt: reference[utt] for utt in decoded}}
        for model, engine in decoders:
            key, eager = (model, engine), (model, "eager")
            same = [text == texts[eager, args.test_set][utt]
                    for utt, text in texts[key, args.test_set].items()]  # fmt: skip
            baseline = next((b for b in args.baselines if b in streams
                             and streams[b] == streams[model]), None)  # fmt: skip
            mode = "offline"
            if streams[model]:
                mode = f"streaming {args.chunk_size}/{args.num_left_chunks}"
            rows.append([
                model, mode, str(threads), engine, f"{sizes[key]:.1f}",
                f"{set_wers(texts, references, key)[args.test_set]:.1f}",
                f"{100 * sum(same) / len(same):.0f}%", f"{seconds[key] / audio_seconds:.4f}",
                ratio(seconds[key], seconds[baseline, engine]) if baseline else "",
                ratio(seconds[eager], seconds[key]),
            ])  # fmt: skip
        del decoders
    import onnxruntime
    import sherpa_onnx

    write_report(
        "sherpa_onnx_cpu",
        "Deployment: sherpa-onnx vs the runtime vs eager, trained kaldi_fbank models (cpu)",
        f"The models of `{args.exp_dir}` (`{MODEL_FILE}`, {trained_by(args.exp_dir)}); "
        f"{len(decoded)} utterances ({audio_seconds / 60:.1f} min) of "
        f"{args.test_set}, decoded one at a time by eager PyTorch, this package's runtime "
        f"(ONNX Runtime {onnxruntime.__version__}; `bin/export`, `--int8`) and sherpa-onnx "
        f"{sherpa_onnx.__version__} (`bin/export --format sherpa-onnx --int8`), with the given "
        "intra-op threads, interleaved utterance by utterance. Offline: CTC greedy search "
        "over the whole utterance. Streaming: chunks of encoder frames / left chunks, the "
        "audio fed one chunk at a time, sherpa-onnx's greedy search and the runtime's CTC "
        "prefix search of beam 1 without rescoring; every engine hears one chunk of "
        "silence after each utterance (sherpa-onnx decodes whole chunks only). *MB*: the "
        "checkpoint (eager) or the graphs. WER in %; *same text*: utterances whose text "
        "equals eager's; RTF = decoding time / audio duration (from the samples: features, "
        "encoder, CTC, search); *vs dense*: time / time of the dense model of the same mode "
        "and engine; *speed-up*: eager time / time.\n\n"
        + markdown_table(
            [
                "model",
                "mode",
                "threads",
                "engine",
                "MB",
                f"WER {args.test_set}",
                "same text",
                "RTF",
                "vs dense",
                "speed-up",
            ],
            rows,
        ),  # fmt: skip
        torch.device("cpu"),
    )


if __name__ == "__main__":
    main()
