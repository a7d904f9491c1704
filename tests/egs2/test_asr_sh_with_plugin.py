"""The plugin inside ESPnet's own egs2 recipe: the plugin's configs of every model type
(dense, switch, omni, U2++ MoE), run through ESPnet's modules exactly as asr.sh starts them
with ``--python espnet-omnirouter-python`` (``asr_sh_steps``): statistics in 2 jobs, training
through ``espnet2.bin.launch``, decoding in 2 jobs with and without an ESPnet LM, packing;
then the packed model loads with ``Speech2Text.from_pretrained`` in a process that only
imports the plugin, and transcribes as stage 12 did. Tiny sizes come from ``--asr_args``,
as a user overrides a config."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from asr_sh_steps import Egs2Recipe
from tiny_asr import SAMPLE_RATE, UTTERANCES, make_data_dir

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
TINY_ENCODER = (
    "--encoder_conf output_size=16 --encoder_conf attention_heads=2 "
    "--encoder_conf linear_units=24 --encoder_conf num_blocks=2 --encoder_conf cnn_module_kernel=3"
)
TINY_DECODER = (
    "--decoder_conf attention_heads=2 --decoder_conf linear_units=24 "
    "--decoder_conf num_blocks=1 --decoder_conf r_num_blocks=1"
)
TINY_TRAINING = "--max_epoch 2 --batch_size 5 --num_workers 0 --frontend_conf n_mels=20"
# model type -> (the plugin's config, asr_args, inference config)
MODELS = {
    "dense": ("train_dense.yaml", TINY_ENCODER, "decode_ctc.yaml"),
    "switch": ("train_switch.yaml", TINY_ENCODER, "decode_ctc.yaml"),
    "omni": ("train_omni.yaml", TINY_ENCODER, "decode_ctc.yaml"),
    "u2pp_moe": ("train_u2pp_moe.yaml", f"{TINY_ENCODER} {TINY_DECODER}", "decode_u2pp.yaml"),
}
INFERENCE_ARGS = "--beam_size 4"  # the tiny vocabulary has 7 tokens
MODEL_FILE = "valid.loss.ave.pth"  # the configs keep the best by validation loss
LM_CONFIG = {
    "lm": "seq_rnn",
    "lm_conf": {"unit": 16, "nlayers": 1},
    "optim": "adam",
    "batch_type": "folded",
    "batch_size": 5,
    "max_epoch": 2,
    "num_workers": 0,
}


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Egs2Recipe:
    """Stages 5-7 and 10 of a recipe dir: char tokens, an ESPnet LM, feature statistics
    (by the first model's config: the four share the frontend)."""
    root = tmp_path_factory.mktemp("egs2_recipe")
    recipe = Egs2Recipe(root, make_data_dir(root), fs=f"{SAMPLE_RATE // 1000}k")
    recipe.stage5_token_list()
    lm_config = root / "conf" / "train_lm.yaml"
    lm_config.parent.mkdir()
    lm_config.write_text(yaml.safe_dump(LM_CONFIG))
    recipe.stage6_7_lm(lm_config)
    recipe.stage10_asr_stats(REPO / "conf" / "train_dense.yaml", nj=2, asr_args=TINY_TRAINING)
    return recipe


def read_text(path: Path) -> dict:
    return dict((line.split(maxsplit=1) + [""])[:2] for line in path.read_text().splitlines())


LOAD_PACKED = """
import json, sys
import soundfile
import espnet_omnirouter
from espnet2.bin.asr_inference import Speech2Text

packed, inference_config, wav = sys.argv[1:]
speech2text = Speech2Text.from_pretrained(
    packed, **{k: v for k, v in json.loads(inference_config).items()}
)
speech, _ = soundfile.read(wav)
print(json.dumps({"text": speech2text(speech)[0][0],
                  "encoder": type(speech2text.asr_model.encoder).__name__}))
"""


@pytest.mark.parametrize("model_type", sorted(MODELS))
def test_asr_sh_steps_train_decode_and_pack_the_plugins_model(recipe, model_type):
    config_name, asr_args, inference_name = MODELS[model_type]
    tag = model_type
    recipe.stage11_asr_train(tag, REPO / "conf" / config_name, f"{asr_args} {TINY_TRAINING}")
    exp = recipe.asr_exp(tag)
    config = yaml.safe_load((exp / "config.yaml").read_text())
    assert config["encoder"] == ("u2pp_conformer" if model_type == "u2pp_moe" else "moe_conformer")
    assert (
        config["encoder_conf"]["moe_conf"]["type"]
        == yaml.safe_load((REPO / "conf" / config_name).read_text())["encoder_conf"]["moe_conf"][
            "type"
        ]
    )
    assert (exp / MODEL_FILE).exists()
    train_log = (exp / "train.log").read_text()
    assert "2epoch results:" in train_log
    if model_type != "dense":
        assert "moe_enc0_" in train_log  # the MoE statistics reached ESPnet's reporter

    inference_config = REPO / "conf" / inference_name
    utterances = {f"utt{i:02d}" for i in range(len(UTTERANCES))}
    without_lm, with_lm = (
        read_text(
            recipe.stage12_decode(tag, inference_config, 2, use_lm, MODEL_FILE, INFERENCE_ARGS)
        )
        for use_lm in (False, True)
    )
    assert set(without_lm) == set(with_lm) == utterances

    packed = recipe.stage14_pack(tag, MODEL_FILE)
    options = {**yaml.safe_load(inference_config.read_text()), "beam_size": 4}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_PACKED, str(packed), json.dumps(options),
         str(recipe.root / "wav" / "utt01.wav")],
        capture_output=True, text=True, cwd=recipe.root,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert loaded["encoder"] in ("MoEConformerEncoder", "U2ppConformerEncoder")
    assert loaded["text"] == with_lm["utt01"]  # the packed LM too, at the same weights
