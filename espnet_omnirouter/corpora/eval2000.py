"""2000 HUB5 English Evaluation (Hub5'00, "eval2000"): its Switchboard (``sw_*``) and
CallHome (``en_*``) halves as two benchmarks, read with lhotse's ``prepare_eval2000``.

Audio: 40 two-sided 8 kHz telephone conversations in NIST sphere files (LDC2002S09); side
A is channel 1, side B channel 2. Transcripts: LDC2002T43's per-conversation
``reference/english/<conversation>.txt`` (lhotse's source; Kaldi's ``eval2000_data_prep.sh``
takes its text from the ``.stm`` derived from them), kept as transcribed minus the markup
that is not speech: tags (``<contraction e_form="...">``, ``<B_ASIDE>``), non-speech
events and comments in braces or brackets (``{breath}``, ``[laughter]``, ``[[...]]``), and
the marks around words (``%`` of hesitations, ``&`` of names, ``((...))`` of uncertain
words: the words stay).

Sphere audio: LDC distributes these files shorten-compressed, which only ``sph2pipe``
decodes; with ``sph2pipe`` on PATH (``lhotse install-sph2pipe`` puts it in
``~/.lhotse/tools``, which lhotse adds to PATH; Debian 12 has no package) wav.scp follows
Kaldi: ``sph2pipe -f wav -p -c N file.sph |``. Without it, PCM or mu-law sphere files
(which sox and libsndfile read) get ``sox file.sph -t wav - remix N |``, and compressed
ones stop preparation with a message saying to install sph2pipe.
"""

import re
import shutil
import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from lhotse import RecordingSet, SupervisionSet
from lhotse.audio.backend import audio_backend
from lhotse.recipes import prepare_eval2000
from lhotse.utils import fastcopy

from espnet_omnirouter.corpora.kaldi_export import write_kaldi_dir
from espnet_omnirouter.corpora.registry import Corpus, CorpusError
from espnet_omnirouter.utils.files import write_text_atomically

# benchmark -> conversation id prefix
BENCHMARKS = {"eval2000_swbd": "sw_", "eval2000_callhome": "en_"}
SPEECH_DIR = Path("LDC2002S09") / "hub5e_00" / "english"
# LDC2002T43 unpacks either directly or into 2000_hub5_eng_eval_tr/ (Kaldi accepts both)
TRANSCRIPT_DIRS = (
    Path("LDC2002T43") / "reference" / "english",
    Path("LDC2002T43") / "2000_hub5_eng_eval_tr" / "reference" / "english",
)
SOX_SPHERE_CODINGS = ("pcm", "ulaw", "mu-law", "alaw")
NOT_SPEECH = (
    re.compile(r'</?\w+(?:\s+[\w:]+="[^"]*")*\s*/?>'),  # tags (attribute values hold "=>")
    re.compile(r"\[\[[^\]]*\]\]|\[[^\]]*\]|\{[^}]*\}"),  # comments, events, noises
    re.compile(r"\(\(|\)\)|(?<!\S)[%&]"),  # uncertain-words parentheses, word marks
)


def transcript_text(text: str) -> str:
    """A Hub5 transcript line without its markup (see the module docstring)."""
    for pattern in NOT_SPEECH:
        text = pattern.sub(" ", text)
    return " ".join(text.split())


def sphere_header(path: Path) -> Dict[str, str]:
    """The fields of a NIST sphere header (``sample_coding``, ``channel_count``, ...)."""
    with open(path, "rb") as f:
        head = f.read(1024)
    lines = head.decode("latin-1").split("\n")
    if lines[0] != "NIST_1A":
        raise CorpusError(f"{path}: not a NIST sphere file")
    fields = {}
    for line in lines[2:]:
        if line.strip() == "end_head":
            break
        parts = line.split(maxsplit=2)
        if len(parts) == 3:
            fields[parts[0]] = parts[2].strip()
    return fields


def sph2pipe_for(paths: Iterable[Path], option: str) -> Optional[str]:
    """The ``sph2pipe`` to read ``paths`` with, or None where sox and libsndfile read them
    all (PCM or mu-law sphere); raises ``CorpusError`` (naming ``option``) when some file is
    compressed (shorten) and ``sph2pipe`` is not on PATH."""
    sph2pipe = shutil.which("sph2pipe")
    if sph2pipe:
        return sph2pipe
    compressed: List[str] = []
    for path in paths:
        coding = sphere_header(path).get("sample_coding", "pcm").lower()
        if "shorten" in coding or coding.split(",")[0] not in SOX_SPHERE_CODINGS:
            compressed.append(f"{path} ({coding})")
    if compressed:
        raise CorpusError(
            f"{option}: {len(compressed)} sphere files are compressed, e.g. {compressed[0]}; "
            "sox and libsndfile cannot read them: install sph2pipe (`lhotse "
            "install-sph2pipe`, or build https://github.com/burrmill/sph2pipe) and put it "
            "on PATH"
        )
    return None


def sph2pipe_entry(sph2pipe: str, path: str, channel: int) -> str:
    """Kaldi's wav.scp entry for channel ``channel`` (0-based) of a sphere file."""
    return f"{sph2pipe} -f wav -p -c {channel + 1} {path} |"


def _use_sph2pipe(wav_scp: Path, sph2pipe: str) -> None:
    """Rewrite ``write_kaldi_dir``'s ``sox FILE -t wav - remix N |`` entries to sph2pipe."""
    lines = []
    for line in wav_scp.read_text(encoding="utf-8").splitlines():
        record, entry = line.split(maxsplit=1)
        match = re.fullmatch(r"sox (\S+) -t wav - remix (\d+) \|", entry)
        if match is None:
            raise CorpusError(f"{wav_scp}: unexpected entry {entry!r}")
        lines.append(f"{record} {sph2pipe_entry(sph2pipe, match[1], int(match[2]) - 1)}\n")
    write_text_atomically(wav_scp, "".join(lines))


def _transcript_dir(corpus_root: Path) -> Path:
    for candidate in TRANSCRIPT_DIRS:
        if (corpus_root / candidate).is_dir():
            return corpus_root / candidate
    raise CorpusError(
        f"--eval2000_root {corpus_root}: missing {TRANSCRIPT_DIRS[0]} (unpack LDC2002T43 "
        "next to LDC2002S09)"
    )


def prepare(corpus_root: Path, output_dir: Path, num_jobs: int) -> Dict[str, Path]:
    """Write ``output_dir/eval2000_swbd`` and ``output_dir/eval2000_callhome`` from
    ``corpus_root``, the directory holding ``LDC2002S09/`` and ``LDC2002T43/``.
    ``num_jobs`` is not used (lhotse's recipe reads the 40 conversations serially)."""
    corpus_root = Path(corpus_root)
    sph = sorted((corpus_root / SPEECH_DIR).glob("*.sph"))
    if not sph:
        raise CorpusError(
            f"--eval2000_root {corpus_root}: no {SPEECH_DIR}/*.sph found (pass the directory "
            "holding LDC2002S09/ and LDC2002T43/ as LDC distributes them)"
        )
    transcripts = _transcript_dir(corpus_root)
    transcribed = {path.stem for path in transcripts.glob("*.txt")}
    missing = [
        f"{transcripts.relative_to(corpus_root)}/{path.stem}.txt"
        for path in sph
        if path.stem not in transcribed
    ]
    missing += [f"{SPEECH_DIR}/{name}.sph" for name in sorted(transcribed - {p.stem for p in sph})]
    if missing:
        raise CorpusError(f"--eval2000_root {corpus_root}: missing {', '.join(missing)}")
    sph2pipe = sph2pipe_for(sph, f"--eval2000_root {corpus_root}")
    # lhotse reads .sph with sph2pipe by default; PCM sphere needs only libsndfile
    # lhotse reads .sph with sph2pipe by default; PCM sphere needs only libsndfile
    backend = nullcontext() if sph2pipe else audio_backend("LibsndfileBackend")
    with backend, tempfile.TemporaryDirectory() as manifests_dir:  # it writes manifests
        manifests = prepare_eval2000(
            corpus_root, manifests_dir, transcript_path=transcripts, absolute_paths=True
        )
    recordings: RecordingSet = manifests["recordings"]
    supervisions = SupervisionSet.from_segments(
        # Kaldi's ids: <conversation>-<side>_<start>-<end> (centiseconds)
        fastcopy(
            sup,
            id=f"{sup.speaker}_{round(sup.start * 100):06d}-{round(sup.end * 100):06d}",
            text=transcript_text(sup.text),
        )
        for sup in manifests["supervisions"]
    )
    dirs = {}
    for benchmark, prefix in BENCHMARKS.items():
        output = Path(output_dir) / benchmark
        part = supervisions.filter(lambda sup, prefix=prefix: sup.recording_id.startswith(prefix))
        if len(part) == 0:
            raise CorpusError(f"--eval2000_root {corpus_root}: no {prefix}* conversations")
        write_kaldi_dir(recordings, part, output)
        if sph2pipe:
            _use_sph2pipe(output / "wav.scp", sph2pipe)
        dirs[benchmark] = output
    return dirs


CORPUS = Corpus(
    key="eval2000",
    title="2000 HUB5 English Evaluation",
    obtain=(
        "2000 HUB5 English Evaluation from the LDC (LDC membership or licence): the speech, "
        "LDC2002S09, and the transcripts, LDC2002T43. Pass the directory holding both as "
        "LDC distributes them: DIR/LDC2002S09/hub5e_00/english/{sw,en}_*.sph and "
        "DIR/LDC2002T43/reference/english/*.txt (or LDC2002T43/2000_hub5_eng_eval_tr/"
        "reference/english). The .sph files are shorten-compressed: install sph2pipe "
        "(`lhotse install-sph2pipe`, or build https://github.com/burrmill/sph2pipe; not "
        "packaged in Debian 12) and put it on PATH; PCM or mu-law sphere is read by sox."
    ),
    benchmarks=(("eval2000_swbd", "Switchboard"), ("eval2000_callhome", "Callhome")),
    prepare=prepare,
)
