"""The model card: front matter, model facts, usage, results and citations."""

from pathlib import Path

from espnet_omnirouter.publishing.model_card import demote_headings, experiment_card, model_card
from espnet_omnirouter.utils.parameters import ParameterCount


def test_card_states_type_parameters_usage_and_citations():
    config = {
        "encoder": "moe_conformer",
        "encoder_conf": {"num_blocks": 6, "output_size": 144, "linear_units": 576,
                         "moe_conf": {"type": "switch", "num_experts": 4, "top_k": 1}},
        "model_conf": {"ctc_weight": 1.0},
        "token_list": ["<blank>", "a", "<sos/eos>"],
        "token_type": "bpe",
    }  # fmt: skip
    card = model_card("my_model", config, ParameterCount(9_620_000, 3_620_000), "me/my_model")
    assert card.startswith("---\nlibrary_name: espnet\n")
    assert "# my_model" in card
    assert "`switch`: Switch Transformer MoE" in card
    assert "| experts | 4 per MoE layer, top-1, FFNs: both, blocks: all |" in card
    assert "| parameters | 9.62M total, 3.62M active per frame |" in card
    assert "| decoder | none (CTC only); CTC weight 1.0 |" in card
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
