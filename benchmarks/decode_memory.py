"""Memory of a long decoding run: the memory of ``bin/decode`` (parent and workers) while
it decodes thousands of utterances. It should not grow.

    python benchmarks/decode_memory.py                       # the recipe's omni model
    python benchmarks/decode_memory.py --exp egs/espeak_en/asr1/exp/asr_u2pp_moe \
        --modes attention_rescoring --num_utterances 5000

The utterances are ``--data_dir`` decoded again and again, as one data dir per round (real
audio of varied lengths, read from disk as a real set would be). ``bin/decode`` sorts each
set by length, so memory follows the batches' length within a round; every round does the
same work, so the peak of each round is comparable: a leak makes it grow round after round.
"""

import argparse
import math
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

import torch
from common import REPO_ROOT, markdown_table, write_report

from espnet_omnirouter.data.kaldi_dir import Utterance, read_wav_scp, write_data_dir
from espnet_omnirouter.scoring.wer import read_kaldi_text

RECIPE = REPO_ROOT / "egs" / "espeak_en" / "asr1"


def _field_kb(path: Path, name: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def process_tree_pss(root_pid: int) -> int:
    """Summed PSS (bytes) of ``root_pid`` and all its descendants, from /proc. PSS shares
    each page among the processes mapping it, so forked workers' copy-on-write pages are
    not counted twice as RSS would."""
    parents: Dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            parents[int(status.parent.name)] = _field_kb(status, "PPid")
        except (OSError, ValueError):
            continue  # the process ended while we looked
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier += children
    pss = 0
    for pid in tree:
        try:
            pss += _field_kb(Path(f"/proc/{pid}/smaps_rollup"), "Pss") * 1024
        except OSError:
            continue
    return pss


def make_rounds(source: Path, target: Path, count: int) -> Tuple[List[Path], float]:
    """Copies of the data dir ``source`` under ``target`` (``round_000``, ...), enough for
    ``count`` utterances in all; also the seconds of audio of one round."""
    import soundfile

    wav_scp, texts = read_wav_scp(source), read_kaldi_text(source / "text")
    utterances = [Utterance(utt, "spk", wav_scp[utt], texts[utt]) for utt in sorted(wav_scp)]
    rounds = []
    for index in range(math.ceil(count / len(utterances))):
        rounds.append(target / f"round_{index:03d}")
        write_data_dir(utterances, rounds[-1])
    return rounds, sum(soundfile.info(path).duration for path in wav_scp.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp", type=Path, default=RECIPE / "exp" / "asr_omni")
    parser.add_argument("--data_dir", type=Path, default=RECIPE / "data" / "test_clean")
    parser.add_argument("--num_utterances", type=int, default=3000)
    parser.add_argument("--modes", nargs="+", default=["ctc_greedy"])
    parser.add_argument("--nj", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
    args = parser.parse_args()
    args.exp, args.data_dir = args.exp.resolve(), args.data_dir.resolve()
    model_file = args.exp / "valid.loss.ave.pth"
    for path in (args.exp / "config.yaml", model_file, args.data_dir / "wav.scp"):
        if not path.is_file():
            parser.error(
                f"{path} not found: run egs/espeak_en/asr1/run.sh or pass --exp/--data_dir"
            )

    with tempfile.TemporaryDirectory() as scratch:
        rounds, round_seconds = make_rounds(
            args.data_dir, Path(scratch) / "rounds", args.num_utterances
        )
        command = [
            sys.executable, "-m", "espnet_omnirouter.bin.decode", *map(str, rounds),
            "--asr_train_config", str(args.exp / "config.yaml"), "--asr_model_file",
            str(model_file), "--output_dir", str(Path(scratch) / "decode"),
            "--nj", str(args.nj), "--modes", *args.modes,
        ]  # fmt: skip
        # ESPnet configs name files relative to the recipe dir, two levels above the model.
        log = open(Path(scratch) / "decode.log", "w+")
        process = subprocess.Popen(
            command, cwd=args.exp.parents[1], stdout=subprocess.PIPE, stderr=log, text=True
        )
        # (seconds, rounds finished, summed PSS), sampled in a thread while this one counts
        # the "[decode] <set>: ..." line bin/decode prints after each round.
        samples: List[Tuple[float, int, int]] = []
        finished = [0]
        start = time.perf_counter()

        def sample() -> None:
            while process.poll() is None:
                pss = process_tree_pss(process.pid)
                samples.append((time.perf_counter() - start, finished[0], pss))
                time.sleep(args.interval)

        sampler = threading.Thread(target=sample)
        sampler.start()
        for line in process.stdout:
            finished[0] += line.startswith("[decode] round_")
        sampler.join()
        if process.wait() != 0:
            log.seek(0)
            sys.exit(f"decoding failed:\n{log.read()[-3000:]}")
        log.close()
    mb = 1 / 2**20
    peaks = [max((s[2] for s in samples if s[1] == r), default=0) * mb for r in range(len(rounds))]
    shown = sorted(
        {0, 1, len(rounds) // 4, len(rounds) // 2, 3 * len(rounds) // 4, len(rounds) - 1}
    )
    rows = [[r + 1, f"{peaks[r]:.0f}"] for r in shown]
    growth = peaks[-1] - peaks[1]
    verdict = "flat" if abs(growth) <= 0.05 * peaks[1] else "NOT flat"
    model = args.exp.relative_to(REPO_ROOT) if args.exp.is_relative_to(REPO_ROOT) else args.exp
    body = (
        f"`bin/decode` ({', '.join(args.modes)}, {args.nj} workers) with the trained model "
        f"{model}: "
        f"{len(rounds)} rounds of {args.data_dir.name} ({len(rounds) * round_seconds / 3600:.1f} h "
        f"of audio in all) in {samples[-1][0]:.0f} s. Peak memory of each round, the PSS of "
        f"the decoder and its workers summed (sampled every {args.interval} s; PSS shares each "
        "page among the processes that map it):\n\n"
        + markdown_table(["round", "peak PSS (MB)"], rows)
        + f"\n\nFrom round 2 (round 1 includes the workers' start-up) to round {len(rounds)} "
        f"the peak changed by {growth:+.0f} MB ({growth / peaks[1]:+.1%}): {verdict}.\n"
    )
    write_report("decode_memory", "Memory of a long decoding run", body, torch.device("cpu"))


if __name__ == "__main__":
    main()
