"""A non-finite loss or gradient skips the step, is reported and counted, and leaves every
parameter and BatchNorm statistic finite; routers stay finite under half precision."""

import numpy as np
import pytest
import soundfile
import tiny_asr
import torch

from espnet_omnirouter.layers.moe.router import Router
from espnet_omnirouter.train.non_finite import finite_batchnorm_statistics


def test_batchnorm_statistics_survive_a_non_finite_batch():
    bad = torch.randn(4, 3, 10)
    bad[0, 0, 0] = float("nan")
    unguarded, guarded = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    unguarded(bad)
    assert not torch.isfinite(unguarded.running_mean).all()  # what the guard prevents
    with finite_batchnorm_statistics(guarded):
        good = torch.randn(4, 3, 10)
        guarded(good)
        after_good = guarded.running_mean.clone()
        guarded(bad)
        guarded.eval()
        guarded(bad)  # evaluation forwards do not touch the statistics
    # Channel 0 (the NaN's) keeps its statistics; the others take the batch's.
    assert guarded.running_mean[0] == after_good[0]
    assert torch.isfinite(guarded.running_mean).all() and torch.isfinite(guarded.running_var).all()
    assert not guarded._forward_hooks and not guarded._forward_pre_hooks


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_router_is_finite_where_half_precision_logits_overflow(dtype):
    torch.manual_seed(0)
    router = Router(256, 4)
    torch.nn.init.constant_(router.linear.weight, 0.5)
    tokens = torch.full((8, 256), 600.0)  # logits 76800: beyond float16's 65504
    half_logits = torch.nn.functional.linear(tokens.half(), router.linear.weight.half())
    assert not torch.isfinite(half_logits).all()
    with torch.autocast("cpu", dtype=dtype):
        decision = router(tokens.to(dtype), top_k=2, gate_normalization="topk_softmax")
    for value in (decision.logits, decision.probs, decision.gate):
        assert value.dtype == torch.float32 and torch.isfinite(value).all()


@pytest.mark.e2e
def test_training_skips_and_counts_the_step_of_a_corrupt_utterance(tiny_workdir, tmp_path):
    # utt03's audio becomes float samples with NaNs after the statistics were collected:
    # its header is valid (the pre-flight check reads headers), its features are NaN.
    wav = tiny_workdir / "wav" / "utt03.wav"
    samples, rate = soundfile.read(wav, dtype="float32")
    samples[100:200] = np.nan
    soundfile.write(wav, samples, rate, subtype="FLOAT")
    exp = tmp_path / "exp"
    log = tiny_asr.train(tiny_workdir, "switch", exp, updates={"max_epoch": 2})
    assert log.count("non-finite loss (nan) on the batch of utterances") == 2  # once an epoch
    assert "utt03" in log.split("non-finite loss")[1].splitlines()[0]
    assert "[non-finite steps skipped in this epoch: 1]" in log
    assert "epoch 1: 1 optimizer step(s) skipped for a non-finite loss or gradient" in log
    for name in ("checkpoint.pth", "valid.loss.ave.pth"):
        state = torch.load(exp / name, weights_only=False)
        state = state.get("model", state)
        bad = [key for key, value in state.items() if value.is_floating_point()
               and not torch.isfinite(value).all()]  # fmt: skip
        assert not bad, (name, bad)
    assert any(key.endswith("running_mean") for key in state)  # BatchNorm statistics included
