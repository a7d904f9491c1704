"""The checks of ``benchmarks/gpu_check.sh`` that are not timings.

Usage:
    python benchmarks/gpu_check.py backends --device cuda   # grouped_mm == loop, no host sync
    python benchmarks/gpu_check.py train --device cuda --work_dir DIR   # ESPnet, bf16 AMP

``backends``: for several MoE layer shapes, the ``grouped_mm`` expert backend gives the
outputs and gradients of ``loop`` (bfloat16, the same weights and inputs); then, on CUDA,
one training step of the layer and of the MoE and U2++ MoE encoders (forward, auxiliary
losses, routing statistics, backward) runs under ``torch.cuda.set_sync_debug_mode("error")``:
any host synchronisation stops it with the line that caused it.

``train``: ESPnet's trainer (``bin/asr_train``, ``--use_amp true``: bfloat16 autocast where
the GPU supports it) trains the ``conf/large`` models and the recipe's U2++ models on
``grouped_mm`` for a few steps on random audio; each run must finish with a finite loss.

``--dry_run`` makes everything CPU-sized (small layers, tiny encoders, two steps) so that the
same code runs in CI; on a CPU the sync check runs without the debug mode (CUDA only).
Each check prints one line ``[gpu_check] <name>: ok|FAILED ...``; the exit status is 1 if
any failed.
"""

import argparse
import math
import re
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import soundfile
import torch
import yaml

from espnet_omnirouter.asr.encoder.moe_conformer_encoder import MoEConformerEncoder
from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import U2ppConformerEncoder
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.routing import collect_routing, summarize_routing

REPO_ROOT = Path(__file__).resolve().parents[1]
LARGE_MODELS = ["large/train_dense", "large/train_switch", "large/train_omni"]
U2PP_MODELS = ["train_u2pp_dense", "train_u2pp_moe"]
# (D, H, E, top_k, tokens) of the layers compared; the dry run takes the first two.
LAYER_SHAPES = [
    (16, 24, 4, 1, 50),
    (16, 32, 4, 2, 77),
    (256, 1024, 8, 1, 4096),
    (512, 2048, 64, 2, 8192),
]
TINY_ENCODER = dict(output_size=16, attention_heads=2, linear_units=24, num_blocks=2)


def report(name: str, check: Callable[[], str]) -> bool:
    """Run ``check``; print ``[gpu_check] name: ok (<its summary>)`` or FAILED with why."""
    try:
        summary = check()
    except Exception as error:  # a failed check is reported, and the next one still runs
        print(f"[gpu_check] {name}: FAILED: {type(error).__name__}: {error}", flush=True)
        traceback.print_exc()
        return False
    print(f"[gpu_check] {name}: ok ({summary})", flush=True)
    return True


def layer_pair(d: int, h: int, e: int, top_k: int, device: torch.device) -> List[MoEFeedForward]:
    """Two bfloat16 MoE layers with the same weights: ``loop`` and ``grouped_mm``."""
    torch.manual_seed(0)
    layers = []
    for backend in ("loop", "grouped_mm"):
        layer = MoEFeedForward(d, h, 0.0, torch.nn.SiLU(), e, top_k, "full_softmax")
        layer.experts.backend = backend
        layers.append(layer)
    layers[1].load_state_dict(layers[0].state_dict())
    return [layer.to(device, torch.bfloat16) for layer in layers]


def compare_backends(shape: tuple, device: torch.device) -> str:
    """Outputs, input and weight gradients of the two backends agree to bfloat16 precision
    (relative to each tensor's largest magnitude)."""
    d, h, e, top_k, tokens = shape
    results = []
    for layer in layer_pair(d, h, e, top_k, device):
        torch.manual_seed(1)
        x = torch.randn(2, tokens // 2, d, device=device, dtype=torch.bfloat16, requires_grad=True)
        y, record = layer(x)
        aux_loss, _ = summarize_routing([record])
        (y.float().square().mean() + aux_loss).backward()
        grads = {name: p.grad for name, p in layer.named_parameters()}
        results.append({"output": y, "input grad": x.grad, **grads})
    worst = 0.0
    for name, reference in results[0].items():
        scale = reference.detach().float().abs().max().clamp_min(1e-6)
        error = float((results[1][name] - reference).float().abs().max().detach() / scale)
        if error > 2e-2:
            raise AssertionError(f"{name}: grouped_mm differs from loop by {error:.3g} (relative)")
        worst = max(worst, error)
    return (
        f"D={d} H={h} E={e} top-{top_k}, {tokens} tokens: largest relative difference {worst:.2g}"
    )


def encoder_step(kind: str, device: torch.device, dry_run: bool) -> Callable[[], None]:
    """One training step of a ``grouped_mm`` encoder: forward, MoE losses, statistics,
    backward."""
    size = (
        TINY_ENCODER
        if dry_run
        else dict(output_size=256, attention_heads=4, linear_units=1024, num_blocks=4)
    )
    conf = dict(
        size, input_layer="conv2d", macaron_style=True, use_cnn_module=True, cnn_module_kernel=15
    )
    if kind == "omni":
        moe = {"type": "omni", "num_experts": 8, "expert_backend": "grouped_mm"}
        encoder = MoEConformerEncoder(80, moe_conf=moe, **conf)
    else:
        moe = {"type": "u2pp", "num_experts": 8, "expert_backend": "grouped_mm"}
        encoder = U2ppConformerEncoder(80, moe_conf=moe, causal=True, **conf)
    encoder = encoder.to(device).train()
    feats = torch.randn(4, 203, 80, device=device)
    lengths = torch.tensor([203, 190, 150, 99], device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16), collect_routing() as records:
            encoded, _, _ = encoder(feats, lengths)
            aux_loss, _ = summarize_routing(records)
        (encoded.float().square().mean() + aux_loss).backward()

    step()  # first use: ESPnet's positional encoding builds its table (a host copy)
    return step


def check_no_host_sync(step: Callable[[], None], device: torch.device) -> str:
    """Run ``step``; on CUDA, any host synchronisation in it raises."""
    if device.type != "cuda":
        step()
        return "ran; the sync check itself needs CUDA"
    torch.cuda.set_sync_debug_mode("error")
    try:
        step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize(device)
    return "no host synchronisation in forward, losses, statistics and backward"


def run_backends(args: argparse.Namespace) -> bool:
    device = torch.device(args.device)
    shapes = LAYER_SHAPES[:2] if args.dry_run else LAYER_SHAPES
    ok = [
        report(f"grouped_mm == loop {shape}", lambda s=shape: compare_backends(s, device))
        for shape in shapes
    ]
    d, h, e, top_k, tokens = shapes[-1]
    layer = layer_pair(d, h, e, top_k, device)[1]
    x = torch.randn(tokens, d, device=device, dtype=torch.bfloat16, requires_grad=True)

    def layer_step() -> None:
        y, record = layer(x)
        aux_loss, _ = summarize_routing([record])
        (y.float().square().mean() + aux_loss).backward()

    ok.append(report("no host sync: MoE layer", lambda: check_no_host_sync(layer_step, device)))
    for kind in ("omni", "u2pp"):
        ok.append(
            report(
                f"no host sync: {kind} encoder",
                lambda k=kind: check_no_host_sync(encoder_step(k, device, args.dry_run), device),
            )
        )
    return all(ok)


def write_data(work_dir: Path, utterances: int) -> Dict[str, Path]:
    """Random-audio Kaldi data dir (16 kHz, 1-3 s), a character token list and shape files."""
    rng = np.random.default_rng(0)
    data = work_dir / "data"
    (data / "wav").mkdir(parents=True, exist_ok=True)
    letters = list("abcdefgh")
    wav_scp, text, speech_shape, text_shape = [], [], [], []
    for index in range(utterances):
        utt = f"utt{index:03d}"
        samples = int(16000 * rng.uniform(1.0, 3.0))
        path = data / "wav" / f"{utt}.wav"
        soundfile.write(path, 0.1 * rng.standard_normal(samples).astype(np.float32), 16000)
        words = "".join(rng.choice(letters, size=int(rng.integers(5, 20))))
        wav_scp.append(f"{utt} {path}")
        text.append(f"{utt} {words}")
        speech_shape.append(f"{utt} {samples}")
        text_shape.append(f"{utt} {len(words)}")
    files = {
        "wav.scp": wav_scp,
        "text": text,
        "speech_shape": speech_shape,
        "text_shape": text_shape,
    }
    for name, lines in files.items():
        (data / name).write_text("\n".join(lines) + "\n")
    (work_dir / "tokens.txt").write_text(
        "\n".join(["<blank>", "<unk>", *letters, "<sos/eos>"]) + "\n"
    )
    return {name: data / name for name in files}


def training_config(name: str, work_dir: Path, dry_run: bool) -> Path:
    """``conf/<name>.yaml`` on the ``grouped_mm`` backend (dry run: a tiny encoder)."""
    config = yaml.safe_load((REPO_ROOT / "conf" / f"{name}.yaml").read_text())
    moe_conf = config["encoder_conf"].get("moe_conf", {})
    if moe_conf.get("type", "dense") != "dense":
        moe_conf["expert_backend"] = "grouped_mm"
    if dry_run:
        config["encoder_conf"].update(TINY_ENCODER, cnn_module_kernel=3)
        decoder = config.get("decoder_conf", {})  # conf/large: CTC only
        decoder.update(attention_heads=2, linear_units=24, num_blocks=1)
        if "r_num_blocks" in decoder:  # U2++'s right-to-left decoder
            decoder["r_num_blocks"] = 1
    path = work_dir / f"{name.replace('/', '_')}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def train_one(name: str, args: argparse.Namespace, files: Dict[str, Path]) -> str:
    """A few steps of ESPnet's trainer on ``name``; the run's final train loss is finite."""
    work_dir = Path(args.work_dir)
    output_dir = work_dir / "exp" / name.replace("/", "_")
    ngpu = 1 if args.device == "cuda" else 0
    command = [
        sys.executable, "-m", "espnet_omnirouter.bin.asr_train",
        "--config", str(training_config(name, work_dir, args.dry_run)),
        "--use_amp", "true", "--ngpu", str(ngpu), "--num_workers", "0",
        "--token_type", "char", "--token_list", str(work_dir / "tokens.txt"),
        "--normalize", "utterance_mvn",
        "--train_data_path_and_name_and_type", f"{files['wav.scp']},speech,sound",
        "--train_data_path_and_name_and_type", f"{files['text']},text,text",
        "--valid_data_path_and_name_and_type", f"{files['wav.scp']},speech,sound",
        "--valid_data_path_and_name_and_type", f"{files['text']},text,text",
        "--train_shape_file", str(files["speech_shape"]),
        "--train_shape_file", str(files["text_shape"]),
        "--valid_shape_file", str(files["speech_shape"]),
        "--valid_shape_file", str(files["text_shape"]),
        "--batch_type", "sorted", "--batch_size", "4", "--max_epoch", "1",
        "--num_iters_per_epoch", str(2 if args.dry_run else 20), "--num_att_plot", "0",
        "--output_dir", str(output_dir),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"asr_train exited with {result.returncode}:\n{result.stderr[-3000:]}")
    losses = [line for line in result.stdout.splitlines() if line.startswith("[train] epoch")]
    loss = float(re.search(r"train loss ([^,;\s]+)", losses[-1]).group(1))
    if not math.isfinite(loss):
        raise AssertionError(f"train loss {loss}")
    return f"{'bf16 autocast' if ngpu else 'CPU'}, train loss {loss:.2f} after one short epoch"


def run_train(args: argparse.Namespace) -> bool:
    files = write_data(Path(args.work_dir), 16 if args.dry_run else 64)
    models = [LARGE_MODELS[-1], U2PP_MODELS[-1]] if args.dry_run else LARGE_MODELS + U2PP_MODELS
    checks = [lambda n=name: train_one(n, args, files) for name in models]
    return all([report(f"ESPnet training: {n}", c) for n, c in zip(models, checks)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("check", choices=["backends", "train"])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--dry_run", action="store_true", help="CPU-sized: small layers and models")
    parser.add_argument("--work_dir", help="train: where the data, configs and runs are written")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here (a CPU dry run: --device cpu --dry_run)")
    if args.check == "train" and not args.work_dir:
        parser.error("train needs --work_dir")
    ok = run_backends(args) if args.check == "backends" else run_train(args)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
