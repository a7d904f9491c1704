"""Print the total and active parameters of the model an ESPnet ASR config builds.

Usage: python -m espnet_omnirouter.bin.count_parameters CONFIG.yaml [--vocab_size N]
       [--input_size N]
"""

import argparse
from pathlib import Path

import yaml

import espnet_omnirouter  # noqa: F401  (registers the plugin)
from espnet_omnirouter.utils.parameters import count_parameters, format_count


def build_model_from_config(config: Path, vocab_size: int, input_size: int | None):
    """Build the model a training config (or an experiment's config.yaml) describes.

    The config's values overlay ASRTask's defaults, as ESPnet's own loader does for
    experiment configs; without a token list in the config, ``vocab_size``
    placeholder tokens are used.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--vocab_size", type=int, default=50)
    parser.add_argument("--input_size", type=int, default=None, help="feature dim if no frontend")
    args = parser.parse_args()
    if not args.config.is_file():
        parser.error(f"config file not found: {args.config}")
    count = count_parameters(build_model_from_config(args.config, args.vocab_size, args.input_size))
    print(f"{args.config}: total {format_count(count.total)}, active {format_count(count.active)}")


if __name__ == "__main__":
    main()
