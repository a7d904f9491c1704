"""Record and analyse the expert choices of a trained model on Kaldi data dirs.

Usage:
    python -m espnet_omnirouter.bin.analyze_routing --model exp/asr_omni \
        --output_dir exp/asr_omni/routing data/test_clean data/test_noise ... \
        --ablation_set data/test_clean --ablation_fractions 0,0.1,0.5,1

--model is an experiment dir, a packed archive or a zoo id (as for bin/transcribe). The
encoder runs over every utterance (batched, no decoding); each MoE layer's top-1 expert,
gate and router entropy are recorded for every non-padding frame and folded into running
counts, so memory stays flat however much data is given. Written to --output_dir:

    routing_stats.json      everything below, plus the expert per frame of a few utterances
    association_cramers_v.csv, association_nmi.csv
                            L x L association between layers' choices (the plots use V)
    expert_load.csv         share of frames per layer and expert; router entropy
    usage_by_set.csv        the same per data dir (expert specialisation by condition)
    *.png                   association heatmap, expert load, expert per frame,
                            specialisation by set, and (with --ablation_set) the ablation

The ablation decodes the --ablation_set dirs with CTC greedy search while a fraction of all
routing decisions go to a random other expert (gates kept), and reports the WER per
fraction (bin/plot_routing compares models). --ablation_set may be repeated.
"""

import argparse
import csv
import io
import json
import shutil
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

import espnet_omnirouter  # noqa: F401  (registers the plugin before the model is built)
from espnet_omnirouter.analysis import plots
from espnet_omnirouter.analysis.reassignment import random_reassignment
from espnet_omnirouter.analysis.routing_statistics import RoutingStatistics
from espnet_omnirouter.asr.decoding.decoding_modes import Decoding, decode_waves
from espnet_omnirouter.asr.decoding.eager_model import EagerModel
from espnet_omnirouter.asr.decoding.loading import load_decoding
from espnet_omnirouter.data.audio_batches import make_batches, read_waves
from espnet_omnirouter.data.kaldi_dir import read_wav_scp
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.routing import RoutingRecord, collect_routing
from espnet_omnirouter.scoring.wer import read_kaldi_text, score
from espnet_omnirouter.utils.console import setup_cli_logging
from espnet_omnirouter.utils.files import write_text_atomically
from espnet_omnirouter.utils.model_files import ModelError


def moe_layers(model: torch.nn.Module) -> List[MoEFeedForward]:
    """The encoder's MoE layers in depth order (a block's macaron FFN first)."""
    return getattr(model.encoder, "moe_layers", [])


def top1_gate(record: RoutingRecord) -> torch.Tensor:
    """The gate weight of each frame's first expert in one forward of a layer."""
    if record.layer.gate_normalization == "topk_softmax":
        return record.logits.gather(1, record.expert_index).softmax(-1)[:, 0]
    return record.probs.gather(1, record.expert_index[:, :1])[:, 0]


def batch_routing(records: Sequence[RoutingRecord]) -> Tuple[np.ndarray, ...]:
    """(L, N) top-1 expert, its gate and the router entropy of the N non-padding frames
    of one encoder forward (utterance after utterance, in batch order), from the
    records of its L MoE layers."""
    choices = torch.stack([r.expert_index[:, 0] for r in records])
    gates = torch.stack([top1_gate(record) for record in records])
    entropies = torch.stack([-(r.probs * r.probs.clamp_min(1e-9).log()).sum(-1) for r in records])
    return choices.numpy(), gates.numpy(), entropies.numpy()


def read_batches(wav_scp: Dict[str, str], batch_seconds: float):
    """(batch of (utt, wav path), waveforms) of a data dir, similar lengths together."""
    batches, _ = make_batches(wav_scp, batch_seconds)
    for batch in batches:
        yield batch, read_waves(batch)


def analyze(
    model: EagerModel, data_dirs: Sequence[Path], batch_seconds: float, num_examples: int
) -> dict:
    """Routing statistics of every data dir (``RoutingStatistics.summary()``), plus
    ``examples``: per-frame choices and gates of the first utterances of the first dir."""
    layers = moe_layers(model.model)
    if not layers:
        return {"layers": [], "num_experts": 0, "frames": 0, "examples": []}
    statistics = RoutingStatistics([layer.layer_name for layer in layers], layers[0].num_experts)
    examples = []
    for index, data_dir in enumerate(data_dirs):
        start, frames = time.perf_counter(), statistics.frames
        wav_scp = read_wav_scp(data_dir)
        wanted = set(sorted(wav_scp)[:num_examples]) if index == 0 else set()
        for batch, waves in read_batches(wav_scp, batch_seconds):
            with collect_routing() as records:
                _, lengths = model.encode_waves(waves)
            choices, gates, entropies = batch_routing(records)
            statistics.update(data_dir.name, choices, entropies)
            offsets = np.cumsum([0, *lengths.tolist()])
            for (utt, _), begin, end in zip(batch, offsets[:-1], offsets[1:]):
                if utt in wanted:
                    examples.append(
                        {
                            "utt": utt,
                            "set": data_dir.name,
                            "choices": choices[:, begin:end].tolist(),
                            "gates": np.round(gates[:, begin:end], 4).tolist(),
                        }
                    )
        print(
            f"[routing] {data_dir.name}: {statistics.frames - frames} frames "
            f"({time.perf_counter() - start:.0f}s)",
            flush=True,
        )
    return {**statistics.summary(), "examples": sorted(examples, key=lambda e: e["utt"])}


def reassignment_ablation(
    decoding: Decoding, data_dirs: Sequence[Path], fractions: Sequence[float], batch_seconds: float
) -> dict:
    """WER (CTC greedy, pooled over ``data_dirs``) with each fraction of routing
    decisions reassigned at random (seeded: the same draws for every model)."""
    references = {
        f"{data_dir.name}/{utt}": text
        for data_dir in data_dirs
        for utt, text in read_kaldi_text(data_dir / "text").items()
    }
    wer = {}
    for fraction in fractions:
        generator = torch.Generator().manual_seed(0)
        hypotheses = {}
        with random_reassignment(decoding.model.model, fraction, generator):
            for data_dir in data_dirs:
                for batch, waves in read_batches(read_wav_scp(data_dir), batch_seconds):
                    texts, _ = decode_waves(decoding, waves)["ctc_greedy"]
                    for (utt, _), text in zip(batch, texts):
                        hypotheses[f"{data_dir.name}/{utt}"] = text
        wer[str(fraction)] = round(score(references, hypotheses).wer, 2)
        print(
            f"[routing] {100 * fraction:g}% reassigned: WER {wer[str(fraction)]:.1f}%", flush=True
        )
    return {"decoding": "ctc_greedy", "sets": [d.name for d in data_dirs], "wer": wer}


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text_atomically(path, buffer.getvalue())


def write_outputs(name: str, summary: dict, output_dir: Path) -> None:
    """The JSON, CSV tables and plots of one model's analysis into ``output_dir``."""
    write_text_atomically(output_dir / "routing_stats.json", json.dumps(summary, indent=1))
    layers = summary["layers"]
    if not layers:
        return
    for measure in ("cramers_v", "nmi"):
        rows = [[layer, *np.round(row, 4)] for layer, row in zip(layers, summary[measure])]
        write_csv(output_dir / f"association_{measure}.csv", ["layer", *layers], rows)
    experts = [f"expert{e}" for e in range(summary["num_experts"])]
    rows = [
        [layer, *np.round(load, 4), round(entropy, 4)]
        for layer, load, entropy in zip(layers, summary["load"], summary["entropy"])
    ]
    write_csv(output_dir / "expert_load.csv", ["layer", *experts, "entropy"], rows)
    rows = [
        [set_name, layer, *np.round(load, 4)]
        for set_name, usage in summary["usage_by_set"].items()
        for layer, load in zip(layers, usage)
    ]
    write_csv(output_dir / "usage_by_set.csv", ["set", "layer", *experts], rows)
    model = [(name, summary)]
    plots.plot_association(model, output_dir / "association.png")
    plots.plot_expert_load(model, output_dir / "expert_load.png")
    plots.plot_routing_frames(model, output_dir / "routing_frames.png")
    if summary["domain_association"]:
        plots.plot_domain_association(model, output_dir / "domain_association.png")
    if summary.get("ablation"):
        plots.plot_reassignment(model, output_dir / "reassignment.png")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data_dirs", type=Path, nargs="+", help="Kaldi data dirs to analyse")
    parser.add_argument("--model", required=True, help="experiment dir, packed archive or id")
    parser.add_argument("--model_file", help="checkpoint name inside an experiment dir")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--name", help="model name in plots (default: --model's name)")
    parser.add_argument("--examples", type=int, default=3, help="utterances kept frame by frame")
    parser.add_argument("--ablation_set", type=Path, action="append", default=[])
    parser.add_argument(
        "--ablation_fractions", default="0,0.1,0.5,1", help="comma-separated, each in [0, 1]"
    )
    parser.add_argument("--batch_seconds", type=float, default=60.0, help="audio per batch")
    args = parser.parse_args()
    setup_cli_logging()
    for path in (*args.data_dirs, *args.ablation_set):
        if not (path / "wav.scp").is_file():
            parser.error(f"not a Kaldi data dir (no wav.scp): {path}")
    try:
        fractions = [float(f) for f in args.ablation_fractions.split(",")]
    except ValueError:
        fractions = []
    if not fractions or any(not 0 <= f <= 1 for f in fractions):
        parser.error(f"--ablation_fractions {args.ablation_fractions}: want numbers in [0, 1]")
    try:
        decoding = load_decoding(args.model, "ctc_greedy", model_file=args.model_file, beam_size=1)
    except ModelError as error:
        parser.error(str(error))
    name = args.name or Path(args.model).name.split(".")[0].removeprefix("asr_")

    summary = analyze(decoding.model, args.data_dirs, args.batch_seconds, args.examples)
    if summary["layers"] and args.ablation_set:
        summary["ablation"] = reassignment_ablation(
            decoding, args.ablation_set, fractions, args.batch_seconds
        )
    if not summary["layers"]:
        print(f"[routing] {name} has no MoE layers: nothing to analyse", flush=True)
    staging = args.output_dir.with_name(args.output_dir.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    write_outputs(name, summary, staging)
    shutil.rmtree(args.output_dir, ignore_errors=True)
    staging.rename(args.output_dir)
    print(f"[routing] {name}: written to {args.output_dir}", flush=True)


if __name__ == "__main__":
    main()
