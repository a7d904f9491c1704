"""The model card: front matter, model facts read from the parsed configuration of every
model type, usage, results and citations."""

from pathlib import Path

import pytest
import yaml
from conftest import TINY_CONFORMER, TINY_DECODER

from espnet_omnirouter.publishing.model_card import demote_headings, experiment_card

U2PP_ENCODER = {**TINY_CONFORMER, "rel_pos_type": "legacy", "cnn_module_kernel": 5}
SWITCH = {"type": "switch", "num_experts": 4}
CONFIGS = {
    "dense": dict(encoder="moe_conformer", encoder_conf={**TINY_CONFORMER},
                  model="moe_espnet", model_conf={"ctc_weight": 1.0}),
    "switch": dict(encoder="moe_conformer",
                   encoder_conf={**TINY_CONFORMER, "moe_conf": SWITCH},
                   decoder="transformer", decoder_conf=TINY_DECODER, model="moe_espnet"),
    "omni": dict(encoder="moe_conformer",
                 encoder_conf={**TINY_CONFORMER, "moe_conf": {"type": "omni", "num_experts": 2}},
                 model="moe_espnet", model_conf={"ctc_weight": 1.0}),
    "u2pp_dense": dict(encoder="u2pp_conformer", encoder_conf=U2PP_ENCODER,
                       decoder="bi_transformer", decoder_conf=TINY_DECODER, model="u2pp"),
    "u2pp_moe": dict(encoder="u2pp_conformer",
                     encoder_conf={**U2PP_ENCODER, "moe_conf": {"type": "u2pp"}},
                     decoder="bi_transformer",
                     decoder_conf={**TINY_DECODER, "moe_conf": {"type": "u2pp", "num_experts": 4}},
                     model="u2pp", model_conf={"reverse_weight": 0.4}),
}  # fmt: skip
EXPECTED_ROWS = {
    "dense": [
        "| model type | `dense`: dense Conformer (no Mixture-of-Experts) |",
        "| experts | none |",
        "| decoder | none (CTC only); CTC weight 1.0 |",
    ],
    "switch": [
        "| model type | `switch`: Switch Transformer MoE: every MoE layer has its own router |",
        "| experts | 4 per MoE layer, top-1 (gate = router probability), FFNs: both, blocks: all |",
        # ESPnet's default ctc_weight (0.5), not one the card assumes.
        "| decoder | `transformer`, 2 blocks; CTC weight 0.5 |",
    ],
    "omni": [
        "| experts | 2 per MoE layer, top-1 (gate = router probability), FFNs: both, "
        "blocks: all, one router shared by all MoE layers |",
    ],
    "u2pp_dense": [
        "| model type | `dense`: dense Conformer (no Mixture-of-Experts); U2++ streaming "
        "Conformer (causal convolution, dynamic chunk attention) |",
        "| decoder | `bi_transformer`, 2 blocks left-to-right + 2 right-to-left (reverse "
        "weight 0.3); CTC weight 0.5 |",
    ],
    "u2pp_moe": [
        # type: u2pp's defaults (8 experts, top-2 renormalised), not a hard-coded top-1.
        "| experts | 8 per MoE layer, top-2 (gates = softmax over the top-k logits), FFNs: "
        "both, blocks: all |",
        "| decoder | `bi_transformer`, 2 blocks left-to-right + 2 right-to-left (reverse "
        "weight 0.4); MoE `u2pp`: 4 per MoE layer, top-2 (gates = softmax over the top-k "
        "logits), blocks: all; CTC weight 0.5 |",
    ],
}


def write_experiment(root: Path, model_type: str) -> Path:
    config = {
        **CONFIGS[model_type],
        "frontend_conf": {"n_fft": 128, "hop_length": 64, "n_mels": 20, "fs": 8000},
        "token_list": ["<blank>", "a", "b", "<sos/eos>"],
        "token_type": "bpe",
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    return root / "config.yaml"


@pytest.mark.parametrize("model_type", list(CONFIGS))
def test_card_states_what_the_parsed_configuration_built(tmp_path, model_type):
    card = experiment_card(write_experiment(tmp_path, model_type), "my_model", "me/my_model")
    assert card.startswith("---\nlibrary_name: espnet\n")
    assert "# my_model" in card
    for row in EXPECTED_ROWS[model_type]:
        assert row in card
    assert "| tokens | 4 (bpe) |" in card and "| sample rate | 8000 Hz |" in card
    assert "M total, " in card and "M active per frame |" in card
    assert 'Speech2Text.from_pretrained("me/my_model")' in card
    assert "import espnet_omnirouter" in card
    assert "arXiv:2507.05724" in card and "arXiv:2404.16407" in card
    assert "## Training data and results" not in card


def test_results_headings_nest_under_the_card_section_but_code_is_left_alone():
    text = "# Title\n\nbody\n\n### Table\n```bash\n# a comment\n```\n"
    assert demote_headings(text, 2) == "### Title\n\nbody\n\n##### Table\n```bash\n# a comment\n```"


def test_experiment_card_counts_the_model_and_embeds_its_results(experiment: Path):
    (experiment / "RESULTS.md").write_text("# tiny results\n\n| omni | 9.9 |\n")
    card = experiment_card(experiment / "config.yaml", "tiny", "tiny.zip")
    assert "`omni`: Omni-router MoE" in card
    assert "| experts | 2 per MoE layer, top-1" in card
    assert "## Training data and results\n\n### tiny results\n\n| omni | 9.9 |" in card
