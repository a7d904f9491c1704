"""Cut long recordings into utterances a model can take, at pauses found by frame energy.

A recording's 10 ms frames are speech where their energy (dB) lies above a threshold set
between the recording's noise floor (10th percentile of frame energies) and its speech
level (95th percentile); pauses shorter than ``min_silence_seconds`` are bridged, bursts
shorter than ``min_speech_seconds`` dropped, and every speech run is padded by
``padding_seconds`` of context. A run still longer than ``max_seconds`` (continuous speech,
or noise loud enough to hide the pauses) is split at its quietest frame within its middle
half, again until every piece fits. The same idea as Kaldi's energy VAD
(``compute-vad``), with the splitting that decoding long audio needs.
"""

from typing import List, Tuple

import numpy as np

FRAME_SECONDS = 0.025
HOP_SECONDS = 0.010
MIN_DYNAMIC_RANGE_DB = 6.0  # below this, no frame is told apart as a pause


def frame_energies_db(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Energy in dB of 25 ms frames every 10 ms (frames,) of mono ``samples``."""
    frame, hop = int(FRAME_SECONDS * sample_rate), int(HOP_SECONDS * sample_rate)
    if len(samples) < frame:
        samples = np.pad(samples, (0, frame - len(samples)))
    windows = np.lib.stride_tricks.sliding_window_view(samples, frame)[::hop]
    return 10.0 * np.log10(np.mean(windows.astype(np.float64) ** 2, axis=1) + 1e-10)


def speech_runs(
    energies_db: np.ndarray,
    threshold_ratio: float,
    min_silence_frames: int,
    min_speech_frames: int,
) -> List[Tuple[int, int]]:
    """[start, end) frame ranges of speech: frames above the threshold, pauses shorter than
    ``min_silence_frames`` bridged, runs shorter than ``min_speech_frames`` dropped. The
    whole recording is one run when its energies have no pauses to tell apart."""
    noise_db, speech_db = np.percentile(energies_db, [10, 95])
    if speech_db - noise_db < MIN_DYNAMIC_RANGE_DB:
        return [(0, len(energies_db))]
    is_speech = energies_db > noise_db + threshold_ratio * (speech_db - noise_db)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], is_speech.astype(np.int8), [0]])))
    runs: List[Tuple[int, int]] = []
    for start, end in zip(edges[::2], edges[1::2]):
        if runs and start - runs[-1][1] < min_silence_frames:
            runs[-1] = (runs[-1][0], int(end))
        else:
            runs.append((int(start), int(end)))
    return [(start, end) for start, end in runs if end - start >= min_speech_frames]


def split_long_run(
    energies_db: np.ndarray, start: int, end: int, max_frames: int
) -> List[Tuple[int, int]]:
    """Split frames [start, end) at the quietest frame (energy smoothed over 100 ms) of its
    middle half, recursively, until every piece has at most ``max_frames`` frames."""
    if end - start <= max_frames:
        return [(start, end)]
    smoothed = np.convolve(energies_db[start:end], np.ones(10) / 10, mode="same")
    quarter = (end - start) // 4
    cut = start + quarter + int(np.argmin(smoothed[quarter : end - start - quarter]))
    return split_long_run(energies_db, start, cut, max_frames) + split_long_run(
        energies_db, cut, end, max_frames
    )


def energy_segments(
    samples: np.ndarray,
    sample_rate: int,
    max_seconds: float = 20.0,
    min_silence_seconds: float = 0.3,
    min_speech_seconds: float = 0.1,
    padding_seconds: float = 0.1,
    threshold_ratio: float = 0.3,
) -> List[Tuple[int, int]]:
    """[start, end) sample ranges of the utterances of a long recording (see the module
    docstring), in order, non-overlapping, each at most ``max_seconds`` long.

    Args:
        samples: mono audio (#samples,).
        sample_rate: its rate in Hz.
        max_seconds: the longest segment to return.
        min_silence_seconds: shorter pauses do not end an utterance.
        min_speech_seconds: shorter bursts of energy are not utterances.
        padding_seconds: context kept before and after each speech run (less where the
            next run is closer).
        threshold_ratio: where the speech threshold lies between the noise floor (0) and
            the speech level (1), in dB.
    """
    if max_seconds <= 2 * padding_seconds:
        raise ValueError(f"max_seconds {max_seconds} must exceed twice padding_seconds")
    energies = frame_energies_db(samples, sample_rate)
    hop = int(HOP_SECONDS * sample_rate)
    pad = int(round(padding_seconds / HOP_SECONDS))
    runs = speech_runs(
        energies, threshold_ratio,
        int(round(min_silence_seconds / HOP_SECONDS)), int(round(min_speech_seconds / HOP_SECONDS)),
    )  # fmt: skip
    max_frames = int(max_seconds / HOP_SECONDS) - 2 * pad
    pieces = [piece for run in runs for piece in split_long_run(energies, *run, max_frames)]
    segments = []
    for index, (start, end) in enumerate(pieces):
        # Padding never reaches into a neighbour: at most half the gap to it.
        before = pieces[index - 1][1] if index else -2 * pad
        after = pieces[index + 1][0] if index + 1 < len(pieces) else end + 2 * pad
        first = max(0, start - min(pad, (start - before) // 2))
        last = end + min(pad, (after - end) // 2)
        segments.append((first * hop, len(samples) if last >= len(energies) else last * hop))
    return segments
