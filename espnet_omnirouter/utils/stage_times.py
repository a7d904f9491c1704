"""Wall times of recipe steps: run.sh appends ``stage<TAB>step<TAB>seconds`` to
``<exp_dir>/stage_times.tsv`` as each step (``train_omni``, ``decode_dense``, ...) ends."""

from dataclasses import dataclass
from pathlib import Path
from typing import List


@dataclass(frozen=True)
class StageTime:
    stage: str  # the stage number
    step: str
    seconds: int


def read_stage_times(path: Path) -> List[StageTime]:
    """The lines of a stage_times.tsv in order (a step run twice appears twice); none if
    the file does not exist."""
    if not path.is_file():
        return []
    times = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split("\t")
        if len(fields) != 3 or not fields[2].isdigit():
            raise ValueError(f"{path}:{number}: expected stage<TAB>step<TAB>seconds: {line!r}")
        times.append(StageTime(fields[0], fields[1], int(fields[2])))
    return times


def format_duration(seconds: int) -> str:
    """``754`` -> ``12m34s``."""
    return f"{seconds // 60}m{seconds % 60:02d}s"
