"""Build the ASR model that an ESPnet config file describes, without its data."""

from pathlib import Path
from typing import Any, Mapping, Optional

import humanfriendly
import torch
import yaml


def frontend_sample_rate(
    frontend: Optional[str], frontend_conf: Optional[Mapping[str, Any]]
) -> Optional[int]:
    """The audio rate (Hz) a model's frontend expects: ``frontend_conf.fs`` (an int or
    ESPnet's "16k" form), 16000 for ESPnet's default frontend when unset, and None
    without a frontend (features as input) or one that states no rate."""
    if frontend is None:
        return None
    fs = (frontend_conf or {}).get("fs", 16000 if frontend == "default" else None)
    return int(humanfriendly.parse_size(fs)) if isinstance(fs, str) else fs


def build_model_from_config(
    config: Path, vocab_size: int = 50, input_size: Optional[int] = None
) -> torch.nn.Module:
    """Build the model a training config (or an experiment's config.yaml) describes.

    The config's values overlay ASRTask's defaults, as ESPnet's own loader does for
    experiment configs; without a token list in the config, ``vocab_size``
    placeholder tokens are used. The plugin must be imported (registered) first.
    """
    from espnet2.tasks.asr import ASRTask

    args = ASRTask.get_parser().parse_args([])
    vars(args).update(yaml.safe_load(Path(config).read_text()))
    if not isinstance(args.token_list, list):
        args.token_list = ["<blank>", "<unk>"] + [f"t{i}" for i in range(vocab_size - 3)]
        args.token_list.append("<sos/eos>")
    args.input_size = input_size
    args.normalize = None  # feature normalisation has no parameters and may need a stats file
    return ASRTask.build_model(args)
