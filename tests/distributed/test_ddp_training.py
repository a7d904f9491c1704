"""``python -m espnet_omnirouter.bin.asr_train`` on 2 CPU ranks (torchrun, ESPnet's DDP over
gloo) against the same command in one process: same global batches, so the same losses
per step and the same weights, within float32 rounding where the model is exact."""

from pathlib import Path
from typing import Dict

import numpy as np
import pytest
import torch
from ddp_runs import (
    EPOCHS,
    ctc_attention_config,
    launch,
    make_data,
    step_scalars,
    train_command,
    u2pp_config,
    weights,
)
from gloo_ranks import GLOO_AVAILABLE

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not GLOO_AVAILABLE, reason="torch.distributed has no gloo backend"),
]

NO_AUX = {"type": "omni", "num_experts": 2, "load_balancing_weight": 0.0, "z_loss_weight": 0.0}
CONFIGS = {
    # Exact: no auxiliary loss, every other loss a mean over utterances.
    "omni": ctc_attention_config(NO_AUX),
    "u2pp": u2pp_config(),
    # The recipe's aux weights (load balancing 0.01, z-loss 0.001): each rank computes them
    # on its own frames, so they are not the global batch's.
    "omni_aux": ctc_attention_config({"type": "omni", "num_experts": 2}),
}
MAIN_LOSSES = ["loss_ctc", "loss_att"]
# Float32 rounding (other summation orders: half-batch matmuls, the gradient all-reduce).
# Measured on 2 CPU cores: losses <= 5e-7 relative, weights <= 7e-7 after 4 SGD steps
# (lr 0.5, gradients clipped at 5), against epoch-2 updates up to 0.7.
EXACT_LOSS_RTOL, EXACT_WEIGHT_ATOL = 1e-5, 1e-5
# With aux losses on (measured): per-rank load-balancing loss up to 1.0% off the global
# batch's, losses 5e-5 relative, weights 2.6e-3 after 4 steps (the aux losses are added at
# the task loss's per-token scale: times the mean target length), 0.4% of the largest
# epoch-2 update.
AUX_LB_RTOL, AUX_LOSS_RTOL, AUX_WEIGHT_ATOL = 5e-2, 5e-4, 1e-2


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Dict[str, Dict[int, Path]]:
    """Every config trained in one process and on 2 ranks, all at once."""
    workdir = make_data(tmp_path_factory.mktemp("ddp"))
    exps = {name: {ws: workdir / f"{name}_ws{ws}" for ws in (1, 2)} for name in CONFIGS}
    processes = {
        (name, ws): launch(train_command(workdir, CONFIGS[name], exp, ws), workdir)
        for name, by_size in exps.items()
        for ws, exp in by_size.items()
    }
    failures = []
    for (name, ws), process in processes.items():
        log, _ = process.communicate(timeout=600)
        (exps[name][ws] / "launch.log").write_text(log)
        if process.returncode != 0:
            failures.append(f"{name}, world size {ws}:\n{log[-3000:]}")
    assert not failures, "\n".join(failures)
    return exps


def assert_same_weights(single: Path, ddp: Path, atol: float) -> None:
    expected, actual = weights(single, EPOCHS), weights(ddp, EPOCHS)
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(
            actual[key], value, rtol=0, atol=atol, msg=lambda message, key=key: f"{key}: {message}"
        )


def largest_update(exp: Path) -> float:
    before, after = weights(exp, EPOCHS - 1), weights(exp, EPOCHS)
    return max((after[k].float() - before[k].float()).abs().max().item() for k in after)


def test_ddp_log_shows_two_ranks(runs):
    log = (runs["omni"][2] / "launch.log").read_text()
    assert ":0/2]" in log  # ESPnet's rank-0 log prefix [host:rank/world_size]
    assert "The training was finished at 2 epochs" in log


@pytest.mark.parametrize("name", ["omni", "u2pp"])
def test_two_ranks_train_as_one_process(runs, name: str):
    single, ddp = runs[name][1], runs[name][2]
    for tag in ["loss", *MAIN_LOSSES, "grad_norm"]:
        expected = step_scalars(single, tag)
        assert len(expected) == EPOCHS * 3  # 2 steps and the epoch mean, per epoch
        np.testing.assert_allclose(step_scalars(ddp, tag), expected, rtol=EXACT_LOSS_RTOL)
    assert_same_weights(single, ddp, EXACT_WEIGHT_ATOL)
    assert largest_update(single) > 1000 * EXACT_WEIGHT_ATOL  # the tolerance can tell
    router_keys = [k for k in weights(single, EPOCHS) if "router" in k]
    if name == "omni":  # one shared router, one parameter for DDP to reduce
        assert router_keys == ["encoder.shared_router.linear.weight"]


def test_aux_losses_are_per_rank_and_close(runs):
    single, ddp = runs["omni_aux"][1], runs["omni_aux"][2]
    for tag in MAIN_LOSSES:  # the first step runs the same weights on the same utterances
        assert step_scalars(ddp, tag)[0] == pytest.approx(step_scalars(single, tag)[0], 1e-6)
    lb_single = step_scalars(single, "moe_load_balancing_loss")
    lb_ddp = step_scalars(ddp, "moe_load_balancing_loss")
    assert not np.allclose(lb_ddp, lb_single, rtol=1e-5)  # per rank, not the global value
    np.testing.assert_allclose(lb_ddp, lb_single, rtol=AUX_LB_RTOL)
    for tag in ["loss", *MAIN_LOSSES]:
        np.testing.assert_allclose(
            step_scalars(ddp, tag), step_scalars(single, tag), rtol=AUX_LOSS_RTOL
        )
    assert_same_weights(single, ddp, AUX_WEIGHT_ATOL)
    assert largest_update(single) > 50 * AUX_WEIGHT_ATOL  # the tolerance can tell
