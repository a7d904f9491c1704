"""The study driver (egs/espeak_en/asr1/run_study.sh): its grid, its records, and a tiny run
of a few study runs through the recipe's stages, with STUDY.md rebuilt from records alone."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import TINY_RECIPE_ENCODER

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "egs" / "espeak_en" / "asr1"
sys.path.insert(0, str(RECIPE / "local"))

from study import tied_router_state  # noqa: E402
from study_grid import GROUPS, run_names_by_group, select_runs, study_runs  # noqa: E402
from study_records import (  # noqa: E402
    REFERENCES_FILE,
    ReferencesMismatch,
    dump_json,
    load_records,
    store_references,
)
from study_tables import study_tables  # noqa: E402

import espnet_omnirouter  # noqa: E402,F401
from espnet_omnirouter.layers.moe.parameter_count import count_parameters  # noqa: E402
from espnet_omnirouter.utils.model_config import build_model_from_config  # noqa: E402


def recipe_config(name: str) -> dict:
    return yaml.safe_load((RECIPE / "conf" / f"train_{name}.yaml").read_text())


def test_every_group_has_runs_and_names_are_unique():
    runs = study_runs()
    assert len({run.name for run in runs}) == len(runs)
    assert {run.group for run in runs} == set(GROUPS)
    assert [run.name for run in select_runs(["omni_s1", "controls"])] == [
        "omni_s1", "switch_tied_init_s0", "switch_init", "omni_init",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown runs or groups \\['nope'\\]"):
        select_runs(["nope"])


def test_seed_zero_runs_are_the_recipe_models_and_others_have_their_own():
    tags = {run.name: run.tag for run in study_runs()}
    assert tags["omni_s0"] == "omni" and tags["u2pp_moe_s0"] == "u2pp_moe"
    assert tags["omni_s1"] == "study_omni_s1" and tags["omni_e8_s0"] == "study_omni_e8_s0"
    assert tags["omni_init"] == "study_omni_init"


def test_each_run_changes_only_what_its_question_needs():
    runs = {run.name: run for run in study_runs()}
    base = recipe_config("omni")
    changed = runs["omni_e8_s0"].config(base)
    assert changed["encoder_conf"]["moe_conf"]["num_experts"] == 8
    changed["encoder_conf"]["moe_conf"]["num_experts"] = base["encoder_conf"]["moe_conf"][
        "num_experts"
    ]
    assert changed == base
    assert runs["omni_s2"].config(base) == base
    omni = runs["u2pp_omni_s0"].config(recipe_config("u2pp_moe"))
    assert omni["encoder_conf"]["moe_conf"]["type"] == "omni"
    assert omni["decoder_conf"]["moe_conf"]["type"] == "u2pp"


@pytest.mark.parametrize(
    "dense_run, moe_config", [("dense_x4_s0", "omni"), ("u2pp_dense_x4_s0", "u2pp_moe")]
)
def test_equal_size_dense_models_have_the_moe_models_total_parameters(
    tmp_path, dense_run, moe_config
):
    run = {r.name: r for r in study_runs()}[dense_run]
    wide = tmp_path / "wide.yaml"
    wide.write_text(yaml.safe_dump(run.config(recipe_config(run.base))))
    dense = count_parameters(build_model_from_config(wide))
    moe = count_parameters(build_model_from_config(RECIPE / "conf" / f"train_{moe_config}.yaml"))
    assert dense.total == dense.active
    assert dense.total == pytest.approx(moe.total, rel=0.01)  # the routers' weights differ


def test_tied_router_init_loads_one_router_into_every_layer():
    from espnet2.torch_utils.load_pretrained_model import load_pretrained_model

    from espnet_omnirouter.layers.moe.router import Router

    config = RECIPE / "conf" / "train_switch.yaml"
    state = tied_router_state(config, seed=3)
    assert len(state) == 12  # both FFNs of 6 blocks
    model = build_model_from_config(config)
    path = Path(__file__).with_name("routers.pth")
    try:
        torch.save(state, path)
        load_pretrained_model(str(path), model, ignore_init_mismatch=False)
    finally:
        path.unlink(missing_ok=True)
    weights = [m.linear.weight for m in model.modules() if isinstance(m, Router)]
    assert len(weights) == 12
    assert all(torch.equal(w, weights[0]) for w in weights)


def u2pp_record(name: str, errors: list) -> dict:
    """A U2++ study record of one test set of four 10-word utterances, in every U2++ mode."""
    return {
        "run": {"name": name, "seed": 0, "train": True, "change": ""},
        "parameters": {"total": 13_000_000, "active": 5_000_000},
        "references": {"test_clean": {"utt_ids": ["a", "b", "c", "d"], "ref_words": [10] * 4}},
        "decoding": {
            mode: {"errors": {"test_clean": errors}}
            for mode in ("attention_rescoring", "ctc_prefix_beam_search", "chunk16/streaming")
        },
        "routing": None,
    }


def test_u2pp_table_compares_moe_with_dense_and_names_what_is_missing():
    records = [u2pp_record("u2pp_dense_s0", [5, 5, 5, 5]), u2pp_record("u2pp_moe_s0", [4] * 4)]
    study = study_tables(records, {}, run_names_by_group())
    table = study[study.index("### 5. U2++") :]
    assert "| u2pp_moe | - | 13.00M / 5.00M | 40.0 | 40.0 | 40.0 | 40.0 |" in table
    assert "**u2pp_moe vs u2pp_dense**: -20.0% relative average WER" in table
    assert "one seed of u2pp_moe and u2pp_dense" in table  # one run each: not conclusive
    assert "u2pp_moe vs u2pp_dense_x4" not in table  # no record of u2pp_dense_x4 yet
    assert "Not yet run: u2pp_dense_x4_s0 u2pp_moe_lb_s0 u2pp_omni_s0." in table


def test_references_are_kept_once_and_a_run_on_other_data_is_refused(tmp_path):
    clean = {"test_clean": {"utt_ids": ["a", "b"], "ref_words": [3, 4]}}
    noise = {"test_noise": {"utt_ids": ["c"], "ref_words": [5]}}
    store_references(tmp_path, clean)
    store_references(tmp_path, {**clean, **noise})  # another set joins
    record = {"run": {"name": "r"}, "decoding": {"ctc_greedy": {"errors": {"test_noise": [1]}}}}
    (tmp_path / "r.json").write_text(dump_json(record))
    (loaded,) = load_records(tmp_path)
    assert loaded["references"] == noise  # the sets the run decoded
    with pytest.raises(ReferencesMismatch, match="test_clean: the utterances or references"):
        store_references(tmp_path, {"test_clean": {"utt_ids": ["a", "b"], "ref_words": [3, 5]}})


def test_records_keep_lists_of_numbers_on_one_line():
    text = dump_json({"errors": {"test_clean": [1, 2, 3]}, "ids": ["a", "b"]})
    assert '"test_clean": [1, 2, 3]' in text and '"a",\n' in text


def tiny_conf_dir(path: Path) -> Path:
    """The recipe's dense and omni configs shrunk to seconds of training."""
    path.mkdir()
    for name in ("dense", "omni"):
        config = recipe_config(name)
        config["encoder_conf"].update(TINY_RECIPE_ENCODER)
        (path / f"train_{name}.yaml").write_text(yaml.safe_dump(config))
    return path


@pytest.mark.e2e
def test_tiny_study_records_and_tables_rebuilt_from_records(tmp_path):
    command = [
        "bash", str(RECIPE / "run_study.sh"),
        "--runs", "dense_s0 omni_s0 omni_s1 omni_init",
        "--exp_dir", str(tmp_path / "exp"), "--data_dir", str(tmp_path / "data"),
        "--conf_dir", str(tiny_conf_dir(tmp_path / "conf")),
        "--records_dir", str(tmp_path / "records"), "--output", str(tmp_path / "STUDY.md"),
        "--recipe_args",
        "--num_train 40 --num_dev 8 --num_test 6 --vocab_size 60 --test_sets 'test_clean "
        "test_noise' --decode_modes 'ctc_lexicon_lm ctc_greedy' --tune_set '' --nj 1 "
        "--ablation_fractions 0,1",
        "--train_args", "--max_epoch 1 --batch_size 8",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    records = {record["run"]["name"]: record for record in load_records(tmp_path / "records")}
    assert set(records) == {"dense_s0", "omni_s0", "omni_s1", "omni_init"}
    # The references are kept once, beside the records, not in each of them.
    assert "references" not in json.loads((tmp_path / "records" / "omni_s1.json").read_text())
    assert set(json.loads((tmp_path / "records" / REFERENCES_FILE).read_text())) == {
        "test_clean", "test_noise"
    }  # fmt: skip
    omni = records["omni_s1"]
    assert omni["run"]["seed"] == 1 and omni["run"]["tag"] == "study_omni_s1"
    assert set(omni["decoding"]) == {"ctc_lexicon_lm", "ctc_greedy"}
    for test_set in ("test_clean", "test_noise"):
        ids = omni["references"][test_set]["utt_ids"]
        assert len(ids) == 6 and ids == sorted(ids)
        assert len(omni["decoding"]["ctc_greedy"]["errors"][test_set]) == 6
    assert len(omni["training"]["epochs"]) == 1 and omni["training"]["seconds"] > 0
    assert "loss" in omni["training"]["epochs"][0]["valid"]
    routing = omni["routing"]
    assert len(routing["layers"]) == 4 and len(routing["cramers_v"]) == 4
    assert set(routing["ablation"]["wer"]) == {"0.0", "1.0"}
    assert records["dense_s0"]["routing"] is None
    assert records["omni_init"]["decoding"] == {} and records["omni_init"]["routing"]["frames"] > 0
    # The seed-1 model was trained with another seed than the seed-0 one.
    assert omni["training"]["epochs"] != records["omni_s0"]["training"]["epochs"]

    # Speed of two of the trained models, measured by study.py speed in one run.
    speed_command = (
        "import study; "
        "study.SPEED_GROUPS['equal_size'] = (('dense_s0', 'omni_s0'), 'ctc_greedy'); "
        "study.main()"
    )
    speed = subprocess.run(
        [sys.executable, "-c", speed_command, "speed", "--group", "equal_size",
         "--exp_dir", str(tmp_path / "exp"), "--data_dir", str(tmp_path / "data"),
         "--records_dir", str(tmp_path / "records"), "--utterances", "4",
         "--train_batch_size", "2", "--rounds", "1"],
        capture_output=True, text=True, cwd=RECIPE / "local",
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(RECIPE / "local")])},
    )  # fmt: skip
    assert speed.returncode == 0, speed.stderr[-3000:]
    measured = json.loads((tmp_path / "records" / "speed_equal_size.json").read_text())
    assert measured["baseline"] == "dense_s0"
    for measure in ("rtf", "train_step_seconds"):
        assert set(measured[measure]) == {"dense_s0", "omni_s0"}
        assert all(value > 0 for value in measured[measure].values())

    # Tables from the records alone: the experiment dirs are gone.
    shutil.rmtree(tmp_path / "exp")
    rebuilt = subprocess.run(
        [*command[:2], "--runs", "none", "--records_dir", str(tmp_path / "records"),
         "--output", str(tmp_path / "REBUILT.md")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    study = (tmp_path / "REBUILT.md").read_text()
    assert "### 1. Seeds: WER (%) with `ctc_lexicon_lm`" in study
    assert "| omni | 0,1 |" in study and "| dense | 0 |" in study
    assert "**omni vs dense**" in study and "seeds (2 vs 1 runs) and utterances" in study
    assert "| omni, initialised | 1 |" in study and "| omni, trained | 2 |" in study
    assert " s (1.00x) | " in study and "Decoding and training speed of the `equal_size`" in study
    # The speed command as run, less the records dir of the checkout that ran it.
    speed_record = json.loads((tmp_path / "records" / "speed_equal_size.json").read_text())
    assert "--records_dir" not in speed_record["command"]
    speed_line = next(line for line in study.splitlines() if line.startswith("Decoding and"))
    assert "speed --group equal_size --exp_dir" in speed_line and "--records_dir" not in speed_line
    assert "Not yet run: switch_s0" in study
    assert (tmp_path / "study" / "figures" / "wer_vs_experts.png").stat().st_size > 0
