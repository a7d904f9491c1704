"""Packing: self-contained archives that ESPnet's model zoo unpacks into a loadable model."""

import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from espnet_model_zoo.downloader import ModelDownloader

from espnet_omnirouter.publishing.pack import (
    PackError,
    archive_names,
    files_of_config,
    pack_experiment,
)


def test_files_of_config_lists_what_building_the_model_reads():
    config = {
        "bpemodel": "data/bpe.model",
        "token_list": "data/tokens.txt",
        "normalize": "global_mvn",
        "normalize_conf": {"stats_file": "exp/stats.npz"},
    }
    assert files_of_config(config) == {
        ("bpemodel",): "data/bpe.model",
        ("token_list",): "data/tokens.txt",
        ("normalize_conf", "stats_file"): "exp/stats.npz",
    }
    assert files_of_config({"bpemodel": None, "token_list": ["a"], "normalize": None}) == {}


def test_archive_names_are_relative_to_the_deepest_common_directory(tmp_path):
    paths = [tmp_path / "exp" / "a" / "config.yaml", tmp_path / "data" / "bpe.model"]
    assert archive_names(paths) == {paths[0]: "exp/a/config.yaml", paths[1]: "data/bpe.model"}


def test_archive_with_absolute_config_paths_unpacks_into_the_same_model(experiment, tmp_path):
    extra = experiment / "RESULTS.md"
    extra.write_text("# results\n")
    archive = pack_experiment(
        experiment / "config.yaml",
        experiment / "valid.loss.ave.pth",
        tmp_path / "out" / "m.zip",
        [extra],
    )
    assert not list(archive.parent.glob(".partial-*"))
    members = set(zipfile.ZipFile(archive).namelist())
    assert members == {
        "meta.yaml",
        "exp/asr_omni/config.yaml",
        "exp/asr_omni/valid.loss.ave.pth",
        "exp/asr_omni/RESULTS.md",
        "stats/feats_stats.npz",
    }
    files = ModelDownloader(tmp_path / "zoo").download_and_unpack(str(archive))
    config = yaml.safe_load(Path(files["asr_train_config"]).read_text())
    stats_file = Path(config["normalize_conf"]["stats_file"])
    assert stats_file.is_relative_to(tmp_path / "zoo") and stats_file.is_file()

    from espnet2.tasks.asr import ASRTask

    model, _ = ASRTask.build_model_from_file(files["asr_train_config"], files["asr_model_file"])
    original = torch.load(experiment / "valid.loss.ave.pth")
    assert model.state_dict().keys() == original.keys()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in original.items())


def test_missing_files_fail_before_anything_is_written(experiment, tmp_path):
    config, outpath = experiment / "config.yaml", tmp_path / "out" / "m.zip"
    with pytest.raises(PackError, match="not found: .*missing.pth"):
        pack_experiment(config, experiment / "missing.pth", outpath)
    Path(yaml.safe_load(config.read_text())["normalize_conf"]["stats_file"]).unlink()
    with pytest.raises(PackError, match="normalize_conf.stats_file = .*: file not found"):
        pack_experiment(config, experiment / "valid.loss.ave.pth", outpath)
    assert not outpath.parent.exists()
