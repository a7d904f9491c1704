"""A tiny CHiME-6 corpus in its distributed (array-synchronised) layout: worn binaural
microphones ``CHiME6/audio/eval/<session>_<speaker>.wav`` and the session transcripts
``CHiME6/transcriptions/eval/<session>.json``."""

import json
import re
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import soundfile
from fabricate_audio import speak

RATE = 16000
SESSION_SECONDS = 8.0
# session -> speaker -> [(start s, words as transcribed, expected text or None if dropped)]
SPEECH = {
    "S01": {
        "P01": [
            (0.5, "Did you put the pasta on?", "Did you put the pasta on?"),
            (3.0, "[laughs]", None),  # only markup
            (4.0, "Yeah, [noise] it's boiling.", "Yeah, it's boiling."),
            (6.5, "[redacted] lives upstairs", None),
        ],
        "P02": [(1.0, "Not yet. [inaudible 0:00:01.80]", "Not yet.")],
    },
    "S21": {"P45": [(0.8, "Pass me the salt please", "Pass me the salt please")]},
}


def _clock(seconds: float) -> str:
    return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{seconds % 60:06.3f}"


def fabricate_chime6(root: Path) -> Tuple[Path, Dict[str, Tuple[str, str, np.ndarray]]]:
    """Write the evaluation sessions under ``root/CHiME6``: each microphone holds its
    speaker's speech on the left ear and half of it on the right. Returns the corpus root
    and the expected utterances: Kaldi utterance id -> (wav name, text, left-ear audio)."""
    corpus = root / "CHiME6"
    (corpus / "audio" / "eval").mkdir(parents=True)
    (corpus / "transcriptions" / "eval").mkdir(parents=True)
    expected = {}
    for session, speakers in SPEECH.items():
        transcript = []
        for speaker, segments in speakers.items():
            left = np.zeros(int(SESSION_SECONDS * RATE), dtype=np.float32)
            for start, words, text in segments:
                audio = speak(re.sub(r"\[[^\]]*\]", "", words) or "ha ha", RATE)
                audio = np.pad(audio, (0, -len(audio) % (RATE // 100)))  # whole centiseconds
                first = round(start * RATE)
                left[first : first + len(audio)] = audio
                end = start + len(audio) / RATE
                transcript.append(
                    {
                        "end_time": _clock(end),
                        "start_time": _clock(start),
                        "words": words,
                        "speaker": speaker,
                        "ref": "U02",
                        "location": "kitchen",
                        "session_id": session,
                    }
                )
                if text is not None:
                    utt = f"{speaker}_{session}_{round(start * 100):07d}-{round(end * 100):07d}"
                    expected[utt] = (f"{session}_{speaker}", text, audio)
            soundfile.write(
                corpus / "audio" / "eval" / f"{session}_{speaker}.wav",
                np.stack([left, 0.5 * left], axis=1),
                RATE,
            )
        transcript.sort(key=lambda segment: segment["start_time"])
        (corpus / "transcriptions" / "eval" / f"{session}.json").write_text(
            json.dumps(transcript, indent=4)
        )
    return corpus, expected
