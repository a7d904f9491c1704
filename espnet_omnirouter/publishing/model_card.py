"""Model card (``README.md``) of a packed model, in the Hugging Face Hub's format."""

import re
from pathlib import Path
from typing import Optional

import yaml

from espnet_omnirouter.utils.model_config import build_model_from_config
from espnet_omnirouter.utils.parameters import ParameterCount, count_parameters, format_count

MODEL_TYPES = {
    "dense": "dense Conformer (no Mixture-of-Experts)",
    "switch": "Switch Transformer MoE: every MoE layer has its own router",
    "omni": "Omni-router MoE: one router shared by all MoE layers",
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


def model_card(
    name: str,
    config: dict,
    parameters: ParameterCount,
    model_reference: str,
    results: Optional[str] = None,
) -> str:
    """The card of one model.

    Args:
        name: the model's name (e.g. ``espeak_en_asr_omni``).
        config: the experiment's ``config.yaml`` as a dict.
        parameters: its total and per-frame active parameter counts.
        model_reference: what users pass to load it: a Hub id or an archive path.
        results: the experiment's ``RESULTS.md`` (data description and WER tables).
    """
    encoder_conf = config.get("encoder_conf", {})
    moe = encoder_conf.get("moe_conf", {})
    moe_type = moe.get("type", "dense")
    if moe_type == "dense":
        experts = "none"
    else:
        experts = (
            f"{moe.get('num_experts', 8)} per MoE layer, top-{moe.get('top_k', 1)}, "
            f"FFNs: {moe.get('ffn', 'both')}, blocks: {moe.get('blocks', 'all')}"
        )
    ctc_weight = config.get("model_conf", {}).get("ctc_weight", 0.3)
    decoder = "none (CTC only)" if ctc_weight == 1.0 else f"{config.get('decoder')}"
    token_type = config.get("token_type")
    rows = [
        ("model type", f"`{moe_type}`: {MODEL_TYPES.get(moe_type, moe_type)}"),
        (
            "encoder",
            f"`{config.get('encoder')}`, {encoder_conf.get('num_blocks')} blocks, "
            f"d={encoder_conf.get('output_size')}, FFN {encoder_conf.get('linear_units')} units",
        ),
        ("experts", experts),
        ("decoder", f"{decoder}; CTC weight {ctc_weight}"),
        ("parameters", f"{format_count(parameters.total)} total, "
                       f"{format_count(parameters.active)} active per frame"),
        ("tokens", f"{len(config.get('token_list', []))} ({token_type})"),
        ("sample rate", f"{config.get('frontend_conf', {}).get('fs', 16000)} Hz"),
    ]  # fmt: skip
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
        f"Omni-router Mixture-of-Experts for ESPnet): {MODEL_TYPES.get(moe_type, moe_type)}.",
        "",
        "## Model",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in rows),
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
    parameters = count_parameters(build_model_from_config(config_path))
    return model_card(name, config, parameters, model_reference, results)
