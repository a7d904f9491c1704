"""Checks of Kaldi/ESPnet input tables (``wav.scp``, ``text``, ...) that report every
problem with its file, line and utterance id, before a training or decoding run uses them.

Each check appends human-readable problems (``"<file>:<line>: <utt>: <what>"``) to a
list; ``raise_for_problems`` turns a non-empty list into one ``InputDataError``.
"""

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Type

import soundfile

# ESPnet data types whose file is a ``utt_id path`` table of audio files soundfile reads.
AUDIO_TYPES = ("sound",)
# ESPnet data types whose file is a ``utt_id transcript`` table.
TEXT_TYPES = ("text",)
MAX_PROBLEMS_SHOWN = 30


class InputDataError(ValueError):
    """Input data cannot be used; the message lists every problem found."""


@dataclass
class Table:
    """A ``utt_id value`` file: entries in file order and the line of each id."""

    path: Path
    entries: Dict[str, str] = field(default_factory=dict)
    lines: Dict[str, int] = field(default_factory=dict)

    def where(self, utt: str) -> str:
        return f"{self.path}:{self.lines[utt]}: {utt}"


def read_table(
    path: Path, problems: List[str], what: str = "value", require_sorted: bool = False
) -> Table:
    """Read ``path``, noting missing file, non-UTF-8 lines, empty lines, duplicate ids,
    empty values (called ``what`` in messages) and, optionally, unsorted ids."""
    table = Table(Path(path))
    if not table.path.is_file():
        problems.append(f"{path}: missing")
        return table
    for number, raw in enumerate(table.path.read_bytes().splitlines(), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            problems.append(
                f"{path}:{number}: not UTF-8 (byte {raw[error.start]:#04x} at column "
                f"{error.start + 1})"
            )
            continue
        key, _, value = line.strip().partition(" ")
        if not key:
            problems.append(f"{path}:{number}: empty line")
            continue
        if key in table.entries:
            problems.append(
                f"{path}:{number}: {key}: duplicate id (first on line {table.lines[key]})"
            )
            continue
        if not value.strip():
            problems.append(f"{path}:{number}: {key}: empty {what}")
        table.entries[key] = value.strip()
        table.lines[key] = number
    if require_sorted and list(table.entries) != sorted(table.entries):
        problems.append(f"{path}: not sorted (LC_ALL=C order)")
    return table


def check_same_ids(tables: Sequence[Table], problems: List[str]) -> None:
    """Note every utterance that is in some of ``tables`` but not in all of them."""
    present = [t for t in tables if t.entries or t.path.is_file()]
    all_ids = set().union(*(t.entries for t in present)) if present else set()
    for table in present:
        for utt in sorted(all_ids - set(table.entries)):
            owner = next(t for t in present if utt in t.entries)
            problems.append(f"{owner.where(utt)}: not in {table.path}")


def check_audio(
    table: Table,
    problems: List[str],
    sample_rate: Optional[int] = None,
    empty_ok: bool = False,
    pipes_ok: bool = False,
) -> None:
    """Note audio that is missing, unreadable, (unless ``empty_ok``) empty, or (given
    ``sample_rate``) at another rate. Kaldi ``cmd |`` entries are not run: with
    ``pipes_ok`` they are skipped, else they are not audio files.

    Reads headers only, so checking a large corpus costs one file open per utterance.
    """
    for utt, path in table.entries.items():
        if not path or (pipes_ok and path.endswith("|")):
            continue  # an empty path is reported by read_table
        if not os.path.isfile(path):
            problems.append(f"{table.where(utt)}: audio file not found: {path}")
            continue
        try:
            info = soundfile.info(path)
        except (RuntimeError, soundfile.LibsndfileError) as error:
            problems.append(f"{table.where(utt)}: unreadable audio {path}: {error}")
            continue
        if info.frames == 0 and not empty_ok:
            problems.append(f"{table.where(utt)}: zero-length audio {path}")
        if sample_rate is not None and info.samplerate != sample_rate:
            problems.append(
                f"{table.where(utt)}: sample rate {info.samplerate} Hz, the model expects "
                f"{sample_rate} Hz: {path}"
            )


def raise_for_problems(
    problems: Sequence[str], what: str, error: Type[InputDataError] = InputDataError
) -> None:
    """Raise ``error`` listing ``problems`` (the first ``MAX_PROBLEMS_SHOWN``)."""
    if not problems:
        return
    shown = "\n  ".join(problems[:MAX_PROBLEMS_SHOWN])
    more = len(problems) - MAX_PROBLEMS_SHOWN
    tail = f"\n  ... and {more} more" if more > 0 else ""
    raise error(f"{what}: {len(problems)} problem(s):\n  {shown}{tail}")


def validate_task_data(
    path_name_types: Sequence[Tuple[str, str, str]],
    sample_rate: Optional[int] = None,
    what: str = "data",
) -> int:
    """Check the files of one ESPnet ``--*_data_path_and_name_and_type`` set.

    ``sound`` tables: audio present, readable, non-empty, at ``sample_rate``; ``text``
    tables: UTF-8, no empty transcript; every table: no duplicate ids, and all tables of
    the set list the same utterances. Returns the number of utterances or raises
    ``InputDataError``.
    """
    problems: List[str] = []
    tables = []
    for path, _, data_type in path_name_types:
        what_value = "transcript" if data_type in TEXT_TYPES else "value"
        table = read_table(Path(path), problems, what_value)
        if data_type in AUDIO_TYPES:
            check_audio(table, problems, sample_rate)
        tables.append(table)
    check_same_ids(tables, problems)
    if tables and not problems and not tables[0].entries:
        problems.append(f"{tables[0].path}: no utterances")
    raise_for_problems(problems, what)
    return len(tables[0].entries) if tables else 0


def group_by_speaker(utt2spk: Dict[str, str]) -> Dict[str, List[str]]:
    """Invert ``utt -> speaker`` into ``speaker -> sorted utts``."""
    speakers: Dict[str, List[str]] = defaultdict(list)
    for utt, spk in utt2spk.items():
        speakers[spk].append(utt)
    return {spk: sorted(ids) for spk, ids in speakers.items()}
