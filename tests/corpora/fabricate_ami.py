"""A tiny AMI corpus in its distributed layout: headset wavs
``amicorpus/<meeting>/audio/<meeting>.Headset-<n>.wav`` and the NXT annotations
``ami_public_manual_1.6.2/{corpusResources/meetings.xml, words/, segments/}``."""

import re
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import soundfile
from fabricate_audio import speak
from lhotse.recipes.ami import PARTITIONS

from espnet_omnirouter.corpora.ami import PARTITION

RATE = 16000
NITE = 'xmlns:nite="http://nite.sourceforge.net/"'
# meeting -> speakers (agent, global name, headset channel, [(start s, [phrases])]);
# each phrase ends in a full stop in the words file, where lhotse cuts segments.
SPEECH = {
    "ES2004a": [
        ("A", "FEE013", 0, [(0.5, ["Okay, let's begin the meeting", "Shall we?"])]),
        ("B", "MEE014", 1, [(1.0, ["I brought the slides"])]),
    ],
    "EN2002a": [("A", "FEO070", 0, [(0.3, ["The remote is yellow"])])],
    "ES2002a": [("A", "MEE006", 0, [(0.2, ["This meeting is for training"])])],  # train set
}
MEETING_SECONDS = 6.0


def _phrase_audio(phrase: str) -> np.ndarray:
    """Speech padded to whole centiseconds, so that times in the annotations are exact."""
    audio = speak(phrase, RATE)
    return np.pad(audio, (0, -len(audio) % (RATE // 100)))


def _words_xml(meeting: str, agent: str, words: List[Tuple[float, float, str, bool]]) -> str:
    lines = []
    for index, (start, end, token, punc) in enumerate(words):
        extra = ' punc="true"' if punc else ""
        lines.append(
            f'   <w nite:id="{meeting}.{agent}.words{index}" starttime="{start:.2f}" '
            f'endtime="{end:.2f}"{extra}>{token}</w>'
        )
    if words:  # a laugh: not a word, so in no transcript
        lines.append(
            f'   <vocalsound nite:id="{meeting}.{agent}.words{len(words)}" '
            f'starttime="{words[-1][1]:.2f}" endtime="{words[-1][1] + 0.2:.2f}" type="laugh"/>'
        )
    body = "\n".join(lines)
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>\n'
        f'<nite:root nite:id="{meeting}.{agent}.words" {NITE}>\n{body}\n</nite:root>\n'
    )


def _segments_xml(meeting: str, agent: str, segments: List[Tuple[float, float]]) -> str:
    body = "\n".join(
        f'   <segment nite:id="{meeting}.sync.{index}" transcriber_start="{start:.2f}" '
        f'transcriber_end="{end:.2f}">\n'
        f'      <nite:child href="{meeting}.{agent}.words.xml#id({meeting}.{agent}.words0)"/>\n'
        "   </segment>"
        for index, (start, end) in enumerate(segments)
    )
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>\n'
        f'<nite:root nite:id="{meeting}.{agent}.segs" {NITE}>\n{body}\n</nite:root>\n'
    )


def fabricate_ami(root: Path) -> Tuple[Path, Dict[str, Tuple[str, str, np.ndarray]]]:
    """Write the corpus under ``root/ami``: every test meeting (silent headsets where
    ``SPEECH`` has none) and one training meeting. Returns the corpus root and the
    expected test utterances: Kaldi utterance id -> (headset wav name, text, audio)."""
    corpus = root / "ami"
    annotations = corpus / "ami_public_manual_1.6.2"
    for name in ("corpusResources", "words", "segments"):
        (annotations / name).mkdir(parents=True)
    test_meetings = PARTITIONS[PARTITION]["test"]
    speakers = {meeting: [("A", "FEE001", 0, [])] for meeting in test_meetings}
    speakers.update(SPEECH)
    expected = {}
    meeting_entries = []
    for meeting, meeting_speakers in speakers.items():
        audio_dir = corpus / "amicorpus" / meeting / "audio"
        audio_dir.mkdir(parents=True)
        entries = []
        for agent, name, channel, segments in meeting_speakers:
            entries.append(
                f'    <speaker nite:id="{meeting}.speaker.{agent}" nxt_agent="{agent}" '
                f'global_name="{name}" role="PM" channel="{channel}"/>'
            )
            headset = np.zeros(int(MEETING_SECONDS * RATE), dtype=np.float32)
            words: List[Tuple[float, float, str, bool]] = []
            segment_times = []
            for segment_start, phrases in segments:
                time = segment_start
                for phrase in phrases:
                    audio = _phrase_audio(phrase)
                    first = round(time * RATE)
                    headset[first : first + len(audio)] = audio
                    end = time + len(audio) / RATE
                    tokens = re.findall(r"[\w']+|[,?]", phrase) + ["."]
                    spoken = [token for token in tokens if token not in ",?."]
                    edges = np.linspace(time, end, len(spoken) + 1)
                    bounds = iter(zip(edges[:-1], edges[1:]))
                    word_end = time
                    for token in tokens:
                        if token in ",?.":  # punctuation: no duration, after its word
                            words.append((word_end, word_end, token, True))
                        else:
                            word_start, word_end = next(bounds)
                            words.append((word_start, word_end, token, False))
                    if meeting in test_meetings:
                        times = f"{round(time * 100):07d}_{round(end * 100):07d}"
                        utt = f"{name}_{meeting}_H{channel:02d}_{times}"
                        expected[utt] = (f"{meeting}.Headset-{channel}", phrase, audio)
                    time = end + 0.2
                segment_times.append((segment_start - 0.05, time))
            soundfile.write(audio_dir / f"{meeting}.Headset-{channel}.wav", headset, RATE)
            if segments:
                (annotations / "words" / f"{meeting}.{agent}.words.xml").write_text(
                    _words_xml(meeting, agent, words), encoding="iso-8859-1"
                )
                (annotations / "segments" / f"{meeting}.{agent}.segments.xml").write_text(
                    _segments_xml(meeting, agent, segment_times), encoding="iso-8859-1"
                )
        meeting_entries.append(
            f'  <meeting nite:id="{meeting}.meeting" observation="{meeting}" '
            f'type="scenario" visibility="public">\n' + "\n".join(entries) + "\n  </meeting>"
        )
    (annotations / "corpusResources" / "meetings.xml").write_text(
        '<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>\n'
        f'<nite:root nite:id="meetings" {NITE}>\n'
        + "\n".join(meeting_entries)
        + "\n</nite:root>\n",
        encoding="iso-8859-1",
    )
    return corpus, expected
