"""Kaldi data dirs (``wav.scp``, ``text``) as ESPnet3 datasets and tokenizer text.

The ESPnet2 recipes prepare Kaldi data dirs; an ESPnet3 recipe reads the same dirs through
``KaldiDirDataset`` (its ``dataset/`` module exports it as ``Dataset``) and trains its
tokenizer on ``kaldi_transcripts``.
"""

from pathlib import Path
from typing import Dict, List, Union

import numpy as np
import soundfile
from espnet3.components.data.base_dataset import BaseDataset
from espnet3.contract import Field

from espnet_omnirouter.data.kaldi_dir import read_wav_scp
from espnet_omnirouter.scoring.wer import read_kaldi_text


class KaldiDirDataset(BaseDataset):
    """The utterances of a Kaldi data dir, in ``wav.scp`` order.

    Item ``i``: ``speech`` (float32 samples of the file, as written: ESPnet's frontend
    expects the rate its config names), ``text`` (the transcript) and, with ``utt_ids``,
    ``utt_id`` (the Kaldi utterance id; inference writes it as the first column of its
    ``.scp`` outputs). Training sets leave ``utt_ids`` off: ESPnet's collate function
    batches arrays only.

    Args:
        data_dir: a data dir with ``wav.scp`` (paths to audio files) and ``text``.
        utt_ids: whether items carry their utterance id.

    Raises:
        DataDirError: the dir's files disagree or are missing (names file and line).
    """

    def __init__(self, data_dir: Union[str, Path], utt_ids: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.wav_paths = read_wav_scp(self.data_dir)
        self.texts = read_kaldi_text(self.data_dir / "text")
        self.ids = list(self.wav_paths)
        self.fields = (Field("speech", "audio"), Field("text", "text")) + (
            (Field("utt_id", "text"),) if utt_ids else ()
        )
        self.utt_ids = utt_ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> Dict[str, Union[np.ndarray, str]]:
        utt_id = self.ids[int(index)]
        speech, _ = soundfile.read(self.wav_paths[utt_id], dtype="float32")
        item = {"speech": speech, "text": self.texts[utt_id]}
        if self.utt_ids:
            item["utt_id"] = utt_id
        return item


def kaldi_transcripts(data_dir: Union[str, Path]) -> List[str]:
    """The transcripts of ``<data_dir>/text``, for ESPnet3's ``train_tokenizer`` stage
    (``tokenizer.text_builder.func``)."""
    return list(read_kaldi_text(Path(data_dir) / "text").values())
