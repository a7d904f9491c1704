"""Loss curves parsed from ESPnet's training log."""

from espnet_omnirouter.analysis.training_log import read_training_log

LOG = """\
[vm] 2026-11-25 10:21:55,754 (trainer:811) INFO: 1epoch:train:1-18batch: iter_time=0.005, loss_ctc=139.5, loss=140.0
[vm] 2026-11-25 10:22:00,039 (trainer:811) INFO: 1epoch:train:19-36batch: iter_time=0.003, loss_ctc=108.9, loss=109.0
[vm] 2026-11-25 10:23:40,797 (trainer:394) INFO: 1epoch results: [train] loss_ctc=101.5, loss=101.6, time=1 minute and 41.54 seconds, total_count=36, [valid] loss_ctc=68.2, cer_ctc=0.496, loss=68.3, time=7.96 seconds, total_count=18
[vm] 2026-11-25 10:24:00,000 (trainer:811) INFO: 2epoch:train:1-18batch: iter_time=0.003, loss_ctc=60.0, loss=60.5
[vm] 2026-11-25 10:25:35,756 (trainer:394) INFO: 2epoch results: [train] loss_ctc=53.4, loss=53.5, total_count=72, [valid] loss_ctc=42.9, loss=43.0, total_count=36
"""  # noqa: E501


def test_updates_count_across_epochs_and_epochs_keep_both_sides(tmp_path):
    path = tmp_path / "train.log"
    path.write_text(LOG)
    curves = read_training_log(path, "loss_ctc")
    assert curves.train_steps == [(18, 139.5), (36, 108.9), (54, 60.0)]
    assert [epoch["valid"]["loss"] for epoch in curves.epochs] == [68.3, 43.0]
    assert curves.epochs[0]["train"]["total_count"] == 36
    assert "time" not in curves.epochs[0]["train"]  # not a number


def test_a_resumed_epoch_replaces_the_interrupted_one(tmp_path):
    path = tmp_path / "train.log"
    lines = LOG.splitlines()
    path.write_text("\n".join([*lines[:4], lines[3].replace("60.0", "61.0"), lines[4]]))
    curves = read_training_log(path, "loss_ctc")
    assert curves.train_steps[-1] == (54, 61.0) and len(curves.epochs) == 2


def test_a_statistic_without_its_comma_is_still_read(tmp_path):
    """ESPnet's reporter omits the ", " before the statistic at the batch count's index."""
    path = tmp_path / "train.log"
    path.write_text(LOG.replace("loss_ctc=139.5, loss=140.0", "loss_ctc=139.5loss=1.4e+02"))
    curves = read_training_log(path, "loss")
    assert curves.train_steps[0] == (18, 140.0)
    assert read_training_log(path, "loss_ctc").train_steps[0] == (18, 139.5)


def test_a_resumed_training_reads_the_logs_its_earlier_runs_left(tmp_path):
    """Rotated as ESPnet's launch does: train.2.log (oldest), train.1.log, train.log."""
    lines = LOG.splitlines()
    (tmp_path / "train.2.log").write_text(lines[0] + "\n")  # killed in epoch 1
    (tmp_path / "train.1.log").write_text("\n".join(lines[:3]) + "\n")  # killed after epoch 1
    (tmp_path / "train.log").write_text("\n".join(lines[3:]) + "\n")  # resumed at epoch 2
    (tmp_path / "train.x.log").write_text(lines[3].replace("60.0", "99.0"))  # not a run's log
    curves = read_training_log(tmp_path / "train.log", "loss_ctc")
    assert curves.train_steps == [(18, 139.5), (36, 108.9), (54, 60.0)]
    assert len(curves.epochs) == 2
