"""Decoding and training speed of trained models, measured in one run (study.py speed).

Each model decodes the same utterances one at a time (batch 1) and takes training steps on a
batch of them, round-robin over the models, so that every model meets the same machine load;
round 0 warms up and the median over the timed rounds is kept.
"""

import statistics
import time
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import torch
from espnet2.tasks.asr import ASRTask

from espnet_omnirouter.asr.decoding.decoding_modes import decode_waves, make_decoding
from espnet_omnirouter.asr.decoding.eager_model import EagerModel
from espnet_omnirouter.asr.decoding.speech2text import load_speech2text

SAMPLE_RATE = 16000


def training_batch(speech2text, waves: Sequence[torch.Tensor], texts: Sequence[str]) -> dict:
    """``waves`` and their ``texts`` collated by ESPnet's ASR task as its trainer gets them:
    ``speech`` (B, T) zero-padded, ``text`` (B, L) token ids padded with -1, and lengths."""
    items = [
        (
            f"utt{index}",
            {
                "speech": wave.numpy(),
                "text": np.array(
                    speech2text.converter.tokens2ids(speech2text.tokenizer.text2tokens(text))
                ),
            },
        )
        for index, (wave, text) in enumerate(zip(waves, texts))
    ]
    return ASRTask.build_collate_fn(speech2text.asr_train_args, train=True)(items)[1]


def training_step_seconds(model: torch.nn.Module, batch: dict) -> float:
    """Wall time of one forward and backward pass of ``model`` (train mode) on ``batch``."""
    model.train()
    start = time.perf_counter()
    loss = model(**batch)[0]
    loss.backward()
    seconds = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    return seconds


def measure_speed(
    model_dirs: Dict[str, Path],
    mode: str,
    waves: Sequence[torch.Tensor],
    texts: Sequence[str],
    train_batch_size: int,
    rounds: int,
) -> Dict[str, Dict[str, float]]:
    """Per model (``model_dirs``: name -> experiment dir with ``valid.loss.ave.pth``):
    ``rtf``, decoding time over audio time of ``waves`` in ``mode`` at batch 1, and
    ``train_step_seconds``, one training step on the first ``train_batch_size`` of them."""
    models = {}
    for name, model_dir in model_dirs.items():
        speech2text = load_speech2text(
            model_dir / "config.yaml", model_dir / "valid.loss.ave.pth", beam_size=1
        )
        batch = training_batch(speech2text, waves[:train_batch_size], texts[:train_batch_size])
        decoding = make_decoding(EagerModel(speech2text), [mode])
        models[name] = (decoding, speech2text.asr_model, batch)
    decode_times: Dict[str, List[float]] = {name: [] for name in models}
    step_times: Dict[str, List[float]] = {name: [] for name in models}
    for round_index in range(rounds + 1):
        for name, (decoding, model, batch) in models.items():
            model.eval()
            start = time.perf_counter()
            for wave in waves:
                decode_waves(decoding, [wave])
            decoded = time.perf_counter() - start
            stepped = training_step_seconds(model, batch)
            if round_index:  # round 0 warms up
                decode_times[name].append(decoded)
                step_times[name].append(stepped)
        done = f"round {round_index}/{rounds}" if round_index else "warm-up round"
        print(f"[study] speed: {done} of {len(models)} models done", flush=True)
    audio_seconds = sum(len(wave) for wave in waves) / SAMPLE_RATE
    return {
        "rtf": {n: round(statistics.median(t) / audio_seconds, 5) for n, t in decode_times.items()},
        "train_step_seconds": {n: round(statistics.median(t), 4) for n, t in step_times.items()},
    }
