import numpy as np

from espnet_omnirouter.scoring.results_table import ModelResult, comparison_lines, wer_table
from espnet_omnirouter.scoring.wer import UtteranceErrors


def result(name, wer_a, wer_b, rtf=0.05):
    def errors(wer):
        return UtteranceErrors(["u1", "u2"], np.array([wer / 10, wer / 10]), np.array([10.0, 10.0]))

    return ModelResult(name, "9.60M", "3.60M", {"a": errors(wer_a), "b": errors(wer_b)}, rtf)


def test_table_rows_columns_and_average():
    table = wer_table([result("dense", 20, 40), result("omni", 10, 30)], ["a", "b"])
    lines = table.splitlines()
    assert lines[0] == "| model | params (total / active) | a | b | **average** | decode RTF |"
    assert lines[1] == "|---|---|---:|---:|---:|---:|"
    assert lines[2] == "| dense | 9.60M / 3.60M | 20.0 | 40.0 | **30.0** | 0.050 |"
    assert lines[3] == "| omni | 9.60M / 3.60M | 10.0 | 30.0 | **20.0** | 0.050 |"


def test_comparisons_only_for_present_models():
    lines = comparison_lines(
        [result("dense", 20, 40), result("omni", 10, 30)],
        [("omni", "dense"), ("omni", "switch")],
        num_samples=50,
    )
    assert len(lines) == 1
    assert lines[0].startswith("- omni vs dense: -33.3% relative average WER (95% bootstrap CI")
