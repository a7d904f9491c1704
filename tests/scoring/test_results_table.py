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


def test_espnet3_experiment_scores_rtf_and_parameters(experiment):
    """An ESPnet3 experiment: hypotheses and times in the decoding backend's .scp files, a
    config that names its token list by a path relative to the recipe dir."""
    import yaml

    from espnet_omnirouter.scoring.results_table import load_espnet3_result, parameter_counts

    recipe = experiment.parents[1]
    config = yaml.safe_load((experiment / "config.yaml").read_text())
    espnet2_counts = parameter_counts(experiment)
    (recipe / "data" / "tokens").mkdir(parents=True)
    (recipe / "data" / "tokens" / "tokens.txt").write_text("\n".join(config["token_list"]))
    config["token_list"] = "./data/tokens/tokens.txt"
    (experiment / "config.yaml").write_text(yaml.safe_dump(config))
    (recipe / "data" / "test_a").mkdir()
    (recipe / "data" / "test_a" / "text").write_text("u1 a b\nu2 b b a\n")
    outputs = experiment / "inference_ctc_greedy" / "test_a"
    outputs.mkdir(parents=True)
    (outputs / "text.scp").write_text("u1 a b\nu2 b a\n")
    (outputs / "decode_seconds.scp").write_text("u1 0.1\nu2 0.3\n")
    (outputs / "audio_seconds.scp").write_text("u1 1.0\nu2 3.0\n")
    result = load_espnet3_result(
        experiment, recipe / "data", ["test_a"], "inference_ctc_greedy", "omni"
    )
    assert result.per_set["test_a"].wer == 100 * 1 / 5  # one deletion in five words
    assert result.rtf == 0.1
    assert (result.total_params, result.active_params) == espnet2_counts  # same vocabulary
    assert load_espnet3_result(experiment, recipe / "data", ["test_b"], "x", "omni") is None
