"""Write and validate Kaldi-style data directories (wav.scp, text, utt2spk, spk2utt)."""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from espnet_omnirouter.data.validation import (
    InputDataError,
    Table,
    check_same_ids,
    group_by_speaker,
    raise_for_problems,
    read_table,
)
from espnet_omnirouter.data.validation import check_audio as check_audio_table


class DataDirError(InputDataError):
    """A data directory is inconsistent; the message lists every problem found."""


@dataclass(frozen=True)
class Utterance:
    """One line of each of wav.scp, text and utt2spk (``text`` None: untranscribed)."""

    utt_id: str
    speaker: str
    wav_path: str
    text: Optional[str]


def write_data_dir(
    utterances: Iterable[Utterance],
    directory: Path,
    extra_tables: Optional[Dict[str, Dict[str, str]]] = None,
) -> None:
    """Write a sorted data dir atomically: built beside ``directory``, then renamed.
    Without transcripts (every ``text`` None) it has no ``text`` file; ``extra_tables``
    (file name -> ``utt -> value``) are written beside the others."""
    utterances = sorted(utterances, key=lambda u: u.utt_id)
    transcribed = {u.text is not None for u in utterances}
    if len(transcribed) > 1:
        raise ValueError(f"{directory}: some utterances have a transcript and some not")
    directory = Path(directory)
    staging = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    speakers = group_by_speaker({u.utt_id: u.speaker for u in utterances})
    files = {
        "wav.scp": [f"{u.utt_id} {u.wav_path}" for u in utterances],
        "utt2spk": [f"{u.utt_id} {u.speaker}" for u in utterances],
        "spk2utt": [f"{spk} {' '.join(ids)}" for spk, ids in sorted(speakers.items())],
    }
    if transcribed == {True}:
        files["text"] = [f"{u.utt_id} {u.text}" for u in utterances]
    for name, table in (extra_tables or {}).items():
        files[name] = [f"{utt} {table[utt]}" for utt in sorted(table)]
    for name, lines in files.items():
        (staging / name).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    validate_data_dir(staging, require_text=transcribed != {False})
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(staging, directory)


def validate_data_dir(
    directory: Path,
    check_audio: bool = True,
    sample_rate: Optional[int] = None,
    empty_audio_ok: bool = False,
    require_text: bool = True,
) -> int:
    """Check a data dir; return its number of utterances or raise ``DataDirError``.

    Checks: the four files exist (``text`` may be missing unless ``require_text``), are
    UTF-8, sorted, with unique ids; wav.scp (or, with a ``segments`` file, the segments,
    each in a recording of wav.scp), text and utt2spk cover the same utterances; spk2utt is
    utt2spk inverted; no transcript is empty; and (``check_audio``) every audio file
    exists, is readable, non-empty (unless ``empty_audio_ok``: decoders give empty audio
    the empty hypothesis) and (given ``sample_rate``) at that rate (``cmd |`` entries are
    not run). Every problem is listed with file, line and id.
    """
    directory = Path(directory)
    problems: List[str] = []
    names = [("wav.scp", "audio path"), ("utt2spk", "speaker"), ("spk2utt", "utterance list")]
    if require_text or (directory / "text").exists():
        names.append(("text", "transcript"))
    wav, utt2spk, spk2utt, *text = (
        read_table(directory / name, problems, what, require_sorted=True) for name, what in names
    )
    utterances = wav
    if (directory / "segments").exists():
        utterances = read_table(directory / "segments", problems, "segment", require_sorted=True)
        check_segments(utterances, wav, problems)
    check_same_ids([utterances, *text, utt2spk], problems)
    if group_by_speaker(utt2spk.entries) != {
        spk: sorted(ids.split()) for spk, ids in spk2utt.entries.items()
    }:
        problems.append(f"{directory}: spk2utt is not the inverse of utt2spk")
    if check_audio:
        check_audio_table(wav, problems, sample_rate, empty_audio_ok, pipes_ok=True)
    if not utterances.entries and not problems:
        problems.append(f"{directory}: no utterances")
    raise_for_problems(problems, f"invalid data dir {directory}", DataDirError)
    return len(utterances.entries)


def check_segments(segments: Table, wav: Table, problems: List[str]) -> None:
    """Each ``utt recording start end`` line names a recording of wav.scp, 0 <= start < end."""
    for utt, value in segments.entries.items():
        fields = value.split()
        try:
            recording, start, end = fields[0], float(fields[1]), float(fields[2])
        except (IndexError, ValueError):
            problems.append(f"{segments.where(utt)}: expected 'recording start end'")
            continue
        if recording not in wav.entries:
            problems.append(f"{segments.where(utt)}: recording {recording} not in {wav.path}")
        if not 0 <= start < end:
            problems.append(f"{segments.where(utt)}: segment {start}-{end} s is empty")


def read_wav_scp(directory: Path) -> Dict[str, str]:
    """``utt_id -> audio path`` of a data dir, once its files are checked to agree
    (``validate_data_dir`` without reading the audio; transcripts optional)."""
    validate_data_dir(directory, check_audio=False, require_text=False)
    return read_table(Path(directory) / "wav.scp", []).entries
