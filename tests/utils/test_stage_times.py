"""run.sh's stage_times.tsv: read in order, a malformed line named by file and line."""

import pytest

from espnet_omnirouter.utils.stage_times import StageTime, format_duration, read_stage_times


def test_reads_steps_in_order_and_formats_durations(tmp_path):
    path = tmp_path / "stage_times.tsv"
    assert read_stage_times(path) == []
    path.write_text("5\ttrain_dense\t754\n6\tdecode_dense\t61\n5\ttrain_dense\t9\n")
    assert read_stage_times(path) == [
        StageTime("5", "train_dense", 754),
        StageTime("6", "decode_dense", 61),
        StageTime("5", "train_dense", 9),
    ]
    assert [format_duration(t.seconds) for t in read_stage_times(path)] == [
        "12m34s",
        "1m01s",
        "0m09s",
    ]


def test_a_malformed_line_is_named(tmp_path):
    path = tmp_path / "stage_times.tsv"
    path.write_text("5\ttrain_dense\t754\n6 decode_dense 61\n")
    with pytest.raises(ValueError, match=r"stage_times.tsv:2: expected stage<TAB>step<TAB>seconds"):
        read_stage_times(path)
