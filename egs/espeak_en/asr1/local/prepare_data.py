"""Synthesise the espeak_en corpus: a training set and in/out-of-domain test sets.

Every utterance is made deterministically (seeded) with espeak-ng or flite and sox into
Kaldi data dirs under --data_dir (audio under <data_dir>/wav/). Test sentences are disjoint
from training sentences; test_* sets other than test_text share one sentence list so their
WERs differ by acoustic condition only.

    python local/prepare_data.py --num_jobs N --job J ...   # the J-th share of the audio
    python local/prepare_data.py ...                        # the data dirs (audio made first)

local/data.sh runs the N jobs through the recipe's job command (cmd.sh), then the second
command. A set whose data dir is complete is skipped by both.

Sets (training conditions: 4 espeak-ng accents x 14 voice variants, 140-200 wpm,
pitch 30-70, white noise at 15-30 dB SNR on half of the utterances):
    train, dev      training conditions
    test_clean      in-domain: training conditions, no noise
    test_accent     unseen accents (Scottish, Lancastrian, West Midlands, New York) and
                    unseen voice variants
    test_flite      an unseen synthesiser (flite: kal16, awb, rms, slt)
    test_fast       much faster speech (270-320 wpm)
    test_noise      white noise at 5-10 dB SNR
    test_reverb     reverberation (sox reverb)
    test_telephone  telephone band (8 kHz, 300-3400 Hz)
    test_text       text-domain shift: technical sentences (computers, science, ...)
    pool            (with --num_pool) untranscribed audio for self-training: shifted
                    conditions (unseen voice variants, 180-260 wpm, noise on half at
                    10-25 dB SNR), training sentences not used by train first; its text is
                    the withheld truth that pseudo-labels are scored against
"""

import argparse
import collections
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import soundfile

from espnet_omnirouter.data.kaldi_dir import Utterance, validate_data_dir, write_data_dir

TEXT_DIR = Path(__file__).resolve().parent / "text"
SAMPLE_RATE = 16000
TRAIN_ACCENTS = ["en-us", "en-gb", "en-gb-x-rp", "en-029"]
TRAIN_VARIANTS = [
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "f1",
    "f2",
    "f3",
    "f4",
    "klatt",
    "klatt2",
    "klatt3",
]
UNSEEN_ACCENTS = ["en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc"]
UNSEEN_VARIANTS = ["f5", "m8", "Andy", "Annie", "max", "klatt4", "edward", "steph"]
FLITE_VOICES = ["kal16", "awb", "rms", "slt"]
RAW_WAV = "{raw_wav}"  # placeholder for the synthesiser's output file in a Job's command


@dataclass(frozen=True)
class Condition:
    """How the utterances of a set sound."""

    synthesizer: str = "espeak-ng"
    accents: Sequence[str] = tuple(TRAIN_ACCENTS)
    variants: Sequence[str] = tuple(TRAIN_VARIANTS)
    rate: Tuple[int, int] = (140, 200)
    pitch: Tuple[int, int] = (30, 70)
    sox_effects: Sequence[str] = ()
    noise_probability: float = 0.0
    snr_db: Tuple[float, float] = (15.0, 30.0)


TRAINING = Condition(noise_probability=0.5)
CLEAN = Condition()
TEST_CONDITIONS: Dict[str, Condition] = {
    "test_clean": CLEAN,
    "test_accent": Condition(accents=UNSEEN_ACCENTS, variants=UNSEEN_VARIANTS),
    "test_flite": Condition(synthesizer="flite", accents=FLITE_VOICES, variants=("",)),
    "test_fast": Condition(rate=(270, 320)),
    "test_noise": Condition(noise_probability=1.0, snr_db=(5.0, 10.0)),
    "test_reverb": Condition(sox_effects=("reverb", "60", "50", "100")),
    "test_telephone": Condition(
        sox_effects=("sinc", "300-3400", "rate", "8000", "rate", str(SAMPLE_RATE))
    ),
    "test_text": CLEAN,
}
POOL = Condition(variants=UNSEEN_VARIANTS, rate=(180, 260), noise_probability=0.5,
                 snr_db=(10.0, 25.0))  # fmt: skip


@dataclass(frozen=True)
class Job:
    """Everything needed to make one utterance's audio."""

    utt_id: str
    speaker: str
    text: str
    wav_path: str
    command: List[str] = field(hash=False)  # synthesiser call, RAW_WAV as its output
    sox_effects: Tuple[str, ...]
    snr_db: Optional[float]
    seed: int


def split_sentences(num_dev: int, num_test: int, seed: int) -> Dict[str, List[str]]:
    """Disjoint train/dev/test sentence lists; every test word occurs in training.

    Test sentences are picked in a seeded order among those whose words all remain in
    the training sentences, so the in-domain test set measures recognition of known
    words spoken in new sentences, and test_text (technical sentences) measures the
    text-domain shift, out-of-vocabulary words included.
    """
    rng = random.Random(seed)
    general = (TEXT_DIR / "fortunes_general.txt").read_text(encoding="utf-8").splitlines()
    rng.shuffle(general)
    dev, rest = general[:num_dev], general[num_dev:]
    counts = collections.Counter(word for sentence in rest for word in sentence.split())
    test, train = [], []
    for sentence in rest:
        words = collections.Counter(sentence.split())
        if len(test) < num_test and all(counts[w] > n for w, n in words.items()):
            test.append(sentence)
            counts.subtract(words)
        else:
            train.append(sentence)
    tech = (TEXT_DIR / "fortunes_tech.txt").read_text(encoding="utf-8").splitlines()
    rng.shuffle(tech)
    return {"train": train, "dev": dev, "test": test, "test_text": tech[:num_test]}


def make_jobs(
    name: str, sentences: List[str], count: int, condition: Condition, wav_dir: Path, seed: int
) -> List[Job]:
    """``count`` utterances of ``sentences`` (cycled) under ``condition``."""
    rng = random.Random(f"{seed}-{name}")
    jobs = []
    for index in range(count):
        text = sentences[index % len(sentences)]
        accent, variant = rng.choice(condition.accents), rng.choice(condition.variants)
        rate, pitch = rng.randint(*condition.rate), rng.randint(*condition.pitch)
        if condition.synthesizer == "flite":
            speaker = f"flite_{accent}"
            command = ["flite", "-voice", accent, "-t", text, "-o", RAW_WAV]
        else:
            voice = f"{accent}+{variant}" if variant else accent
            speaker = f"{accent}_{variant}".replace("-", "_")
            command = [
                "espeak-ng",
                "-v",
                voice,
                "-s",
                str(rate),
                "-p",
                str(pitch),
                "-w",
                RAW_WAV,
                text,
            ]
        noisy = rng.random() < condition.noise_probability
        utt_id = f"{speaker}-{name}-{index:05d}"
        jobs.append(
            Job(
                utt_id=utt_id,
                speaker=speaker,
                text=text,
                wav_path=str(wav_dir / f"{utt_id}.wav"),
                command=command,
                sox_effects=tuple(condition.sox_effects),
                snr_db=rng.uniform(*condition.snr_db) if noisy else None,
                seed=rng.randrange(2**31),
            )
        )
    return jobs


def synthesize(job: Job) -> Optional[str]:
    """Make one utterance; return an error message instead of raising."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = f"{tmp}/raw.wav"
        command = [raw if arg == RAW_WAV else arg for arg in job.command]
        converted = f"{tmp}/16k.wav"
        steps = [
            command,
            [
                "sox",
                "-R",  # repeatable: its dither is seeded, so a seed gives identical audio
                raw,
                "-r",
                str(SAMPLE_RATE),
                "-c",
                "1",
                "-b",
                "16",
                converted,
                *job.sox_effects,
                "rate",
                str(SAMPLE_RATE),
                "gain",
                "-n",
                "-3",
            ],
        ]
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True)
            if result.returncode != 0:
                return f"{job.utt_id}: {' '.join(step[:3])} ... failed: {result.stderr.strip()}"
        audio, _ = soundfile.read(converted, dtype="float32")
        if job.snr_db is not None:
            rng = np.random.default_rng(job.seed)
            noise = rng.standard_normal(len(audio)).astype(np.float32)
            signal_power = float(np.mean(audio**2)) + 1e-12
            noise *= np.sqrt(signal_power / 10 ** (job.snr_db / 10))
            audio = audio + noise
            audio *= min(1.0, 0.9 / max(float(np.abs(audio).max()), 1e-9))
        partial = f"{job.wav_path}.partial.wav"  # a killed job leaves no truncated file
        soundfile.write(partial, audio, SAMPLE_RATE, subtype="PCM_16")
        os.replace(partial, job.wav_path)
    return None


def is_prepared(target: Path, count: int) -> bool:
    """Whether the data dir ``target`` is complete with ``count`` utterances."""
    try:
        return target.is_dir() and validate_data_dir(target, check_audio=False) == count
    except ValueError:
        return False


def synthesize_share(name: str, jobs: List[Job], job: int, num_jobs: int) -> None:
    """Make the audio of the ``job``-th of ``num_jobs`` shares of a set's utterances."""
    share = jobs[job - 1 :: num_jobs]
    Path(jobs[0].wav_path).parent.mkdir(parents=True, exist_ok=True)
    start, errors = time.time(), []
    for done, utterance in enumerate(share, 1):
        error = synthesize(utterance)
        if error:
            errors.append(error)
        if done % max(1, len(share) // 4) == 0 or done == len(share):
            print(
                f"[data] {name} (job {job}/{num_jobs}): {done}/{len(share)} utterances "
                f"({time.time() - start:.0f}s)",
                flush=True,
            )
    if errors:
        sys.exit(
            f"[data] {name}: {len(errors)} utterances failed, e.g.\n  " + "\n  ".join(errors[:5])
        )


def write_set(name: str, jobs: List[Job], target: Path) -> None:
    """Write the data dir of a set whose audio the jobs made."""
    missing = [j.wav_path for j in jobs if not Path(j.wav_path).is_file()]
    if missing:
        sys.exit(f"[data] {name}: {len(missing)} audio files missing, e.g. {missing[0]}")
    write_data_dir((Utterance(j.utt_id, j.speaker, j.wav_path, j.text) for j in jobs), target)
    print(f"[data] {name}: {len(jobs)} utterances -> {target}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", type=Path, default=Path("data"))
    parser.add_argument("--num_train", type=int, default=3000)
    parser.add_argument("--num_dev", type=int, default=150)
    parser.add_argument("--num_test", type=int, default=200, help="utterances per test set")
    parser.add_argument("--num_pool", type=int, default=0, help="self-training pool size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num_jobs", type=int, default=1, help="shares of the audio")
    parser.add_argument(
        "--job", type=int, help="make only this share's audio (1..--num_jobs); "
        "without it: write the data dirs (every share made first)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.job is not None and not 1 <= args.job <= args.num_jobs:
        parser.error(f"--job {args.job}: must be in 1..--num_jobs ({args.num_jobs})")
    sentences = split_sentences(args.num_dev, args.num_test, args.seed)
    wav_root = args.data_dir.resolve() / "wav"
    plans = {
        "train": (sentences["train"], args.num_train, TRAINING),
        "dev": (sentences["dev"], args.num_dev, TRAINING),
        **{
            name: (sentences["test_text" if name == "test_text" else "test"], args.num_test, cond)
            for name, cond in TEST_CONDITIONS.items()
        },
    }
    if args.num_pool:
        unused_first = sentences["train"][args.num_train :] + sentences["train"][: args.num_train]
        plans["pool"] = (unused_first, args.num_pool, POOL)
    for name, (texts, count, condition) in plans.items():
        target = args.data_dir / name
        if is_prepared(target, count):
            if args.job is None:
                print(f"[data] {name}: already prepared ({count} utterances), skipping")
            continue
        jobs = make_jobs(name, texts, count, condition, wav_root / name, args.seed)
        if args.job is None:
            write_set(name, jobs, target)
        else:
            synthesize_share(name, jobs, args.job, args.num_jobs)


if __name__ == "__main__":
    main()
