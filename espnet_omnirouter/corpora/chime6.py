"""CHiME-6 (Watanabe et al., 2020): the evaluation sessions S01 and S21 heard through each
speaker's own worn binaural microphone, read with lhotse's ``prepare_chime6(mic="ihm")``.

Each speaker's ``<session>_<speaker>.wav`` is a 2-channel (left, right ear) 16 kHz file;
every utterance of a speaker is cut from the LEFT channel of that speaker's microphone
(wav.scp: ``sox ... remix 1 |``), once. Kaldi's ``chime6/s5_track1`` "worn" data dirs list
both ears as two entries (``.L``, ``.R``); Whisper-style out-of-domain evaluations score
the worn microphones, and one ear keeps every utterance scored once.

Transcripts are the session JSONs as written (``normalize_text="none"``), minus bracketed
markup that is not speech: ``[laughs]``, ``[noise]``, ``[inaudible 0:12:34.56]`` and the
like are removed, and segments containing ``[redacted]`` (whose audio was muted) are
dropped, as lhotse's Kaldi normalisation does; segments left without words are dropped.
"""

import json
import re
from pathlib import Path
from typing import Dict, List, Tuple

from lhotse import Recording, RecordingSet, SupervisionSet
from lhotse.audio import AudioSource
from lhotse.recipes import prepare_chime6
from lhotse.recipes.chime6 import DATASET_PARTS
from lhotse.utils import fastcopy

from espnet_omnirouter.corpora.kaldi_export import write_kaldi_dir
from espnet_omnirouter.corpora.registry import Corpus, CorpusError

BENCHMARK = "chime6_eval"
PART = "eval"
MARKUP = re.compile(r"\[[^\]]*\]")


def transcript_text(words: str) -> str:
    """A CHiME-6 transcript without its bracketed non-speech markup ("" for a redacted
    segment)."""
    if "[redacted]" in words:
        return ""
    return " ".join(MARKUP.sub(" ", words).split())


def _check_corpus(corpus_root: Path, sessions: List[str]) -> None:
    missing = []
    for session in sessions:
        transcript = corpus_root / "transcriptions" / PART / f"{session}.json"
        if not transcript.is_file():
            missing.append(str(transcript.relative_to(corpus_root)))
            continue
        speakers = {segment["speaker"] for segment in json.loads(transcript.read_text())}
        missing += [
            f"audio/{PART}/{session}_{speaker}.wav"
            for speaker in sorted(speakers)
            if not (corpus_root / "audio" / PART / f"{session}_{speaker}.wav").is_file()
        ]
    if missing:
        raise CorpusError(
            f"--chime6_root {corpus_root}: missing {', '.join(missing)} (pass the "
            "array-synchronised CHiME6 directory, with audio/ and transcriptions/)"
        )


def _left_ear_per_speaker(
    recordings: RecordingSet, supervisions: SupervisionSet
) -> Tuple[RecordingSet, SupervisionSet]:
    """One 2-channel recording per worn microphone (lhotse joins a session's microphones
    into one recording of 2 channels each), supervisions on its channel 0 (left ear), ids
    ``<speaker>_<session>_<start>-<end>`` (centiseconds; speaker first, as Kaldi sorts)."""
    microphones = {}
    for recording in recordings:
        for source in recording.sources:
            microphones[recording.id, source.channels[0]] = Recording(
                id=Path(source.source).stem,
                sources=[AudioSource(type="file", channels=[0, 1], source=source.source)],
                sampling_rate=recording.sampling_rate,
                num_samples=recording.num_samples,
                duration=recording.duration,
            )
    utterances = [
        fastcopy(
            sup,
            id=f"{sup.speaker}_{sup.recording_id}_"
            f"{round(sup.start * 100):07d}-{round(sup.end * 100):07d}",
            recording_id=microphones[sup.recording_id, sup.channel[0]].id,
            channel=0,
            text=transcript_text(sup.text),
        )
        for sup in supervisions
    ]
    return RecordingSet.from_recordings(microphones.values()), SupervisionSet.from_segments(
        utterances
    )


def prepare(corpus_root: Path, output_dir: Path, num_jobs: int) -> Dict[str, Path]:
    """Write ``output_dir/chime6_eval`` from ``corpus_root`` (the CHiME6 directory:
    ``audio/eval/<session>_P<nn>.wav``, ``transcriptions/eval/<session>.json``).
    ``num_jobs`` is not used (only array synchronisation runs in parallel in lhotse)."""
    corpus_root = Path(corpus_root)
    _check_corpus(corpus_root, DATASET_PARTS[PART])
    manifests = prepare_chime6(corpus_root, dataset_parts=PART, mic="ihm", normalize_text="none")
    recordings, supervisions = _left_ear_per_speaker(
        manifests[PART]["recordings"], manifests[PART]["supervisions"]
    )
    output = Path(output_dir) / BENCHMARK
    write_kaldi_dir(recordings, supervisions, output)
    return {BENCHMARK: output}


CORPUS = Corpus(
    key="chime6",
    title="CHiME-6",
    obtain=(
        "CHiME-5 (University of Sheffield; free licence for non-commercial research, "
        "https://licensing.sheffield.ac.uk/product/chime5), array-synchronised into CHiME-6 "
        "by the CHiME-6 synchronisation tools (https://github.com/chimechallenge/"
        "chime6-synchronisation, or Kaldi's egs/chime6/s5_track1 stage 0, or lhotse's "
        "prepare_chime6(perform_array_sync=True)). Pass the CHiME6 directory; only the "
        "worn microphones of the evaluation sessions are read: audio/eval/S01_P0[1-4].wav, "
        "audio/eval/S21_P4[5-8].wav and transcriptions/eval/S01.json, S21.json."
    ),
    benchmarks=((BENCHMARK, "CHiME-6"),),
    prepare=prepare,
)
