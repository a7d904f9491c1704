"""A tiny TED-LIUM release 3 in its own layout: ``legacy/test/sph/<talk>.sph`` (16 kHz
16-bit PCM NIST sphere, one file per talk) and ``legacy/test/stm/<talk>.stm``."""

from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import soundfile
from fabricate_audio import speak

SAMPLE_RATE = 16000
STEP = SAMPLE_RATE // 100  # STM times have two decimals: utterances start and end on 10 ms
# Talk -> its transcribed segments, in the tokenisation of the TED-LIUM STM files.
TALKS = {
    "AimeeMullins_2009P": ["i 'd like to share a discovery", "it 's a very good idea"],
    "DanielKahneman_2010": ["we have two selves", "memory is a storyteller", "thank you"],
}


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def fabricate_tedlium(root: Path) -> Tuple[Path, Dict[str, Tuple[str, np.ndarray]]]:
    """Write ``root/TEDLIUM_release-3``; return it and, per utterance id as lhotse forms it
    (``<talk>-<STM line index>``), the transcript and the audio of its segment."""
    corpus = root / "TEDLIUM_release-3"
    test = corpus / "legacy" / "test"
    (test / "sph").mkdir(parents=True)
    (test / "stm").mkdir(parents=True)
    expected = {}
    for talk, sentences in TALKS.items():
        pieces, lines = [_silence(0.5)], []
        position = len(pieces[0])
        for sentence in sentences:
            audio = speak(sentence, SAMPLE_RATE)
            audio = np.pad(audio, (0, -len(audio) % STEP))
            start, end = position / SAMPLE_RATE, (position + len(audio)) / SAMPLE_RATE
            expected[f"{talk}-{len(lines)}"] = (sentence, audio)
            lines.append(f"{talk} 1 {talk} {start:.2f} {end:.2f} <o,f0,female> {sentence}")
            gap = _silence(0.4)
            gap_end = (position + len(audio) + len(gap)) / SAMPLE_RATE
            lines.append(
                f"{talk} 1 inter_segment_gap {end:.2f} {gap_end:.2f} <o,,unknown> "
                "ignore_time_segment_in_scoring"
            )
            pieces += [audio, gap]
            position += len(audio) + len(gap)
        soundfile.write(
            test / "sph" / f"{talk}.sph",
            np.concatenate(pieces),
            SAMPLE_RATE,
            format="NIST",
            subtype="PCM_16",
        )
        (test / "stm" / f"{talk}.stm").write_text("".join(f"{line}\n" for line in lines))
    return corpus, expected
