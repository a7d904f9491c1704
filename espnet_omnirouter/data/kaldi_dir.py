"""Write and validate Kaldi-style data directories (wav.scp, text, utt2spk, spk2utt)."""

import os
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List

import soundfile


class DataDirError(ValueError):
    """A data directory is inconsistent; the message lists every problem found."""


@dataclass(frozen=True)
class Utterance:
    """One line of each of wav.scp, text and utt2spk."""

    utt_id: str
    speaker: str
    wav_path: str
    text: str


def write_data_dir(utterances: Iterable[Utterance], directory: Path) -> None:
    """Write a sorted data dir atomically: built beside ``directory``, then renamed."""
    utterances = sorted(utterances, key=lambda u: u.utt_id)
    directory = Path(directory)
    staging = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    speakers: Dict[str, List[str]] = defaultdict(list)
    for utt in utterances:
        speakers[utt.speaker].append(utt.utt_id)
    files = {
        "wav.scp": [f"{u.utt_id} {u.wav_path}" for u in utterances],
        "text": [f"{u.utt_id} {u.text}" for u in utterances],
        "utt2spk": [f"{u.utt_id} {u.speaker}" for u in utterances],
        "spk2utt": [f"{spk} {' '.join(ids)}" for spk, ids in sorted(speakers.items())],
    }
    for name, lines in files.items():
        (staging / name).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    validate_data_dir(staging)
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(staging, directory)


def _read_table(path: Path, problems: List[str]) -> Dict[str, str]:
    table: Dict[str, str] = {}
    if not path.is_file():
        problems.append(f"{path}: missing")
        return table
    keys = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        key, _, value = line.partition(" ")
        if not key:
            problems.append(f"{path}:{number}: empty line")
            continue
        if key in table:
            problems.append(f"{path}:{number}: duplicate id {key}")
        table[key] = value.strip()
        keys.append(key)
    if keys != sorted(keys):
        problems.append(f"{path}: not sorted (LC_ALL=C order)")
    return table


def validate_data_dir(directory: Path, check_audio: bool = True) -> int:
    """Check a data dir; return its number of utterances or raise ``DataDirError``.

    Checks: the four files exist, are sorted and have unique ids; wav.scp, text and
    utt2spk cover the same utterances; spk2utt is utt2spk inverted; no transcript is
    empty; and (``check_audio``) every audio file is readable and non-empty.
    """
    directory = Path(directory)
    problems: List[str] = []
    wav = _read_table(directory / "wav.scp", problems)
    text = _read_table(directory / "text", problems)
    utt2spk = _read_table(directory / "utt2spk", problems)
    spk2utt = _read_table(directory / "spk2utt", problems)
    for name, table in (("text", text), ("utt2spk", utt2spk)):
        for utt in sorted(set(wav) ^ set(table)):
            where = "wav.scp" if utt in wav else name
            problems.append(f"{directory}: utterance {utt} is in {where} only (wav.scp vs {name})")
    problems += [
        f"{directory / 'text'}: empty transcript for {u}" for u, t in text.items() if not t
    ]
    inverted: Dict[str, List[str]] = defaultdict(list)
    for utt, spk in utt2spk.items():
        inverted[spk].append(utt)
    if {spk: sorted(ids) for spk, ids in inverted.items()} != {
        spk: sorted(ids.split()) for spk, ids in spk2utt.items()
    }:
        problems.append(f"{directory}: spk2utt is not the inverse of utt2spk")
    if check_audio:
        for utt, path in wav.items():
            try:
                if soundfile.info(path).frames == 0:
                    problems.append(f"{directory / 'wav.scp'}: {utt}: empty audio {path}")
            except (RuntimeError, soundfile.LibsndfileError) as error:
                problems.append(f"{directory / 'wav.scp'}: {utt}: unreadable audio {path}: {error}")
    if not wav and not problems:
        problems.append(f"{directory}: no utterances")
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise DataDirError(f"invalid data dir {directory}:\n  {shown}{more}")
    return len(wav)


def read_wav_scp(directory: Path) -> Dict[str, str]:
    """``utt_id -> audio path`` of a data dir, once its files are checked to agree
    (``validate_data_dir`` without reading the audio)."""
    validate_data_dir(directory, check_audio=False)
    return _read_table(Path(directory) / "wav.scp", [])
