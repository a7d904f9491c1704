"""espeak_en for ESPnet3: the Kaldi data dirs of the ESPnet2 recipe (egs/espeak_en/asr1).

``create_dataset`` makes them with that recipe's ``local/data.sh`` (``DatasetBuilder``);
``Dataset`` reads one of them.
"""

from espnet_omnirouter.espnet3.kaldi_dataset import KaldiDirDataset as Dataset

from .builder import EspeakEnBuilder as DatasetBuilder

__all__ = ["Dataset", "DatasetBuilder"]
