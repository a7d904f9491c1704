"""A tiny FLEURS en_us in the two layouts it comes in: the Hugging Face Hub's
(``data/en_us/{split}.tsv``, ``data/en_us/audio/{split}.tar.gz`` of ``{split}/<id>.wav``)
and the one lhotse's ``download_fleurs`` writes (``en_us/{split}/*.wav``,
``metadata/en_us/{split}.tsv``). 16 kHz mono 16-bit wavs, header-less 7-column tsvs."""

import io
import tarfile
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import soundfile
from fabricate_audio import speak

SAMPLE_RATE = 16000
# Split -> (prompt id, wav name, raw transcription, transcription) per recording; FLEURS
# has several recordings (speakers) of one prompt.
RECORDINGS = {
    "train": [("1500", "1123456789012345678.wav", "Cats sleep a lot.", "cats sleep a lot")],
    "dev": [("1600", "2234567890123456789.wav", "Dogs bark.", "dogs bark")],
    "test": [
        ("1906", "10004088536354799741.wav", "The ship sailed at 9 pm.", "the ship sailed at 9 pm"),
        ("1906", "12186921543224165013.wav", "The ship sailed at 9 pm.", "the ship sailed at 9 pm"),
        ("1910", "15911358364452016016.wav", "Birds fly south, mostly.", "birds fly south mostly"),
    ],
}  # fmt: skip


def _wav(sentence: str) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, speak(sentence, SAMPLE_RATE), SAMPLE_RATE, format="WAV",
                    subtype="PCM_16")  # fmt: skip
    return buffer.getvalue()


def _tsv(rows: List[Tuple[str, str, str, str]], wavs: Dict[str, bytes]) -> str:
    lines = []
    for prompt, name, raw, text in rows:
        characters = " ".join("|".join(text.split())) + " |"
        samples = soundfile.info(io.BytesIO(wavs[name])).frames
        lines.append("\t".join([prompt, name, raw, text, characters, str(samples), "FEMALE"]))
    return "".join(f"{line}\n" for line in lines)


def _recordings() -> Dict[str, Dict[str, bytes]]:
    return {
        split: {name: _wav(raw) for _, name, raw, _ in rows} for split, rows in RECORDINGS.items()
    }


def fabricate_fleurs_hub(root: Path) -> Path:
    """Write a Hub copy (``root/fleurs_hub/data/en_us``) and return ``root/fleurs_hub``."""
    corpus = root / "fleurs_hub"
    language = corpus / "data" / "en_us"
    (language / "audio").mkdir(parents=True)
    for split, wavs in _recordings().items():
        (language / f"{split}.tsv").write_text(_tsv(RECORDINGS[split], wavs))
        with tarfile.open(language / "audio" / f"{split}.tar.gz", "w:gz") as archive:
            for name, data in wavs.items():
                member = tarfile.TarInfo(f"{split}/{name}")
                member.size = len(data)
                archive.addfile(member, io.BytesIO(data))
    return corpus


def fabricate_fleurs_lhotse(root: Path) -> Path:
    """Write lhotse's layout (``root/fleurs``) and return it."""
    corpus = root / "fleurs"
    (corpus / "metadata" / "en_us").mkdir(parents=True)
    for split, wavs in _recordings().items():
        (corpus / "metadata" / "en_us" / f"{split}.tsv").write_text(_tsv(RECORDINGS[split], wavs))
        (corpus / "en_us" / split).mkdir(parents=True)
        for name, data in wavs.items():
            (corpus / "en_us" / split / name).write_bytes(data)
    return corpus


def expected_test_set() -> Dict[str, Tuple[str, np.ndarray]]:
    """Utterance id as lhotse forms it (``<prompt>_<recording of the prompt>_<wav stem>``)
    -> transcription and audio."""
    expected, seen = {}, {}
    for prompt, name, raw, text in RECORDINGS["test"]:
        seen[prompt] = seen.get(prompt, 0) + 1
        audio, _ = soundfile.read(io.BytesIO(_wav(raw)), dtype="float32")
        expected[f"{prompt}_{seen[prompt]}_{Path(name).stem}"] = (text, audio)
    return expected
