"""Model card (``README.md``) of a packed model, in the Hugging Face Hub's format."""

import re
from pathlib import Path
from typing import List, Optional, Tuple

import torch
import yaml

from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import U2ppConformerEncoder
from espnet_omnirouter.layers.moe.config import MoEConfig
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.parameter_count import count_parameters, format_count
from espnet_omnirouter.utils.model_config import build_model_from_config

MODEL_TYPES = {
    "dense": "dense Conformer (no Mixture-of-Experts)",
    "switch": "Switch Transformer MoE: every MoE layer has its own router",
    "omni": "Omni-router MoE: one router shared by all MoE layers",
    "u2pp": "U2++ MoE: every MoE layer has its own router, top-k gates renormalised",
}
GATES = {
    "full_softmax": "gate = router probability",
    "topk_softmax": "gates = softmax over the top-k logits",
}

CITATIONS = """\
```bibtex
@article{gu2025omnirouter,
  title   = {Omni-Router: Sharing Routing Decisions in Sparse Mixture-of-Experts
             for Speech Recognition},
  author  = {Gu, Zijin and Likhomanenko, Tatiana and Jaitly, Navdeep},
  journal = {arXiv preprint arXiv:2507.05724},
  year    = {2025}
}
@article{song2024u2ppmoe,
  title   = {U2++ MoE: Scaling 4.7x parameters with minimal impact on RTF},
  author  = {Song, Xingchen and others},
  journal = {arXiv preprint arXiv:2404.16407},
  year    = {2024}
}
@inproceedings{watanabe2018espnet,
  title     = {{ESPnet}: End-to-End Speech Processing Toolkit},
  author    = {Watanabe, Shinji and Hori, Takaaki and Karita, Shigeki and Hayashi, Tomoki
               and Nishitoba, Jiro and Unno, Yuya and Enrique Yalta Soplin, Nelson
               and Heymann, Jahn and Wiesner, Matthew and Chen, Nanxin and Renduchintala,
               Adithya and Ochiai, Tsubasa},
  booktitle = {Interspeech},
  year      = {2018}
}
```"""


def demote_headings(markdown: str, levels: int) -> str:
    """Add ``levels`` '#' to every Markdown heading outside fenced code blocks."""
    lines, in_code = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"#{1,6} ", line):
            line = "#" * levels + line
        lines.append(line)
    return "\n".join(lines)


def describe_moe(conf: MoEConfig, blocks_apply: bool = True) -> str:
    """One line on the MoE layers a parsed ``moe_conf`` makes."""
    if not conf.is_moe:
        return "none"
    text = (
        f"{conf.num_experts} per MoE layer, top-{conf.top_k} ({GATES[conf.gate_normalization]}), "
    )
    if blocks_apply:
        text += f"FFNs: {conf.ffn}, "
    text += f"blocks: {conf.blocks}"
    return text + (", one router shared by all MoE layers" if conf.shares_router else "")


def _ffn_hidden_units(block: torch.nn.Module) -> int:
    ffn = block.feed_forward
    if isinstance(ffn, MoEFeedForward):
        return ffn.experts.w_1.shape[-1]
    return ffn.w_1.out_features if hasattr(ffn.w_1, "out_features") else ffn.w_1.out_channels


def model_summary(model: torch.nn.Module) -> str:
    """What kind of model it is, from its encoder's parsed ``moe_conf``."""
    summary = MODEL_TYPES[getattr(model.encoder, "moe_conf", MoEConfig()).type]
    if isinstance(model.encoder, U2ppConformerEncoder):
        summary += "; U2++ streaming Conformer (causal convolution, dynamic chunk attention)"
    return summary


def model_rows(config: dict, model: torch.nn.Module) -> List[Tuple[str, str]]:
    """The card's "Model" table of a model and the config it was built from: what the
    model is made of is read from the built model (its parsed ``moe_conf``, weights and
    sizes), so defaults are the ones that applied."""
    encoder, decoder = model.encoder, getattr(model, "decoder", None)
    moe: MoEConfig = getattr(encoder, "moe_conf", MoEConfig())
    parameters = count_parameters(model)
    if decoder is None:
        decoder_text = "none (CTC only)"
    else:
        decoder_text = f"`{config.get('decoder')}`, {len(decoder.decoders)} blocks"
        if hasattr(decoder, "right_decoder"):
            decoder_text += (
                f" left-to-right + {len(decoder.right_decoder.decoders)} right-to-left "
                f"(reverse weight {model.reverse_weight})"
            )
        decoder_moe = getattr(decoder, "moe_conf", MoEConfig())
        if decoder_moe.is_moe:
            decoder_text += f"; MoE `{decoder_moe.type}`: {describe_moe(decoder_moe, False)}"
    return [
        ("model type", f"`{moe.type}`: {model_summary(model)}"),
        (
            "encoder",
            f"`{config.get('encoder')}`, {len(encoder.encoders)} blocks, "
            f"d={encoder.output_size()}, FFN {_ffn_hidden_units(encoder.encoders[0])} units",
        ),
        ("experts", describe_moe(moe)),
        ("decoder", f"{decoder_text}; CTC weight {model.ctc_weight}"),
        ("parameters", f"{format_count(parameters.total)} total, "
                       f"{format_count(parameters.active)} active per frame"),
        ("tokens", f"{len(config.get('token_list', []))} ({config.get('token_type')})"),
        ("sample rate", f"{config.get('frontend_conf', {}).get('fs', 16000)} Hz"),
    ]  # fmt: skip


def model_card(
    name: str,
    config: dict,
    model: torch.nn.Module,
    model_reference: str,
    results: Optional[str] = None,
) -> str:
    """The card of one model.

    Args:
        name: the model's name (e.g. ``espeak_en_asr_omni``).
        config: the experiment's ``config.yaml`` as a dict.
        model: the model built from it (``build_model_from_config``).
        model_reference: what users pass to load it: a Hub id or an archive path.
        results: the experiment's ``RESULTS.md`` (data description and WER tables).
    """
    sections = [
        "---",
        "library_name: espnet",
        "license: apache-2.0",
        "language: en",
        "tags:",
        "- espnet",
        "- espnet_omnirouter",
        "- audio",
        "- automatic-speech-recognition",
        "- mixture-of-experts",
        "---",
        "",
        f"# {name}",
        "",
        "An ESPnet speech recognition model trained with espnet_omnirouter (Switch and",
        f"Omni-router Mixture-of-Experts for ESPnet): {model_summary(model)}.",
        "",
        "## Model",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in model_rows(config, model)),
        "",
        "## How to use",
        "",
        "```bash",
        "pip install espnet_omnirouter",
        f"omnirouter-transcribe --model {model_reference} audio.wav",
        "```",
        "",
        "```python",
        "import espnet_omnirouter  # registers the MoE classes in ESPnet: import it first",
        "from espnet2.bin.asr_inference import Speech2Text",
        "",
        f'speech2text = Speech2Text.from_pretrained("{model_reference}")',
        "text = speech2text(speech)[0][0]  # speech: 1-D float array at the sample rate above",
        "```",
        "",
    ]
    if results:
        sections += ["## Training data and results", "", demote_headings(results, 2), ""]
    sections += ["## Citation", "", CITATIONS, ""]
    return "\n".join(sections)


def experiment_card(config_path: Path, name: str, model_reference: str) -> str:
    """The card of the model whose ``config.yaml`` is ``config_path``; the ``RESULTS.md``
    beside it, where there is one, gives the data and results sections."""
    config = yaml.safe_load(Path(config_path).read_text())
    results_file = Path(config_path).with_name("RESULTS.md")
    results = results_file.read_text() if results_file.is_file() else None
    return model_card(name, config, build_model_from_config(config_path), model_reference, results)
