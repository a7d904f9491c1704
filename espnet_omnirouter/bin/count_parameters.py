"""Print the total and active parameters of the model an ESPnet ASR config builds.

Usage: python -m espnet_omnirouter.bin.count_parameters CONFIG.yaml [--vocab_size N]
       [--input_size N]
"""

import argparse
from pathlib import Path

import espnet_omnirouter  # noqa: F401  (registers the plugin)
from espnet_omnirouter.layers.moe.parameter_count import count_parameters, format_count
from espnet_omnirouter.utils.console import setup_cli_logging
from espnet_omnirouter.utils.model_config import build_model_from_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--vocab_size", type=int, default=50)
    parser.add_argument("--input_size", type=int, default=None, help="feature dim if no frontend")
    args = parser.parse_args()
    setup_cli_logging()
    if not args.config.is_file():
        parser.error(f"config file not found: {args.config}")
    count = count_parameters(build_model_from_config(args.config, args.vocab_size, args.input_size))
    print(f"{args.config}: total {format_count(count.total)}, active {format_count(count.active)}")


if __name__ == "__main__":
    main()
