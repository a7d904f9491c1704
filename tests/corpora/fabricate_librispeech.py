"""A miniature LibriSpeech in the layout OpenSLR distributes it: espeak-ng speech as 16 kHz
mono flac, ``LibriSpeech/<part>/<speaker>/<chapter>/<speaker>-<chapter>-<nnnn>.flac`` and one
``<speaker>-<chapter>.trans.txt`` per chapter (upper-case transcripts)."""

import subprocess
from pathlib import Path
from typing import Dict, Sequence

SENTENCES = [
    "THE CAT SAT ON THE MAT",
    "A DOG RAN IN THE PARK",
    "SHE READ A GOOD BOOK",
    "WE WALKED TO THE OLD MILL",
    "THE SUN ROSE OVER THE HILL",
    "HE SAID THAT IT WAS LATE",
    "THE BIRDS SANG IN THE TREES",
    "THEY MET AT THE RIVER",
]
# Two speakers of one chapter each per part; speaker ids differ across parts, as in LibriSpeech.
VOICES = ["en-us+m3", "en-gb+f2", "en-us+m7", "en-gb+f4"]


def synthesize_flac(text: str, voice: str, path: Path) -> None:
    """espeak-ng speech of ``text`` as a 16 kHz mono 16-bit flac file."""
    speech = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "170", "--stdout", text.lower()],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(
        ["sox", "-t", "wav", "-", "-r", "16000", "-c", "1", "-b", "16", str(path), "gain", "-1"],
        input=speech,
        capture_output=True,
        check=True,
    )


def fabricate_librispeech(
    root: Path, parts: Sequence[str], utterances_per_speaker: int = 2
) -> Dict[str, Dict[str, str]]:
    """Write ``root/LibriSpeech/<part>/...`` for every part (2 speakers each); return
    ``{part: {utterance id: transcript}}``."""
    transcripts: Dict[str, Dict[str, str]] = {}
    for part_index, part in enumerate(parts):
        transcripts[part] = {}
        for speaker_index in range(2):
            speaker = 100 + 10 * part_index + speaker_index
            chapter = 1000 + speaker
            chapter_dir = root / "LibriSpeech" / part / str(speaker) / str(chapter)
            chapter_dir.mkdir(parents=True)
            lines = []
            for number in range(utterances_per_speaker):
                utt = f"{speaker}-{chapter}-{number:04d}"
                text = SENTENCES[(part_index + speaker_index * 3 + number) % len(SENTENCES)]
                voice = VOICES[(part_index + speaker_index) % len(VOICES)]
                synthesize_flac(text, voice, chapter_dir / f"{utt}.flac")
                lines.append(f"{utt} {text}\n")
                transcripts[part][utt] = text
            (chapter_dir / f"{speaker}-{chapter}.trans.txt").write_text("".join(lines))
    return transcripts
