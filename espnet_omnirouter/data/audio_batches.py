"""Batches of utterances of similar length, read from a Kaldi ``wav.scp``."""

from typing import Dict, List, Tuple

import soundfile
import torch

# A batch to decode: (utt_id, wav path) pairs.
Batch = List[Tuple[str, str]]


def make_batches(wav_scp: Dict[str, str], batch_seconds: float) -> Tuple[List[Batch], float]:
    """Group utterances of similar length into batches of at most ``batch_seconds`` of
    audio (one utterance per batch if 0); also the total seconds of audio."""
    durations = {utt: soundfile.info(path).duration for utt, path in wav_scp.items()}
    order = sorted(wav_scp, key=durations.get)
    batches, current, seconds = [], [], 0.0
    for utt in order:
        if current and seconds + durations[utt] > batch_seconds:
            batches.append(current)
            current, seconds = [], 0.0
        current.append((utt, wav_scp[utt]))
        seconds += durations[utt]
    if current:
        batches.append(current)
    return batches, sum(durations.values())


def read_waves(batch: Batch) -> List[torch.Tensor]:
    """The float32 samples of each (utt_id, wav path) of ``batch``."""
    return [torch.from_numpy(soundfile.read(path, dtype="float32")[0]) for _, path in batch]
