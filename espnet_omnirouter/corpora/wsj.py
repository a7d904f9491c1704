"""Wall Street Journal CSR-I (WSJ0): the November 1992 evaluation set "test_eval92" (333
read sentences, 8 speakers, 20k open vocabulary, non-verbalised punctuation), the set of
Kaldi's ``egs/wsj/s5`` and ESPnet's ``egs2/wsj`` recipes.

lhotse has no WSJ recipe; this follows Kaldi's ``local/wsj_data_prep.sh``:
- the utterances are the index ``11-13.1/wsj0/doc/indices/test/nvp/si_et_20.ndx``, lines
  ``11_14_1:wsj0/si_et_20/440/440c0201`` (disc id with ``_``, path on that disc; ``.wv1``
  added as Kaldi does: the Sennheiser microphone); ``;`` lines are comments;
- utterance id: the file name, lower-cased; speaker: its first 3 characters;
- transcripts: the ``.dot`` file ``<first 6 characters>00.dot`` found anywhere on the
  discs, lines ``<text> (<utterance id>)``;
- the words as written, minus what ``normalize_transcript.pl`` removes as not speech:
  backslash quoting (``isn\\'t``), noises (``[loud_breath]``, ``[<door_slam]``,
  ``[door_slam>]``, ``[phone_ring/]``, ``[/phone_ring]``), the pause ``.`` and the
  truncation ``~``; ``<and>`` (a verbal deletion, spoken) becomes ``and``. Kaldi also
  upper-cases and writes ``<NOISE>`` for noises; normalisation is left to scoring.

Audio: ``.wv1`` files are NIST sphere, shorten-compressed as LDC distributes them, so they
need ``sph2pipe`` (see ``eval2000``): with it on PATH wav.scp has Kaldi's
``sph2pipe -f wav -p -c 1 file.wv1 |``; without it PCM sphere files are listed by path
(libsndfile reads them) and compressed ones stop preparation with a message.
"""

import re
from pathlib import Path
from typing import Dict, List

from espnet_omnirouter.corpora.eval2000 import sph2pipe_entry, sph2pipe_for, sphere_header
from espnet_omnirouter.corpora.registry import Corpus, CorpusError
from espnet_omnirouter.data.kaldi_dir import Utterance, write_data_dir

BENCHMARK = "wsj_eval92"
INDEX_DISC = "11-13.1"
INDEX = Path("wsj0") / "doc" / "indices" / "test" / "nvp" / "si_et_20.ndx"  # on INDEX_DISC
DISC = re.compile(r"^\d+-\d+\.\d+$")
NOT_SPEECH = re.compile(r"^(\[.*\]|~|\.)$")


def transcript_text(text: str) -> str:
    """A ``.dot`` transcript without what is not speech (see the module docstring)."""
    words = []
    for word in text.replace("\\", "").split():
        if NOT_SPEECH.match(word):
            continue
        deleted = re.fullmatch(r"<([\w']+)>", word)
        words.append(deleted[1] if deleted else word)
    return " ".join(words)


def _discs(corpus_root: Path) -> Dict[str, Path]:
    """Disc id as the indices write it (``11_14_1``) -> disc directory (``11-14.1``), for
    discs in ``corpus_root`` or one level below it."""
    candidates = [corpus_root, *(path for path in corpus_root.iterdir() if path.is_dir())]
    return {
        disc.name.replace("-", "_").replace(".", "_"): disc
        for parent in candidates
        for disc in sorted(parent.iterdir())
        if disc.is_dir() and DISC.match(disc.name)
    }


def _index_files(index: Path, discs: Dict[str, Path], corpus_root: Path) -> List[Path]:
    files, missing = [], []
    for line in index.read_text(encoding="latin-1").splitlines():
        if line.startswith(";") or not line.strip():
            continue
        match = re.fullmatch(r"([0-9_]+):\s*(\S+)", line.strip())
        if match is None:
            raise CorpusError(f"{index}: cannot parse {line!r}")
        disc, name = match[1], match[2]
        name = name if name.lower().endswith(".wv1") else f"{name}.wv1"
        if disc not in discs:
            missing.append(f"disc {disc.replace('_', '-', 1).replace('_', '.')}")
        elif not (discs[disc] / name).is_file():
            missing.append(str((discs[disc] / name).relative_to(corpus_root)))
        else:
            files.append(discs[disc] / name)
    if missing:
        raise CorpusError(f"--wsj_root {corpus_root}: missing {', '.join(sorted(set(missing)))}")
    return files


def _transcripts(discs: Dict[str, Path], utts: List[str], corpus_root: Path) -> Dict[str, str]:
    dots = {
        path.name[:6].lower(): path
        for disc in discs.values()
        for path in disc.rglob("*")
        if path.suffix.lower() == ".dot" and re.fullmatch(r"\w{6}00", path.stem)
    }
    texts: Dict[str, str] = {}
    missing = sorted({f"{utt[:6]}00.dot" for utt in utts if utt[:6] not in dots})
    if missing:
        raise CorpusError(f"--wsj_root {corpus_root}: missing transcripts {', '.join(missing)}")
    for prefix in sorted({utt[:6] for utt in utts}):
        for line in dots[prefix].read_text(encoding="latin-1").splitlines():
            match = re.fullmatch(r"(.+)\((\w{8})\)\s*", line)
            if match:
                texts[match[2].lower()] = match[1]
    missing = [utt for utt in utts if utt not in texts]
    if missing:
        raise CorpusError(f"--wsj_root {corpus_root}: no transcript of {', '.join(missing)}")
    return {utt: transcript_text(texts[utt]) for utt in utts}


def prepare(corpus_root: Path, output_dir: Path, num_jobs: int) -> Dict[str, Path]:
    """Write ``output_dir/wsj_eval92`` from ``corpus_root``, the directory holding the WSJ0
    disc directories (``11-1.1`` ... ``11-15.1``, here or one level down). ``num_jobs`` is
    not used (333 files)."""
    corpus_root = Path(corpus_root)
    discs = _discs(corpus_root) if corpus_root.is_dir() else {}
    index_disc = discs.get(INDEX_DISC.replace("-", "_").replace(".", "_"))
    if index_disc is None or not (index_disc / INDEX).is_file():
        raise CorpusError(
            f"--wsj_root {corpus_root}: missing {INDEX_DISC}/{INDEX} (pass the directory "
            "holding the WSJ0 disc directories 11-1.1 ... 11-15.1 of LDC93S6B or LDC93S6A)"
        )
    files = _index_files(index_disc / INDEX, discs, corpus_root)
    utts = [path.stem.lower() for path in files]
    texts = _transcripts(discs, utts, corpus_root)
    option = f"--wsj_root {corpus_root}"
    sph2pipe = sph2pipe_for(files, option)
    output = Path(output_dir) / BENCHMARK
    write_data_dir(
        (
            Utterance(
                utt_id=utt,
                speaker=utt[:3],
                wav_path=sph2pipe_entry(sph2pipe, str(path), 0) if sph2pipe else str(path),
                text=texts[utt],
            )
            for utt, path in zip(utts, files)
        ),
        output,
    )
    seconds = 0.0
    for path in files:
        header = sphere_header(path)
        seconds += int(header["sample_count"]) / int(header["sample_rate"])
    print(f"[prepare] {BENCHMARK}: {len(utts)} utterances, {seconds / 3600:.1f} h", flush=True)
    return {BENCHMARK: output}


CORPUS = Corpus(
    key="wsj",
    title="Wall Street Journal (WSJ0)",
    obtain=(
        "CSR-I (WSJ0) from the LDC (LDC membership or licence): LDC93S6B (Sennheiser "
        "microphone) or LDC93S6A (complete); WSJ1 (LDC94S13B) is not needed for eval92. "
        "Pass the directory holding the disc directories as LDC distributes them (11-1.1 "
        "... 11-15.1, e.g. DIR/11-13.1/wsj0/doc/indices/test/nvp/si_et_20.ndx and "
        "DIR/11-14.1/wsj0/si_et_20/440/440c0201.wv1, with the .dot transcripts). The .wv1 "
        "files are shorten-compressed sphere: install sph2pipe (`lhotse install-sph2pipe`, "
        "or build https://github.com/burrmill/sph2pipe; not packaged in Debian 12) and put "
        "it on PATH."
    ),
    benchmarks=((BENCHMARK, "WSJ"),),
    prepare=prepare,
)
