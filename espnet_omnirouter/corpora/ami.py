"""AMI Meeting Corpus (Carletta et al., 2005): the individual headset (IHM) test set, read
with the steps of lhotse's ``prepare_ami`` (which itself needs the audio of every partition).

The test set is the ``full-corpus-asr`` partition's: meetings ES2004a-d, IS1009a-d,
TS3003a-d and EN2002a-d, the "eval" list (``split_eval.orig``) of Kaldi's ``egs/ami`` and
ESPnet's ``egs2/ami`` recipes and the test split of the Hugging Face ``edinburghcstr/ami``
set used by ESB-style evaluations. Transcripts come from the manual annotations
``ami_public_manual_1.6.2``: lhotse cuts each transcriber segment at full stops and keeps
the words as written (``normalize_text="none"``, punctuation attached to its word; the
segmentation is lhotse's, not Kaldi's s5b max-15-word one). Each headset is its own
recording (one mono 16 kHz wav per speaker); the utterances are its segments.
"""

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Tuple

from lhotse import (
    Recording,
    RecordingSet,
    SupervisionSet,
    fix_manifests,
    validate_recordings_and_supervisions,
)
from lhotse.audio import AudioSource
from lhotse.recipes.ami import (
    PARTITIONS,
    parse_ami_annotations,
    prepare_audio_grouped,
    prepare_supervision_ihm,
)
from lhotse.utils import fastcopy

from espnet_omnirouter.corpora.kaldi_export import write_kaldi_dir
from espnet_omnirouter.corpora.registry import Corpus, CorpusError

BENCHMARK = "ami_ihm_test"
PARTITION = "full-corpus-asr"
ANNOTATIONS = "ami_public_manual_1.6.2"


def _headset_channels(annotations: Path, meetings: List[str]) -> Dict[str, List[int]]:
    """Meeting -> headset channels of its speakers, from ``corpusResources/meetings.xml``."""
    channels: Dict[str, List[int]] = {}
    for meeting in ET.parse(annotations / "corpusResources" / "meetings.xml").getroot():
        if meeting.attrib.get("observation") in meetings:
            channels[meeting.attrib["observation"]] = sorted(
                int(speaker.attrib["channel"]) for speaker in meeting
            )
    return channels


def _test_headsets(corpus_root: Path, meetings: List[str]) -> List[Path]:
    """The headset wavs of ``meetings``; raises ``CorpusError`` naming what is missing."""
    annotations = corpus_root / ANNOTATIONS
    needed = [annotations / "corpusResources" / "meetings.xml"]
    needed += [annotations / name for name in ("words", "segments")]
    missing = [str(path.relative_to(corpus_root)) for path in needed if not path.exists()]
    if missing:
        raise CorpusError(
            f"--ami_root {corpus_root}: missing {', '.join(missing)} (unzip "
            f"{ANNOTATIONS}.zip into the directory that holds the amicorpus audio)"
        )
    channels = _headset_channels(annotations, meetings)
    # lhotse takes the meeting from the wav's path: <meeting>/audio/<meeting>.Headset-<n>.wav
    wavs = {
        path.name: path
        for path in corpus_root.rglob("*.Headset-?.wav")
        if path.parts[-3] in meetings and path.parent.name == "audio"
    }
    missing = [
        f"meeting {meeting} in meetings.xml" for meeting in meetings if meeting not in channels
    ]
    missing += [
        f"{meeting}/audio/{meeting}.Headset-{channel}.wav"
        for meeting, meeting_channels in sorted(channels.items())
        for channel in meeting_channels
        if f"{meeting}.Headset-{channel}.wav" not in wavs
    ]
    if missing:
        raise CorpusError(f"--ami_root {corpus_root}: missing {', '.join(missing)}")
    return sorted(wavs.values())


def _per_headset(
    recordings: RecordingSet, supervisions: SupervisionSet
) -> Tuple[RecordingSet, SupervisionSet]:
    """One mono recording per headset wav (lhotse groups a meeting's headsets into one
    multi-source recording), and utterance ids ``<speaker>_<meeting>_H<nn>_<start>_<end>``
    (centiseconds; speaker first, as Kaldi sorts)."""
    headsets: Dict[Tuple[str, int], Recording] = {}
    for recording in recordings:
        for source in recording.sources:
            (channel,) = source.channels
            headsets[recording.id, channel] = Recording(
                id=Path(source.source).stem,
                sources=[AudioSource(type="file", channels=[0], source=source.source)],
                sampling_rate=recording.sampling_rate,
                num_samples=recording.num_samples,
                duration=recording.duration,
            )
    utterances = []
    for sup in supervisions:
        channel = sup.channel if isinstance(sup.channel, int) else sup.channel[0]
        utt = (
            f"{sup.speaker}_{sup.recording_id}_H{channel:02d}_"
            f"{round(sup.start * 100):07d}_{round(sup.end * 100):07d}"
        )
        recording_id = headsets[sup.recording_id, channel].id
        utterances.append(fastcopy(sup, id=utt, recording_id=recording_id, channel=0))
    ids = [sup.id for sup in utterances]
    duplicates = sorted({utt for utt in ids if ids.count(utt) > 1})
    if duplicates:
        raise CorpusError(f"AMI: segments with the same speaker and times: {duplicates}")
    return RecordingSet.from_recordings(headsets.values()), SupervisionSet.from_segments(utterances)


def prepare(corpus_root: Path, output_dir: Path, num_jobs: int) -> Dict[str, Path]:
    """Write ``output_dir/ami_ihm_test`` from ``corpus_root`` (the directory holding the
    headset wavs, ``<meeting>/audio/<meeting>.Headset-<n>.wav`` at any depth, and
    ``ami_public_manual_1.6.2/``). ``num_jobs`` is not used (lhotse's recipe is serial)."""
    corpus_root = Path(corpus_root)
    meetings = PARTITIONS[PARTITION]["test"]
    headsets = _test_headsets(corpus_root, meetings)
    # lhotse's prepare_ami needs audio of every partition; its steps, on the test meetings:
    annotations = parse_ami_annotations(
        corpus_root / ANNOTATIONS, normalize="none", keep_punctuation=True
    )
    recordings = prepare_audio_grouped(headsets)
    recordings, supervisions = fix_manifests(
        recordings, prepare_supervision_ihm(recordings, annotations)
    )
    validate_recordings_and_supervisions(recordings, supervisions)
    recordings, supervisions = _per_headset(recordings, supervisions)
    output = Path(output_dir) / BENCHMARK
    write_kaldi_dir(recordings, supervisions, output)
    return {BENCHMARK: output}


CORPUS = Corpus(
    key="ami",
    title="AMI Meeting Corpus",
    obtain=(
        "AMI Meeting Corpus (University of Edinburgh / AMI Consortium, CC BY 4.0): the "
        "headset audio ('Individual headsets', <meeting>/audio/<meeting>.Headset-<n>.wav, "
        "16 kHz) of the 16 test meetings ES2004a-d, IS1009a-d, TS3003a-d, EN2002a-d (or "
        "all meetings) from https://groups.inf.ed.ac.uk/ami/download/ (the download script "
        "writes amicorpus/), and the manual annotations ami_public_manual_1.6.2.zip from "
        "the same page, unzipped next to it. Pass the directory holding both, e.g. DIR "
        "with DIR/amicorpus/ES2004a/audio/ES2004a.Headset-0.wav and "
        "DIR/ami_public_manual_1.6.2/corpusResources/meetings.xml."
    ),
    benchmarks=((BENCHMARK, "AMI-IHM"),),
    prepare=prepare,
)
