"""The plugin's decoding modes as an ESPnet3 inference backend.

ESPnet3's ``infer`` stage builds ``model:`` of the inference config on each worker
(``device`` added) and calls it with a test item's ``speech``, one ``Audio`` or a list of
them for a batch; ``DecodingBackend`` answers with ``text`` as ``bin/decode`` decodes it in
one mode, and the time it took, so that the results tables of ESPnet2 and ESPnet3 runs
are decoded alike.
"""

import time
from pathlib import Path
from typing import Dict, List, Sequence, Union

import torch
from espnet3.contract.kinds.audio import Audio

from espnet_omnirouter.asr.decoding.decoding_modes import MODES, decode_waves, make_decoding
from espnet_omnirouter.asr.decoding.eager_model import EagerModel
from espnet_omnirouter.asr.decoding.speech2text import load_speech2text
from espnet_omnirouter.runtime.decoding import DecodingOptions

# ctc_lexicon_lm needs the recipe's word LM and its weights tuned on held-out data
# (bin/decode --lm_dir --tune_set): stages of the ESPnet2 recipe, not of ESPnet3's system.
BACKEND_MODES = tuple(mode for mode in MODES if mode != "ctc_lexicon_lm")

Output = Dict[str, Union[str, float]]


class DecodingBackend:
    """A trained model and one decoding mode of ``bin/decode``, called by ESPnet3's runner.

    Each call returns, per utterance, ``text`` (the hypothesis), ``decode_seconds`` (its
    share of the call's decoding time, in proportion to its duration; encoder included)
    and ``audio_seconds`` (its duration): their sums over a test set give its real-time
    factor.

    Args:
        asr_train_config: the experiment's ``config.yaml`` (ESPnet3's ``train`` writes it).
        asr_model_file: the weights (e.g. ``valid.loss.ave_3best.pth``).
        mode: one of ``BACKEND_MODES`` (``ctc_greedy``, ``attention_rescoring``, ...).
        device: where to decode; the modes run on ``cpu`` only (set ``device: cpu`` in the
            inference config, or ESPnet3 picks a GPU where there is one).
        beam_size: ESPnet's beam search width (``beam``).
        ctc_beam_size: CTC prefix beam width, also the n-best size attention rescores.
        rescoring_ctc_weight: the CTC score's weight in attention rescoring.
        reverse_weight: the right-to-left decoder's weight (default: the model's).
        chunk_size: encoder frames per attention chunk (U2++; ``streaming`` needs it).
        num_left_chunks: chunks of left context (-1: all).

    Raises:
        ValueError: an unknown mode, a mode the model cannot decode in, or a device other
            than ``cpu``.
    """

    def __init__(
        self,
        asr_train_config: Union[str, Path],
        asr_model_file: Union[str, Path],
        mode: str = "ctc_greedy",
        device: str = "cpu",
        beam_size: int = 10,
        ctc_beam_size: int = 10,
        rescoring_ctc_weight: float = 0.5,
        reverse_weight: Union[float, None] = None,
        chunk_size: int = 0,
        num_left_chunks: int = -1,
    ) -> None:
        if mode == "ctc_lexicon_lm":
            raise ValueError(
                "inference model.mode: ctc_lexicon_lm needs a word LM and weights tuned on "
                "held-out data: decode with python -m espnet_omnirouter.bin.decode --lm_dir "
                f"--tune_set; choose from {BACKEND_MODES}"
            )
        if mode not in BACKEND_MODES:
            raise ValueError(f"inference model.mode: {mode!r}; choose from {BACKEND_MODES}")
        if str(device) != "cpu":
            raise ValueError(
                f"inference device: {device!r}; the decoding modes run on cpu "
                "(set `device: cpu` in the inference config)"
            )
        model = EagerModel(
            load_speech2text(Path(asr_train_config), Path(asr_model_file), beam_size)
        )
        self.mode, self.sample_rate = mode, model.sample_rate
        options = DecodingOptions(
            ctc_beam_size, rescoring_ctc_weight, reverse_weight, chunk_size, num_left_chunks
        )
        self.decoding = make_decoding(model, [mode], options)

    def __call__(self, speech: Union[Audio, Sequence[Audio]]) -> Union[Output, List[Output]]:
        """Decode one utterance (``Audio``) or a batch (a list of them), mono at the
        model's rate: ESPnet3 resamples to the rate the inference contract declares."""
        batched = isinstance(speech, (list, tuple))
        audios = list(speech) if batched else [speech]
        for audio in audios:
            if audio.rate != self.sample_rate or audio.channels != 1:
                raise ValueError(
                    f"speech: {audio.channels} channel(s) at {audio.rate} Hz; the model "
                    f"takes 1 channel at {self.sample_rate} Hz (inference contract: "
                    f"sample_rate: {self.sample_rate}, channels: 1)"
                )
        waves = [torch.from_numpy(audio.array) for audio in audios]
        start = time.perf_counter()
        texts, _ = decode_waves(self.decoding, waves)[self.mode]
        seconds = time.perf_counter() - start
        durations = [audio.duration for audio in audios]
        total = sum(durations) or 1.0
        outputs = [
            {"text": text, "decode_seconds": seconds * duration / total, "audio_seconds": duration}
            for text, duration in zip(texts, durations)
        ]
        return outputs if batched else outputs[0]
