"""Files a model config names, found wherever its experiment dir is."""

import os

import pytest
import yaml

from espnet_omnirouter.utils.model_config import config_with_resolved_files, resolve_config_files


def write_recipe(root, stats_path="exp/asr_stats/train/feats_stats.npz"):
    """An ESPnet recipe dir: files named relative to it in exp/asr_x/config.yaml."""
    for name in ("data/token_list/bpe.model", "exp/asr_stats/train/feats_stats.npz"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    config = {
        "bpemodel": "data/token_list/bpe.model",
        "token_list": ["<blank>", "a"],
        "normalize": "global_mvn",
        "normalize_conf": {"stats_file": stats_path},
        "encoder": "moe_conformer",
    }
    path = root / "exp" / "asr_x" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def test_relative_names_are_found_above_the_experiment_dir(tmp_path, monkeypatch):
    config = write_recipe(tmp_path / "recipe")
    monkeypatch.chdir(tmp_path)
    resolved = resolve_config_files(config)
    assert resolved["bpemodel"] == str(tmp_path / "recipe" / "data/token_list/bpe.model")
    stats = resolved["normalize_conf"]["stats_file"]
    assert stats == str(tmp_path / "recipe" / "exp/asr_stats/train/feats_stats.npz")
    assert resolved["token_list"] == ["<blank>", "a"] and resolved["encoder"] == "moe_conformer"
    with config_with_resolved_files(config) as copy:
        assert copy != config and yaml.safe_load(copy.read_text()) == resolved
    assert not copy.exists()


def test_names_valid_from_the_current_dir_are_kept(tmp_path, monkeypatch):
    config = write_recipe(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert resolve_config_files(config) == yaml.safe_load(config.read_text())
    with config_with_resolved_files(config) as same:
        assert same == config


def test_a_missing_file_is_named_with_its_key(tmp_path, monkeypatch):
    config = write_recipe(tmp_path, stats_path="exp/elsewhere/feats_stats.npz")
    monkeypatch.chdir(tmp_path / "exp")
    with pytest.raises(FileNotFoundError) as error:
        resolve_config_files(config)
    message = str(error.value)
    assert "normalize_conf.stats_file: exp/elsewhere/feats_stats.npz not found" in message
    assert os.getcwd() in message
