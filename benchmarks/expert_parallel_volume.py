"""Communication per training step: expert parallelism (all-to-all) vs plain DDP (all-reduce).

For each model (built from a config on PyTorch's meta device, so nothing is allocated and
the parameter counts are exact), one GPU's traffic per optimizer step:

- all-to-all of expert parallelism over ``--expert_parallel`` ranks: every MoE layer sends
  each token's ``top_k`` copies to the experts' ranks and brings the outputs back (2
  all-to-alls forward, 2 backward), ``tokens * top_k * D * bytes * capacity_factor`` each,
  of which ``(EP - 1) / EP`` leaves the GPU;
- DDP's ring all-reduce of the gradients: ``2 * (P - 1) / P * params * bytes`` per GPU,
  written for large P as ``2 * params * bytes``. With experts replicated (plain DDP, what
  ESPnet runs) every parameter is reduced; with expert parallelism the dense parameters are
  reduced over all ranks and each expert shard only within its data-parallel group;
- the memory of the training state per GPU (fp32 weights, gradients and Adam moments,
  16 bytes per parameter; activations not included), replicated or with experts sharded.

Encoder MoE layers see the encoder frames of ``--audio_seconds`` of speech per GPU (40 ms
frames after 4x subsampling); decoder MoE layers see ``--tokens_per_second`` output tokens
per second of speech (each direction of a bidirectional decoder its own).

    python benchmarks/expert_parallel_volume.py
    python benchmarks/expert_parallel_volume.py --audio_seconds 600 --activation_bytes 4
"""

import argparse
import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import torch
import yaml
from common import markdown_table

import espnet_omnirouter  # noqa: F401  (registers the plugin's classes)
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward

REPO_ROOT = Path(__file__).resolve().parents[1]
FRAME_SECONDS = 0.04  # 10 ms hop, 4x subsampling (conv2d input layer)
TRAINING_BYTES = 16  # per parameter with Adam in fp32: weight, gradient, two moments

# Paper-sized layouts. DESIGN.md gives their parameter counts, not their layouts: these are
# our configs scaled until the counts match (Omni-router: dense 84M, 8 experts, top-1;
# U2++ MoE: Dense-225M -> MoE-1B, 8 experts of the dense FFN's size, top-2, every FFN).
MODELS = {
    "conf/large omni (this repo)": ("conf/large/train_omni.yaml", {}, None, 50),
    "conf/train_u2pp_moe (this repo, CPU size)": ("conf/train_u2pp_moe.yaml", {}, {}, 50),
    "Omni-router paper scale (assumed layout)": (
        "conf/large/train_omni.yaml",
        dict(output_size=512, attention_heads=8, linear_units=2048, num_blocks=12),
        None,
        256,
    ),
    "U2++ MoE-1B scale (assumed layout)": (
        "conf/train_u2pp_moe.yaml",
        dict(output_size=512, attention_heads=8, linear_units=2048, num_blocks=24),
        dict(attention_heads=8, linear_units=2048, num_blocks=6, r_num_blocks=6),
        5000,
    ),
}


@dataclass
class MoELayerShape:
    in_encoder: bool
    dim: int
    top_k: int
    num_experts: int


@dataclass
class ModelShape:
    total_params: int
    expert_params: int
    moe_layers: List[MoELayerShape]
    layout: str


def build_on_meta(config: str, encoder: Dict, decoder: Dict | None, vocab: int) -> ModelShape:
    """The model of ``config`` with ``encoder``/``decoder`` conf overrides, on meta."""
    from espnet2.tasks.asr import ASRTask  # after the plugin import, which keeps it offline

    conf = yaml.safe_load((REPO_ROOT / config).read_text())
    args = ASRTask.get_parser().parse_args([])
    vars(args).update(copy.deepcopy(conf))
    args.token_list = [f"token{i}" for i in range(vocab)]
    args.normalize, args.specaug = None, None  # no statistics file; no parameters either
    args.encoder_conf.update(encoder)
    if decoder:
        args.decoder_conf.update(decoder)
    with torch.device("meta"):
        model = ASRTask.build_model(args)
    layers, expert_params = [], 0
    for name, module in model.named_modules():
        if isinstance(module, MoEFeedForward):
            expert_params += sum(p.numel() for p in module.experts.parameters())
            layers.append(
                MoELayerShape(
                    name.startswith("encoder."),
                    module.experts.w_1.shape[1],
                    module.top_k,
                    module.num_experts,
                )
            )
    enc = args.encoder_conf
    layout = f"D={enc['output_size']}, H={enc['linear_units']}, {enc['num_blocks']} encoder blocks"
    if args.decoder_conf and args.model_conf.get("ctc_weight", 0.3) < 1.0:
        dec = args.decoder_conf
        layout += f", decoder {dec.get('num_blocks', 6)}+{dec.get('r_num_blocks', 0)} blocks"
    layout += f", {vocab} tokens"
    total = sum(p.numel() for p in model.parameters())
    return ModelShape(total, expert_params, layers, layout)


def megabytes(num_bytes: float) -> str:
    return f"{num_bytes / 1e6:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--audio_seconds", type=float, default=300.0, help="speech per GPU")
    parser.add_argument("--tokens_per_second", type=float, default=4.0, help="decoder tokens")
    parser.add_argument("--expert_parallel", type=int, default=8, help="EP group size")
    parser.add_argument("--activation_bytes", type=int, default=2, help="2: bf16 activations")
    parser.add_argument("--gradient_bytes", type=int, default=4, help="4: fp32 all-reduce")
    parser.add_argument(
        "--capacity_factor", type=float, default=1.0, help="padding of fixed-size all-to-alls"
    )
    args = parser.parse_args()
    ep = args.expert_parallel
    encoder_tokens = args.audio_seconds / FRAME_SECONDS
    decoder_tokens = args.audio_seconds * args.tokens_per_second
    off_gpu = (ep - 1) / ep

    sizes, volumes = [], []
    for name, (config, encoder, decoder, vocab) in MODELS.items():
        shape = build_on_meta(config, encoder, decoder, vocab)
        per_layer = [
            4
            * (encoder_tokens if layer.in_encoder else decoder_tokens)
            * layer.top_k
            * layer.dim
            * args.activation_bytes
            * args.capacity_factor
            * off_gpu
            for layer in shape.moe_layers
        ]
        all_to_all = sum(per_layer)
        dense = shape.total_params - shape.expert_params
        ddp = 2 * shape.total_params * args.gradient_bytes
        ep_reduce = 2 * (dense + shape.expert_params / ep) * args.gradient_bytes
        first = shape.moe_layers[0]
        encoder_layers = sum(layer.in_encoder for layer in shape.moe_layers)
        sizes.append(
            [
                name,
                shape.layout,
                f"{shape.total_params / 1e6:,.1f}M",
                f"{dense / 1e6:,.1f}M",
                f"{encoder_layers} + {len(shape.moe_layers) - encoder_layers}",
                f"{first.num_experts}, top-{first.top_k}",
            ]
        )
        volumes.append(
            [
                name,
                megabytes(per_layer[0]),
                megabytes(all_to_all),
                megabytes(ddp),
                megabytes(ep_reduce),
                megabytes(ep_reduce + all_to_all),
                f"{(ep_reduce + all_to_all) / ddp:.2f}",
                f"{shape.total_params * TRAINING_BYTES / 1e9:.1f}",
                f"{(dense + shape.expert_params / ep) * TRAINING_BYTES / 1e9:.1f}",
            ]
        )
    print(
        f"Per GPU and training step: {args.audio_seconds:g} s of speech = "
        f"{encoder_tokens:,.0f} encoder frames and {decoder_tokens:,.0f} decoder tokens per "
        f"direction; expert parallelism over EP={ep} ranks; activations "
        f"{args.activation_bytes} B, gradients {args.gradient_bytes} B per element; "
        f"capacity factor {args.capacity_factor:g}.\n"
    )
    print(
        markdown_table(
            ["model", "layout", "params", "non-expert", "MoE layers (enc + dec)", "experts"],
            sizes,
        )
    )
    print()
    print(
        markdown_table(
            [
                "model",
                "all-to-all, 1st MoE layer (MB)",
                "all-to-all, all layers (MB)",
                "DDP all-reduce, experts replicated (MB)",
                f"all-reduce with EP={ep} (MB)",
                f"EP={ep} total (MB)",
                "EP / DDP",
                "training state, replicated (GB)",
                f"training state, EP={ep} (GB)",
            ],
            volumes,
        )
    )


if __name__ == "__main__":
    main()
