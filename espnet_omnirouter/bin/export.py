"""Export a trained model to ONNX for the torch-free runtime.

Usage:
    python -m espnet_omnirouter.bin.export --model exp/asr_u2pp_moe \
        --output_dir exp/asr_u2pp_moe/onnx
    python -m espnet_omnirouter.bin.export --model exp/asr_omni/packed/espeak_en_asr_omni.zip \
        --output_dir onnx_omni

--model is an experiment dir (config.yaml + --model_file inside it), a packed archive or
a model-zoo / Hugging Face id, as for ``bin/transcribe``. Any model type exports (dense,
switch, omni, U2++ dense or MoE); MoE layers keep sparse top-k routing in the graphs.
The output dir gets encoder.onnx and ctc.onnx, chunk_encoder.onnx (U2++ streaming, with
attention and convolution caches as inputs and outputs), decoder.onnx (models with
attention decoders, for rescoring), frontend.npz, export.json, the sentencepiece model
and a copy of the runtime; each graph is checked against the eager model. --int8 then
quantises the graphs in place (int8 weights per output channel, 8-bit dynamic activations,
MoE routers kept float32: ``export.quantize``): smaller graphs (1.8-2.5x for the default
recipe's models), outputs no longer equal to the eager model's. Transcribe with
``python -m espnet_omnirouter.runtime.transcribe --model <output_dir> a.wav``.

--format sherpa-onnx writes instead what k2-fsa's sherpa-onnx loads as a WeNet CTC model
(``export.sherpa_onnx``): model.onnx (offline for dense, switch, omni; the streaming
chunk graph for a streamable U2++ model), model.int8.onnx with --int8, and tokens.txt.
The model must have been trained with ``frontend: kaldi_fbank``.

Exit status: 0 exported; 2 bad command line; 4 the model cannot be loaded; 5 the model
cannot be exported (an unsupported component, named).
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

import espnet_omnirouter  # noqa: F401  (registers the plugin before the model is built)
from espnet_omnirouter.asr.decoding.speech2text import load_speech2text
from espnet_omnirouter.export.exporter import ExportError, export_model
from espnet_omnirouter.export.quantize import quantize_export
from espnet_omnirouter.export.sherpa_onnx import export_sherpa_onnx
from espnet_omnirouter.utils.extras import import_optional
from espnet_omnirouter.utils.model_files import ModelError, resolve_model

EXIT_BAD_MODEL = 4
EXIT_NOT_EXPORTABLE = 5


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="experiment dir, packed archive or id")
    parser.add_argument("--model_file", help="checkpoint name inside an experiment dir")
    parser.add_argument("--cache_dir", type=Path, help="where archives unpack (model zoo's)")
    parser.add_argument("--output_dir", type=Path, required=True, help="the export dir")
    parser.add_argument(
        "--max_frames", type=int, default=3000,
        help="longest input in encoder frames (3000 = 120 s at 40 ms per frame)",
    )  # fmt: skip
    parser.add_argument(
        "--int8", action="store_true",
        help="quantise the checked graphs to int8 (ONNX Runtime's dynamic quantisation)",
    )  # fmt: skip
    parser.add_argument(
        "--format", choices=["runtime", "sherpa-onnx"], default="runtime",
        help="runtime: this package's runtime (default); sherpa-onnx: a wenet_ctc model",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.max_frames < 1:
        parser.error(f"--max_frames must be >= 1, got {args.max_frames}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        for module in ("onnx", "onnxscript", "onnxruntime"):  # the exporter's and the check's
            import_optional(module, "ONNX export")
        model = resolve_model(args.model, args.model_file, args.cache_dir)
        print(f"[export] loading {model.checkpoint} ({model.config})", flush=True)
        speech2text = load_speech2text(model.config, model.checkpoint, beam_size=1)
    except (ModelError, OSError, ImportError, RuntimeError, ValueError) as error:
        print(f"export: {error}", file=sys.stderr)
        return EXIT_BAD_MODEL
    try:
        if args.format == "sherpa-onnx":
            export_sherpa_onnx(speech2text, args.output_dir, args.int8, args.max_frames)
            return 0
        export_model(speech2text, args.output_dir, max_frames=args.max_frames)
        if args.int8:
            sizes = quantize_export(args.output_dir)
            listing = ", ".join(f"{graph} {size / 2**20:.1f} MiB" for graph, size in sizes.items())
            print(f"[export] quantised to int8: {listing}", flush=True)
    except ExportError as error:
        print(f"export: {args.model}: {error}", file=sys.stderr)
        return EXIT_NOT_EXPORTABLE
    return 0


if __name__ == "__main__":
    sys.exit(main())
