"""A tiny Common Voice release in its own layout: ``cv-corpus-<version>/en/test.tsv``
(Common Voice 17.0's columns, nothing quoted) and 48 kHz mono MP3 clips in ``en/clips/``."""

from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import soundfile
from fabricate_audio import speak

SAMPLE_RATE = 48000
HEADER = (
    "client_id path sentence_id sentence sentence_domain up_votes down_votes age gender "
    "accents variant locale segment"
).split()
# Clip id -> (client id, sentence): punctuation and an unbalanced quote as Common Voice has.
CLIPS = {
    "common_voice_en_19664034": ("4a5c1f0e9b", "The quick brown fox jumped."),
    "common_voice_en_19664035": ("4a5c1f0e9b", 'He said "hello, there" to me.'),
    "common_voice_en_20012345": ("d17e22aa03", 'Six o"clock is too early!'),
    "common_voice_en_21000001": ("f00dcafe42", "Where is the nearest station?"),
}


def fabricate_commonvoice(root: Path) -> Tuple[Path, Dict[str, Tuple[str, np.ndarray]]]:
    """Write ``root/cv-corpus-17.0-2024-03-15``; return it and, per utterance id (the clip
    name), the sentence and the audio encoded into the MP3."""
    corpus = root / "cv-corpus-17.0-2024-03-15"
    clips = corpus / "en" / "clips"
    clips.mkdir(parents=True)
    lines, expected = ["\t".join(HEADER)], {}
    for clip, (client, sentence) in CLIPS.items():
        audio = speak(sentence, SAMPLE_RATE)
        soundfile.write(clips / f"{clip}.mp3", audio, SAMPLE_RATE, format="MP3")
        expected[clip] = (sentence, audio)
        row = dict.fromkeys(HEADER, "")
        row.update(
            client_id=client, path=f"{clip}.mp3", sentence=sentence, up_votes="2",
            down_votes="0", age="twenties", gender="male_masculine", locale="en",
        )  # fmt: skip
        lines.append("\t".join(row[column] for column in HEADER))
    (corpus / "en" / "test.tsv").write_text("".join(f"{line}\n" for line in lines))
    return corpus, expected
