"""Pack a trained model with its model card into an ESPnet model archive.

Usage:
    python -m espnet_omnirouter.bin.pack_model --exp_dir exp/asr_omni \
        --outpath exp/asr_omni/packed/espeak_en_asr_omni.zip --option exp/lm_word3gram

The archive (espnet2.bin.pack's format, self-contained, loadable with espnet_model_zoo and
Speech2Text.from_pretrained once espnet_omnirouter is imported) holds the config, the
checkpoint, the tokenizer model and feature statistics the config refers to, and from the
experiment dir its RESULTS.md, images/ (training curves), routing/ (routing analysis) and
the model card README.md written here. --option adds more files or dirs, e.g. the word LM
that `transcribe --mode ctc_lexicon_lm` finds in the unpacked model.
"""

import argparse
import sys
from pathlib import Path

import espnet_omnirouter  # noqa: F401  (registers the plugin: the card counts parameters)
from espnet_omnirouter.publishing.model_card import experiment_card
from espnet_omnirouter.publishing.pack import PackError, pack_experiment
from espnet_omnirouter.utils.console import setup_cli_logging
from espnet_omnirouter.utils.files import write_text_atomically

# What the archive takes from the experiment dir besides config and checkpoint, if present.
EXPERIMENT_EXTRAS = ("RESULTS.md", "README.md", "images", "routing")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--exp_dir", type=Path, required=True, help="has config.yaml")
    parser.add_argument("--model_file", default="valid.loss.ave.pth", help="in --exp_dir")
    parser.add_argument("--outpath", type=Path, required=True, help=".zip or .tar.gz")
    parser.add_argument("--name", help="model name in the card (default: --outpath's stem)")
    parser.add_argument("--option", type=Path, action="append", default=[], help="extra files")
    args = parser.parse_args()
    setup_cli_logging()
    config = args.exp_dir / "config.yaml"
    model_file = args.exp_dir / args.model_file
    for path in (config, model_file, *args.option):
        if not path.exists():
            parser.error(f"not found: {path}")
    name = args.name or args.outpath.name.split(".")[0]
    card = experiment_card(config, name, model_reference=str(args.outpath))
    write_text_atomically(args.exp_dir / "README.md", card)
    extras = [args.exp_dir / n for n in EXPERIMENT_EXTRAS if (args.exp_dir / n).exists()]
    try:
        pack_experiment(config, model_file, args.outpath, [*extras, *args.option])
    except PackError as error:
        sys.exit(f"pack_model: {error}")


if __name__ == "__main__":
    main()
