"""Kaldi data dirs from lhotse manifests, readable by ``data/format_data_dir.py``.

Unlike ``lhotse.kaldi.export_to_kaldi`` (which pipes every file through ffmpeg), audio is
referenced as Kaldi recipes do: a plain path where the file holds exactly the audio of
the recording, a ``sox ... remix N |`` pipe to take one channel of a multi-channel file,
and a ``segments`` file where utterances are parts of longer recordings.
"""

import logging
import re
from pathlib import Path
from typing import Dict, List, Tuple

from lhotse import RecordingSet, SupervisionSet

from espnet_omnirouter.data.kaldi_dir import DataDirError, validate_data_dir
from espnet_omnirouter.data.validation import group_by_speaker
from espnet_omnirouter.utils.files import write_text_atomically

logger = logging.getLogger(__name__)


def kaldi_id(text: str) -> str:
    """An id safe in Kaldi tables (no whitespace)."""
    return re.sub(r"\s+", "_", text.strip())


def _audio_entry(path: str, channel: int, num_channels: int) -> str:
    if num_channels == 1:
        return path
    return f"sox {path} -t wav - remix {channel + 1} |"


def write_kaldi_dir(
    recordings: RecordingSet, supervisions: SupervisionSet, output_dir: Path
) -> int:
    """Write ``output_dir`` (wav.scp, text, utt2spk, spk2utt, and segments unless every
    supervision is a whole single-channel recording); returns the number of utterances
    and prints ``[prepare] <dir name>: N utterances, H h``.

    Supervisions without text are left out (logged). Recordings must come from one file
    each (lhotse's ``file`` sources). The dir is validated (not the audio of pipes).
    """
    output_dir = Path(output_dir)
    entries: Dict[str, str] = {}
    segments: List[Tuple[str, str, float, float]] = []
    texts: Dict[str, str] = {}
    speakers: Dict[str, str] = {}
    whole_recordings = True
    skipped = 0
    for sup in supervisions:
        text = " ".join((sup.text or "").split())
        if not text:
            skipped += 1
            continue
        recording = recordings[sup.recording_id]
        if len(recording.sources) != 1 or recording.sources[0].type != "file":
            raise DataDirError(
                f"{sup.recording_id}: recordings must be single files (got "
                f"{[source.type for source in recording.sources]})"
            )
        channel = sup.channel if isinstance(sup.channel, int) else sup.channel[0]
        num_channels = recording.num_channels
        record_id = kaldi_id(recording.id if num_channels == 1 else f"{recording.id}_ch{channel}")
        entries[record_id] = _audio_entry(recording.sources[0].source, channel, num_channels)
        utt = kaldi_id(sup.id)
        if utt in texts:
            raise DataDirError(f"{output_dir}: two supervisions have the id {utt}")
        texts[utt] = text
        speakers[utt] = kaldi_id(sup.speaker or record_id)
        segments.append((utt, record_id, sup.start, sup.end))
        whole_recordings &= (
            num_channels == 1 and sup.start == 0 and abs(sup.end - recording.duration) < 1e-3
        )
    if skipped:
        logger.warning("%s: %d supervisions without text left out", output_dir, skipped)
    if whole_recordings:
        entries = {utt: entries[record] for utt, record, _, _ in segments}
    files = {
        "wav.scp": [f"{key} {value}" for key, value in sorted(entries.items())],
        "text": [f"{utt} {text}" for utt, text in sorted(texts.items())],
        "utt2spk": [f"{utt} {spk}" for utt, spk in sorted(speakers.items())],
        "spk2utt": [
            f"{spk} {' '.join(utts)}" for spk, utts in sorted(group_by_speaker(speakers).items())
        ],
    }
    if not whole_recordings:
        files["segments"] = [
            f"{utt} {record} {start:.3f} {end:.3f}" for utt, record, start, end in sorted(segments)
        ]
    for name, lines in files.items():
        write_text_atomically(output_dir / name, "".join(f"{line}\n" for line in lines))
    count = validate_data_dir(output_dir, check_audio=False)
    hours = sum(end - start for _, _, start, end in segments) / 3600
    print(f"[prepare] {output_dir.name}: {count} utterances, {hours:.1f} h", flush=True)
    return count
