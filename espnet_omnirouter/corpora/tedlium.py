"""TED-LIUM release 3 (Hernandez et al., SPECOM 2018): the legacy test set (the TED-LIUM 1/2
test talks, manually transcribed), read with lhotse's ``prepare_tedlium``.

The talks are 16 kHz 16-bit PCM NIST sphere files. lhotse reads ``.sph`` through the
``sph2pipe`` binary by default; here lhotse's libsndfile backend reads them instead (PCM
sphere needs nothing else), and wav.scp names the ``.sph`` files, which soundfile reads,
with a ``segments`` file for the utterances in each talk.
"""

from pathlib import Path
from typing import Dict

from lhotse.audio.backend import audio_backend
from lhotse.recipes import prepare_tedlium

from espnet_omnirouter.corpora.kaldi_export import write_kaldi_dir
from espnet_omnirouter.corpora.registry import Corpus, CorpusError

BENCHMARK = "tedlium_test"


def prepare(corpus_root: Path, output_dir: Path, num_jobs: int) -> Dict[str, Path]:
    """Write ``output_dir/tedlium_test`` from ``corpus_root`` (``TEDLIUM_release-3``).

    ``num_jobs`` is not used: the test set is 11 talks, and reading their headers in this
    process keeps lhotse on the libsndfile backend set here.
    """
    corpus_root = Path(corpus_root)
    test = corpus_root / "legacy" / "test"
    talks = sorted(path.stem for path in (test / "sph").glob("*.sph"))
    if not talks:
        raise CorpusError(
            f"--tedlium_root {corpus_root}: no legacy/test/sph/*.sph found (pass the "
            "TEDLIUM_release-3 directory unpacked from TEDLIUM_release-3.tgz)"
        )
    transcribed = {path.stem for path in (test / "stm").glob("*.stm")}
    missing = [f"legacy/test/stm/{talk}.stm" for talk in talks if talk not in transcribed]
    missing += [f"legacy/test/sph/{talk}.sph" for talk in sorted(transcribed - set(talks))]
    if missing:
        raise CorpusError(f"--tedlium_root {corpus_root}: missing {', '.join(missing)}")
    with audio_backend("LibsndfileBackend"):
        manifests = prepare_tedlium(corpus_root, dataset_parts="test", num_jobs=1)["test"]
    output = Path(output_dir) / BENCHMARK
    write_kaldi_dir(manifests["recordings"], manifests["supervisions"], output)
    return {BENCHMARK: output}


CORPUS = Corpus(
    key="tedlium",
    title="TED-LIUM release 3",
    obtain=(
        "TED-LIUM release 3 (LIUM / Ubiqus, CC BY-NC-ND 3.0): TEDLIUM_release-3.tgz from "
        "https://www.openslr.org/51/ (50 GB). Pass the unpacked TEDLIUM_release-3 directory; "
        "only legacy/test/sph/*.sph and legacy/test/stm/*.stm are read. The .sph files are "
        "read with libsndfile (soundfile), so sph2pipe is not needed."
    ),
    benchmarks=((BENCHMARK, "TED-LIUM"),),
    prepare=prepare,
)
