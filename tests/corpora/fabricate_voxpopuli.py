"""A tiny VoxPopuli English ASR corpus in its own layout: whole sessions as 16 kHz mono Ogg
Vorbis in ``raw_audios/original/<year>/<session>_original.ogg`` (what ``voxpopuli.download_audios
--subset asr`` unpacks) and the ``|``-separated annotation table
``transcribed_data/en/asr_en.tsv.gz`` (where ``voxpopuli.get_asr_data`` downloads it)."""

import gzip
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import soundfile
from fabricate_audio import speak

SAMPLE_RATE = 16000
STEP = SAMPLE_RATE // 100  # utterances start and end on 10 ms
COLUMNS = (
    "id_ session_id start_time end_time vad speaker_id split gender is_gold_transcript "
    "accent original_text normed_text"
).split()
# Session -> (split, speaker, original text, normalised text) of its utterances, in table
# order; lhotse numbers a session's utterances over all splits.
SESSIONS = {
    "20090114-0900-PLENARY-10": [
        ("train", "4242", "Thank you, Madam President.", "thank you madam president"),
        ("test", "96", "The report was adopted.", "the report was adopted"),
        ("test", "1185", "I have two questions.", "i have two questions"),
    ],
    "20180418-0900-PLENARY-3": [
        ("dev", "2296", "Colleagues, welcome.", "colleagues welcome"),
        ("test", "124806", "We must act now on climate.", "we must act now on climate"),
    ],
}


def fabricate_voxpopuli(root: Path) -> Tuple[Path, Dict[str, Tuple[str, np.ndarray]]]:
    """Write ``root/voxpopuli``; return it and, per test utterance id as lhotse forms it
    (``<session>-<utterance of the session, from 1>``), its text and the audio encoded at
    its place in the session."""
    corpus = root / "voxpopuli"
    rows, expected = ["|".join(COLUMNS)], {}
    for session, utterances in SESSIONS.items():
        pieces, position = [np.zeros(SAMPLE_RATE // 2, dtype=np.float32)], SAMPLE_RATE // 2
        for index, (split, speaker, original, normed) in enumerate(utterances, start=1):
            audio = speak(normed, SAMPLE_RATE)
            audio = np.pad(audio, (0, -len(audio) % STEP))
            start, end = position / SAMPLE_RATE, (position + len(audio)) / SAMPLE_RATE
            if split == "test":
                expected[f"{session}-{index}"] = (normed, audio)
            row = dict(
                id_=f"{session}_{index}", session_id=session, start_time=f"{start:.2f}",
                end_time=f"{end:.2f}", vad=f"[[{start:.2f}, {end:.2f}]]", speaker_id=speaker,
                split=split, gender="female", is_gold_transcript="True", accent="None",
                original_text=original, normed_text=normed,
            )  # fmt: skip
            rows.append("|".join(row[column] for column in COLUMNS))
            gap = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.float32)
            pieces += [audio, gap]
            position += len(audio) + len(gap)
        path = corpus / "raw_audios" / "original" / session[:4] / f"{session}_original.ogg"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, np.concatenate(pieces), SAMPLE_RATE, format="OGG", subtype="VORBIS")
    table = corpus / "transcribed_data" / "en" / "asr_en.tsv.gz"
    table.parent.mkdir(parents=True)
    with gzip.open(table, "wt", encoding="utf-8") as file:
        file.write("".join(f"{row}\n" for row in rows))
    return corpus, expected
