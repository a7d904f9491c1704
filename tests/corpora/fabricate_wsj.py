"""A tiny WSJ0 in its LDC disc layout: the eval92 index
``11-13.1/wsj0/doc/indices/test/nvp/si_et_20.ndx``, sphere ``.wv1`` files (16-bit PCM here,
shorten-compressed in the real corpus) ``11-14.1/wsj0/si_et_20/<speaker>/<utt>.wv1`` and
``.dot`` transcripts ``<speaker dir>/<6 characters>00.dot``."""

from pathlib import Path
from typing import Dict, Tuple

import numpy as np
from fabricate_audio import speak
from fabricate_eval2000 import write_sphere

RATE = 16000
# utterance id -> (transcript as in the .dot file, expected text)
UTTERANCES = {
    "440c0201": ("There isn\\'t any guarantee [misc_noise]", "There isn't any guarantee"),
    "440c0202": (
        "[loud_breath] Computers from I\\. B\\. M\\. are . selling well",
        "Computers from I. B. M. are selling well",
    ),
    "441c0201": ("The <and> market [door_slam>] rose sharply ~", "The and market rose sharply"),
}
INDEX_HEADER = """;; File: si_et_20.ndx
;;
;; Index for WSJ0 20K Speaker-Independent, Non-Verbalized Punctuation test data
;; 8 speakers x ~40 utts = 333 utts
;;
"""


def fabricate_wsj(root: Path) -> Tuple[Path, Dict[str, Tuple[str, np.ndarray]]]:
    """Write the discs under ``root/csr_1``. Returns the corpus root and the expected
    utterances: id -> (text, audio). The dot files also transcribe an utterance that is not
    in the index (``440c0203``)."""
    corpus = root / "csr_1"
    index = corpus / "11-13.1" / "wsj0" / "doc" / "indices" / "test" / "nvp" / "si_et_20.ndx"
    index.parent.mkdir(parents=True)
    lines = [INDEX_HEADER]
    dots: Dict[Path, list] = {}
    expected = {}
    for utt, (transcript, text) in UTTERANCES.items():
        speaker_dir = corpus / "11-14.1" / "wsj0" / "si_et_20" / utt[:3]
        speaker_dir.mkdir(parents=True, exist_ok=True)
        audio = speak(text, RATE)
        write_sphere(speaker_dir / f"{utt}.wv1", audio, rate=RATE)
        lines.append(f"11_14_1:wsj0/si_et_20/{utt[:3]}/{utt}\n")
        dots.setdefault(speaker_dir / f"{utt[:6]}00.dot", []).append(f"{transcript} ({utt})\n")
        expected[utt] = (text, audio)
    dots[corpus / "11-14.1" / "wsj0" / "si_et_20" / "440" / "440c0200.dot"].append(
        "Not in the test index (440c0203)\n"
    )
    index.write_text("".join(lines))
    for path, dot_lines in dots.items():
        path.write_text("".join(dot_lines))
    return corpus, expected
