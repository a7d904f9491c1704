"""Pack a trained experiment into an ESPnet model archive (``espnet2.bin.pack``'s format).

The archive holds ``meta.yaml``, the training config, the checkpoint, every file the config
refers to (tokenizer model, feature statistics) and any extra files (results, plots, model
card). ``espnet_model_zoo`` unpacks it and rewrites the config's paths to the unpacked
copies. ESPnet's own ``pack`` names members by their paths relative to the current
directory, so a config with absolute paths (or one packed from elsewhere) unpacks into a
model that still reads the original files; here members are named relative to the deepest
directory that holds them all, and the packed config refers to those names, so the archive
is self-contained wherever it is made.
"""

import io
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import espnet
import torch
import yaml
from espnet2.main_funcs.pack_funcs import Archiver

# Config entries that name files the model needs at inference: (key, sub-key, ...).
ConfigKey = Tuple[str, ...]


class PackError(ValueError):
    """The experiment cannot be packed into a self-contained archive."""


def files_of_config(config: dict) -> Dict[ConfigKey, str]:
    """Files that building the model of ``config`` reads, by config key."""
    files = {}
    if config.get("bpemodel"):
        files[("bpemodel",)] = config["bpemodel"]
    if isinstance(config.get("token_list"), str):
        files[("token_list",)] = config["token_list"]
    if config.get("normalize") == "global_mvn":
        stats_file = (config.get("normalize_conf") or {}).get("stats_file")
        files[("normalize_conf", "stats_file")] = stats_file
    return files


def archive_names(paths: Sequence[Path]) -> Dict[Path, str]:
    """Each path's member name: relative to the deepest directory holding all of them."""
    resolved = [path.resolve() for path in paths]
    root = Path(os.path.commonpath([path.parent for path in resolved]))
    return {path: real.relative_to(root).as_posix() for path, real in zip(paths, resolved)}


def expand(paths: Sequence[Path]) -> List[Path]:
    """Files, with directories replaced by the files below them (sorted)."""
    files = []
    for path in paths:
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return files


def add_text(archive: Archiver, name: str, text: str) -> None:
    data = io.BytesIO(text.encode("utf-8"))
    archive.addfile(archive.generate_info(name, data.getbuffer().nbytes), fileobj=data)


def pack_experiment(
    config_path: Path, model_file: Path, outpath: Path, extra_files: Sequence[Path] = ()
) -> Path:
    """Write the archive ``outpath`` (.zip or .tar.gz) of one trained model.

    Args:
        config_path: the experiment's ``config.yaml``.
        model_file: its checkpoint (e.g. ``valid.loss.ave.pth``).
        outpath: the archive; written aside and renamed when complete.
        extra_files: more files or directories to include (results, plots, card, LM).
    """
    config_path, model_file, outpath = Path(config_path), Path(model_file), Path(outpath)
    config = yaml.safe_load(config_path.read_text())
    config_files = files_of_config(config)
    for key, value in config_files.items():
        if not value or not Path(value).is_file():
            where = "" if value and Path(value).is_absolute() else f" (from {Path.cwd()})"
            raise PackError(f"{config_path}: {'.'.join(key)} = {value}: file not found{where}")
    for path in (model_file, *extra_files):
        if not Path(path).exists():
            raise PackError(f"not found: {path}")
    members = list(
        dict.fromkeys(
            [config_path, model_file, *map(Path, config_files.values()), *expand(extra_files)]
        )
    )
    names = archive_names(members)
    for (*parents, last), value in config_files.items():
        section = config
        for parent in parents:
            section = section[parent]
        section[last] = names[Path(value)]
    meta = {
        "files": {"asr_model_file": names[model_file]},
        "yaml_files": {"asr_train_config": names[config_path]},
        "timestamp": time.time(),
        "python": sys.version,
        "torch": str(torch.__version__),
        "espnet": espnet.__version__,
    }
    outpath.parent.mkdir(parents=True, exist_ok=True)
    staging = outpath.with_name(".partial-" + outpath.name)
    with Archiver(staging, mode="w") as archive:
        add_text(archive, "meta.yaml", yaml.safe_dump(meta))
        add_text(archive, names[config_path], yaml.safe_dump(config))
        for path in members[1:]:
            archive.add(str(path), arcname=names[path], recursive=False)
    staging.replace(outpath)
    return outpath
