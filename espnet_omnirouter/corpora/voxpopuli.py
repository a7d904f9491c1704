"""VoxPopuli (Wang et al., ACL 2021), English ASR: the test split, read with lhotse's
``prepare_voxpopuli(task="asr", lang="en")``.

VoxPopuli distributes the transcribed speech as whole European Parliament sessions
(``raw_audios/original/<year>/<session>_original.ogg``, from ``voxpopuli.download_audios
--subset asr``, which lhotse's ``download_voxpopuli(subset="asr")`` mirrors) and one
annotation table, ``asr_en.tsv.gz``, that places each utterance in a session. lhotse's
preparation reads the sessions from ``raw_audios/en`` and the table from its manifest
directory (downloading it when absent), so it is given a staging directory under
``output_dir/manifests`` whose ``raw_audios/en`` links to ``raw_audios/original``, and the
table is linked there; wav.scp names the session files of the corpus with a ``segments``
file. lhotse prepares all three splits (it reads every session's header); only test is
written. Like lhotse, an utterance spans the table's start to end time (VoxPopuli's own
``get_asr_data`` keeps only the voice-activity spans inside it).
"""

import csv
import gzip
from pathlib import Path
from typing import Dict

from lhotse import RecordingSet
from lhotse.recipes import prepare_voxpopuli
from lhotse.utils import fastcopy

from espnet_omnirouter.corpora.kaldi_export import write_kaldi_dir
from espnet_omnirouter.corpora.registry import Corpus, CorpusError

BENCHMARK = "voxpopuli_test"
ANNOTATIONS = "asr_en.tsv.gz"
# Where the annotation table may be: where voxpopuli.get_asr_data downloads it, or the root.
ANNOTATION_PLACES = (f"transcribed_data/en/{ANNOTATIONS}", ANNOTATIONS)
ANNOTATIONS_URL = f"https://dl.fbaipublicfiles.com/voxpopuli/annotations/asr/{ANNOTATIONS}"


def _annotations(corpus_root: Path) -> Path:
    """The annotation table; raise ``CorpusError`` unless it and the audio of every test
    session are in ``corpus_root``."""
    sessions = corpus_root / "raw_audios" / "original"
    if not sessions.is_dir():
        raise CorpusError(
            f"--voxpopuli_root {corpus_root}: no raw_audios/original/ found (pass the --root of "
            "`python -m voxpopuli.download_audios --root DIR --subset asr`)"
        )
    places = [corpus_root / place for place in ANNOTATION_PLACES]
    table = next((path for path in places if path.is_file()), None)
    if table is None:
        raise CorpusError(
            f"--voxpopuli_root {corpus_root}: no {' or '.join(ANNOTATION_PLACES)} found "
            f"(download {ANNOTATIONS_URL})"
        )
    with gzip.open(table, "rt", encoding="utf-8") as file:
        test = {row["session_id"] for row in csv.DictReader(file, delimiter="|")
                if row["split"] == "test"}  # fmt: skip
    # voxpopuli.get_asr_data's mapping: the session id starts with its year.
    missing = [f"{session[:4]}/{session}_original.ogg" for session in sorted(test)]
    missing = [name for name in missing if not (sessions / name).is_file()]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise CorpusError(
            f"--voxpopuli_root {corpus_root}: test sessions missing from raw_audios/original/: "
            f"{', '.join(missing[:3])}{more}"
        )
    return table


def _with_sources_under(recordings: RecordingSet, link: Path, target: Path) -> RecordingSet:
    """``recordings`` with each source path under ``link`` named under ``target`` instead."""
    return RecordingSet.from_recordings(
        fastcopy(recording, sources=[
            fastcopy(source, source=str(target / Path(source.source).relative_to(link)))
            for source in recording.sources
        ])
        for recording in recordings
    )  # fmt: skip


def _link(path: Path, target: Path) -> None:
    path.unlink(missing_ok=True)
    path.symlink_to(target)


def prepare(corpus_root: Path, output_dir: Path, num_jobs: int) -> Dict[str, Path]:
    """Write ``output_dir/voxpopuli_test`` from ``corpus_root`` (the VoxPopuli root: its
    ``raw_audios/original`` and the annotation table); lhotse's manifests and staging
    directory go to ``output_dir/manifests``."""
    corpus_root, output_dir = Path(corpus_root).absolute(), Path(output_dir)
    table = _annotations(corpus_root)
    sessions = corpus_root / "raw_audios" / "original"
    manifest_dir = output_dir / "manifests"
    staging = manifest_dir / "voxpopuli"
    link = staging / "raw_audios" / "en"
    link.parent.mkdir(parents=True, exist_ok=True)
    _link(link, sessions)
    _link(manifest_dir / ANNOTATIONS, table)
    manifests = prepare_voxpopuli(staging, manifest_dir, task="asr", lang="en", num_jobs=num_jobs)
    test = manifests["test"]
    recordings = _with_sources_under(test["recordings"], link, sessions)
    output = output_dir / BENCHMARK
    write_kaldi_dir(recordings, test["supervisions"], output)
    return {BENCHMARK: output}


CORPUS = Corpus(
    key="voxpopuli",
    title="VoxPopuli (English)",
    obtain=(
        "VoxPopuli, English transcribed speech (Meta AI; CC0, European Parliament data under "
        "its own terms): https://github.com/facebookresearch/voxpopuli. Run `python -m "
        "voxpopuli.download_audios --root DIR --subset asr` (the original session audio, "
        "raw_audios/original/<year>/*.ogg) and put the annotation table "
        f"{ANNOTATIONS_URL} in DIR/transcribed_data/en/ (where `python -m "
        "voxpopuli.get_asr_data --root DIR --lang en` downloads it; its segmenting is not "
        "needed) or in DIR. Pass DIR."
    ),
    benchmarks=((BENCHMARK, "VoxPopuli"),),
    prepare=prepare,
)
