"""Build the ASR model that an ESPnet config file describes, without its data; find the
files a config names wherever its experiment dir is."""

import argparse
import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple

import humanfriendly
import torch
import yaml


def frontend_sample_rate(
    frontend: Optional[str], frontend_conf: Optional[Mapping[str, Any]]
) -> Optional[int]:
    """The audio rate (Hz) a model's frontend expects: ``frontend_conf.fs`` (an int or
    ESPnet's "16k" form), 16000 for ESPnet's default frontend and ``kaldi_fbank`` when
    unset, and None without a frontend (features as input) or one that states no rate."""
    if frontend is None:
        return None
    fs = (frontend_conf or {}).get("fs", 16000 if frontend in ("default", "kaldi_fbank") else None)
    return int(humanfriendly.parse_size(fs)) if isinstance(fs, str) else fs


def training_args_from_config(
    config: Path, vocab_size: int = 50, input_size: Optional[int] = None
) -> argparse.Namespace:
    """ASRTask's options for building the model a training config (or an experiment's
    config.yaml) describes, without its data.

    The config's values overlay ASRTask's defaults, as ESPnet's own loader does for
    experiment configs; without a token list in the config, ``vocab_size``
    placeholder tokens are used; no feature normalisation (it has no parameters and may
    need a stats file).
    """
    from espnet2.tasks.asr import ASRTask

    args = ASRTask.get_parser().parse_args([])
    vars(args).update(yaml.safe_load(Path(config).read_text()))
    if not isinstance(args.token_list, list):
        args.token_list = ["<blank>", "<unk>"] + [f"t{i}" for i in range(vocab_size - 3)]
        args.token_list.append("<sos/eos>")
    args.input_size = input_size
    args.normalize = None
    return args


def build_model_from_config(
    config: Path, vocab_size: int = 50, input_size: Optional[int] = None
) -> torch.nn.Module:
    """Build the model a training config (or an experiment's config.yaml) describes, from
    ``training_args_from_config``. The plugin must be imported (registered) first."""
    from espnet2.tasks.asr import ASRTask

    return ASRTask.build_model(training_args_from_config(config, vocab_size, input_size))


def config_files(config: Mapping[str, Any]) -> Dict[Tuple[str, ...], str]:
    """Files that building the model of ``config`` reads, by config key: the sentencepiece
    model, a token list given as a file, the ``global_mvn`` feature statistics."""
    files = {}
    if config.get("bpemodel"):
        files[("bpemodel",)] = config["bpemodel"]
    if isinstance(config.get("token_list"), str):
        files[("token_list",)] = config["token_list"]
    stats_file = (config.get("normalize_conf") or {}).get("stats_file")
    if config.get("normalize") == "global_mvn" and stats_file:
        files[("normalize_conf", "stats_file")] = stats_file
    return files


def resolve_config_files(config_path: Path) -> Dict[str, Any]:
    """The config of ``config_path`` with every relative file name of ``config_files`` made
    absolute. ESPnet's recipes name files relative to the directory training ran in (the
    recipe dir, which holds ``exp/<model>/config.yaml``): a name is taken relative to the
    current directory where the file is there, else to the nearest directory above the
    config that has it. Raises FileNotFoundError naming the key and the places tried."""
    config_path = Path(config_path)
    config = yaml.safe_load(config_path.read_text()) or {}
    for keys, name in config_files(config).items():
        if Path(name).is_absolute() or Path(name).exists():
            continue
        bases = config_path.resolve().parent.parents
        found = next((base / name for base in bases if (base / name).exists()), None)
        if found is None:
            raise FileNotFoundError(
                f"{config_path}: {'.'.join(keys)}: {name} not found in the current directory "
                f"({os.getcwd()}) nor relative to a directory above {config_path.parent}"
            )
        entry = config
        for key in keys[:-1]:
            entry = entry[key]
        entry[keys[-1]] = str(found)
    return config


@contextlib.contextmanager
def config_with_resolved_files(config_path: Path) -> Iterator[Path]:
    """``config_path``, or while the block runs a temporary copy of it whose relative file
    names are made absolute (``resolve_config_files``), for loaders such as ESPnet's
    ``Speech2Text`` that open them relative to the current directory."""
    config = resolve_config_files(config_path)
    if config == (yaml.safe_load(Path(config_path).read_text()) or {}):
        yield Path(config_path)
        return
    with tempfile.TemporaryDirectory() as tmp:
        resolved = Path(tmp) / "config.yaml"
        resolved.write_text(yaml.safe_dump(config))
        yield resolved
