"""A tiny Hub5'00 corpus in its LDC layout: two-sided 8 kHz sphere conversations
``LDC2002S09/hub5e_00/english/<conversation>.sph`` and the transcripts
``LDC2002T43/reference/english/<conversation>.txt``."""

from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import soundfile
from fabricate_audio import speak

RATE = 8000
SECONDS = 8.0
# conversation -> [(start s, side, line as transcribed, expected text or None if dropped)]
CONVERSATIONS = {
    "en_4156": [
        (
            0.5,
            "A",
            "<contraction e_form=\"[we=>we]['re=>are]\">we're starting the transition %um,",
            "we're starting the transition um,",
        ),
        (1.0, "B", "mhm", "mhm"),
        (4.0, "A", "{breath} oh, about ((the)) plan? [laughter]", "oh, about the plan?"),
        (6.5, "B", "{lipsmack}", None),
    ],
    "sw_4390": [
        (0.7, "A", "i think &Dallas is nice", "i think Dallas is nice"),
        (3.0, "B", "yeah it is", "yeah it is"),
    ],
}


def write_sphere(path: Path, audio: np.ndarray, coding: str = "", rate: int = RATE) -> None:
    """16-bit PCM NIST sphere; ``coding`` replaces the header's ``sample_coding`` (to
    fabricate the header of a shorten-compressed file)."""
    soundfile.write(path, audio, rate, format="NIST", subtype="PCM_16")
    if coding:
        data = path.read_bytes()
        fields = data[:1024].decode("latin-1").split("end_head")[0]
        fields = "".join(f"{line}\n" for line in fields.splitlines() if "sample_coding" not in line)
        header = f"{fields}sample_coding -s{len(coding)} {coding}\nend_head\n"
        path.write_bytes(header.encode("latin-1").ljust(1024, b" ") + data[1024:])


def fabricate_eval2000(root: Path) -> Tuple[Path, Dict[str, Tuple[str, int, str, np.ndarray]]]:
    """Write the corpus under ``root/hub5``. Returns the corpus root and the expected
    utterances: Kaldi utterance id -> (conversation, channel, text, audio)."""
    corpus = root / "hub5"
    speech = corpus / "LDC2002S09" / "hub5e_00" / "english"
    transcripts = corpus / "LDC2002T43" / "reference" / "english"
    speech.mkdir(parents=True)
    transcripts.mkdir(parents=True)
    expected = {}
    for conversation, lines in CONVERSATIONS.items():
        sides = np.zeros((int(SECONDS * RATE), 2), dtype=np.float32)
        number = conversation.split("_")[1]
        text = [f"#Language: eng\n#File id: {number}\n#Starting at 0 Ending at 8\n"]
        text.append("# 0 1 #BEGIN\n# 7 8 #END\n")
        for start, side, line, expected_text in lines:
            audio = speak(expected_text or "mm", RATE)
            audio = np.pad(audio, (0, -len(audio) % (RATE // 100)))  # whole centiseconds
            channel = "AB".index(side)
            first = round(start * RATE)
            sides[first : first + len(audio), channel] = audio
            end = start + len(audio) / RATE
            text.append(f"\n{start:.2f} {end:.2f} {side}: {line}\n")
            if expected_text is not None:
                utt = f"{conversation}-{side}_{round(start * 100):06d}-{round(end * 100):06d}"
                expected[utt] = (conversation, channel, expected_text, audio)
        write_sphere(speech / f"{conversation}.sph", sides)
        (transcripts / f"{conversation}.txt").write_text("".join(text))
    return corpus, expected
