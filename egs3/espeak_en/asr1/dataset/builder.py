"""``create_dataset``: the espeak_en data dirs, synthesised by the ESPnet2 recipe."""

import subprocess
from pathlib import Path
from typing import Sequence

from espnet3.components.data.dataset_builder import DatasetBuilder

# The ESPnet2 recipe whose data preparation (local/data.sh) this recipe calls.
ESPNET2_RECIPE = Path(__file__).resolve().parents[4] / "egs" / "espeak_en" / "asr1"


class EspeakEnBuilder(DatasetBuilder):
    """Runs ``egs/espeak_en/asr1/local/data.sh`` to write Kaldi data dirs under
    ``dataset_dir`` (audio under ``<dataset_dir>/wav``): the same sentences, voices and
    conditions as the ESPnet2 recipe, for the same options.

    The keyword arguments are the training config's ``create_dataset`` block:
    ``dataset_dir``, ``sets`` (the dirs that must exist), ``num_train``, ``num_dev``,
    ``num_test``, ``nj`` (synthesis jobs); other keys (the TEMPLATE's ``func``) are
    ignored.
    """

    def is_source_prepared(self, **_ignored) -> bool:
        """The source is the sentence lists and scripts of the ESPnet2 recipe."""
        return (ESPNET2_RECIPE / "local" / "data.sh").is_file()

    def prepare_source(self, **_ignored) -> None:
        raise FileNotFoundError(
            f"{ESPNET2_RECIPE}/local/data.sh not found: this recipe runs from a checkout "
            "of espnet_omnirouter, next to egs/espeak_en/asr1"
        )

    def is_built(self, dataset_dir: str, sets: Sequence[str], **_ignored) -> bool:
        """Every set of ``sets`` has its ``wav.scp`` and ``text``."""
        return all(
            (Path(dataset_dir) / name / file).is_file()
            for name in sets
            for file in ("wav.scp", "text")
        )

    def build(
        self,
        dataset_dir: str,
        num_train: int,
        num_dev: int,
        num_test: int,
        nj: int,
        **_ignored,
    ) -> None:
        """Synthesise the sets (``local/data.sh`` keeps those already complete)."""
        options = {
            "data_dir": Path(dataset_dir).resolve(),
            "num_train": num_train,
            "num_dev": num_dev,
            "num_test": num_test,
            "nj": nj,
        }
        command = ["bash", "local/data.sh"]
        for name, value in options.items():
            command += [f"--{name}", str(value)]
        subprocess.run(command, cwd=ESPNET2_RECIPE, check=True)
