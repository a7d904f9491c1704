"""The per-epoch progress line of training."""

import math

import pytest

from espnet_omnirouter.train import progress
from espnet_omnirouter.train.progress import EpochProgress, format_seconds, summarize


@pytest.mark.parametrize(
    "seconds, text", [(0, "0m00s"), (75.4, "1m15s"), (3599, "59m59s"), (3725, "1h02m")]
)
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_summary_names_what_the_model_reports():
    attention = {"loss": 45.214, "acc": 0.6123, "cer": 0.21, "cer_ctc": 0.3, "loss_ctc": 60.0}
    assert summarize(attention) == "loss 45.21, acc 61.2%, CER 21.0%"
    assert summarize({"loss": 80.0, "cer_ctc": 0.5}) == "loss 80.00, CER 50.0%"
    assert summarize({"loss": 80.0, "acc": math.nan}) == "loss 80.00"
    assert summarize({}) == "no statistics"


def test_line_estimates_the_time_left_from_this_run(monkeypatch):
    clock = iter([100.0, 160.0, 220.0, 0.0, 1.0])  # start, resumed epoch 3, epoch 4; run 2
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    run = EpochProgress(max_epoch=10)
    first = run.line(3, {"loss": 50.0, "acc": 0.5}, {"loss": 55.0, "acc": 0.4, "cer": 0.3})
    assert first == (
        "[train] epoch 3/10: train loss 50.00, acc 50.0%; valid loss 55.00, acc 40.0%, "
        "CER 30.0%; 1m00s elapsed, about 7m00s left"
    )
    last = run.line(4, {"loss": 40.0}, {"loss": 45.0})
    assert last.endswith("; 2m00s elapsed, about 6m00s left")
    assert EpochProgress(max_epoch=1).line(1, {}, {}).endswith("0m01s elapsed, done")
