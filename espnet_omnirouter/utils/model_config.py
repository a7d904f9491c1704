"""Build the ASR model that an ESPnet config file describes, without its data."""

from pathlib import Path
from typing import Optional

import torch
import yaml


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
