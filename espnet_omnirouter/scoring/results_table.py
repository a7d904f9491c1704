"""Markdown results table: WER per test set and average, per model, with CIs."""

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import yaml

from espnet_omnirouter.scoring.bootstrap import average_wer, relative_change_interval
from espnet_omnirouter.scoring.wer import UtteranceErrors, normalize_text, read_kaldi_text, score

# (system, baseline) pairs compared with bootstrap confidence intervals.
MODEL_PAIRS = [
    ("omni", "dense"),
    ("omni", "switch"),
    ("switch", "dense"),
    ("u2pp_moe", "u2pp_dense"),
    # Self-training (egs/espeak_en stage 12): each model after against before.
    ("dense_st", "dense"),
    ("switch_st", "switch"),
    ("omni_st", "omni"),
]


@dataclass
class ModelResult:
    """One trained model's scores."""

    name: str
    total_params: str
    active_params: str
    per_set: Dict[str, UtteranceErrors]
    rtf: Optional[float] = None


def scored_line(command: Optional[str]) -> str:
    """The line above a results table: the command that produced it and today's date."""
    scored = f"scored on {datetime.date.today().isoformat()}"
    return f"Command: `{command}` ({scored})" if command else scored.capitalize()


def load_result(
    model_dir: Path,
    data_dir: Path,
    test_sets: Sequence[str],
    mode: str,
    name: str,
    decode_dir: str = "decode",
    normalize: Callable[[str], str] = normalize_text,
) -> Optional[ModelResult]:
    """Scores of the model of ``model_dir`` decoded in ``mode``: references
    ``<data_dir>/<set>/text``, hypotheses ``<model_dir>/<decode_dir>/<mode>/<set>/text``
    (and ``rtf``), parameters from ``<model_dir>/config.yaml``. None if a set is missing."""
    per_set, rtfs = {}, []
    for test_set in test_sets:
        hypotheses = Path(model_dir) / decode_dir / mode / test_set / "text"
        if not hypotheses.is_file():
            return None
        references = read_kaldi_text(Path(data_dir) / test_set / "text")
        per_set[test_set] = score(references, read_kaldi_text(hypotheses), normalize)
        rtf_file = hypotheses.with_name("rtf")
        if rtf_file.is_file():
            rtfs.append(float(rtf_file.read_text()))
    return ModelResult(
        name, *parameter_counts(model_dir), per_set, sum(rtfs) / len(rtfs) if rtfs else None
    )


def load_espnet3_result(
    model_dir: Path,
    data_dir: Path,
    test_sets: Sequence[str],
    inference_dir: str,
    name: str,
    normalize: Callable[[str], str] = normalize_text,
) -> Optional[ModelResult]:
    """Scores of an ESPnet3 experiment (``model_dir``: its ``exp_dir``) decoded by
    ``espnet_omnirouter.espnet3.inference.DecodingBackend``: references
    ``<data_dir>/<set>/text``, hypotheses ``<model_dir>/<inference_dir>/<set>/text.scp``,
    real-time factor from its ``decode_seconds.scp`` and ``audio_seconds.scp`` (averaged
    over the sets, as ``load_result``). None if a set is missing."""
    per_set, rtfs = {}, []
    for test_set in test_sets:
        outputs = Path(model_dir) / inference_dir / test_set
        if not (outputs / "text.scp").is_file():
            return None
        references = read_kaldi_text(Path(data_dir) / test_set / "text")
        per_set[test_set] = score(references, read_kaldi_text(outputs / "text.scp"), normalize)
        seconds = [
            sum(float(value) for value in read_kaldi_text(outputs / f"{kind}.scp").values())
            for kind in ("decode_seconds", "audio_seconds")
        ]
        rtfs.append(seconds[0] / seconds[1])
    return ModelResult(name, *parameter_counts(model_dir), per_set, sum(rtfs) / len(rtfs))


def parameter_counts(model_dir: Path) -> Tuple[str, str]:
    """Total and active (per frame) parameters of the model of ``<model_dir>/config.yaml``,
    formatted; its token list counted from the file where the config names one (ESPnet3
    experiments), where ESPnet2 writes the list itself."""
    from espnet_omnirouter.layers.moe.parameter_count import count_parameters, format_count
    from espnet_omnirouter.utils.model_config import build_model_from_config

    config = Path(model_dir) / "config.yaml"
    token_list = (yaml.safe_load(config.read_text()) or {}).get("token_list")
    vocab_size = 0
    if isinstance(token_list, str):
        tokens = Path(token_list)
        if not tokens.is_absolute():  # relative to the recipe dir (ESPnet3's recipe_dir)
            bases = [base for base in config.resolve().parents if (base / tokens).is_file()]
            if not bases:
                raise FileNotFoundError(f"{config}: token_list: {tokens} not found above it")
            tokens = bases[0] / tokens
        vocab_size = len(tokens.read_text().splitlines())
    count = count_parameters(build_model_from_config(config, vocab_size, None))
    return format_count(count.total), format_count(count.active)


def wer_table(
    results: Sequence[ModelResult],
    test_sets: Sequence[str],
    titles: Optional[Dict[str, str]] = None,
) -> str:
    """Rows: models; columns: parameters, each test set's WER (headed by its ``titles``
    entry, else its name), the average, RTF."""
    columns = [(titles or {}).get(name, name) for name in test_sets]
    header = ["model", "params (total / active)", *columns, "**average**", "decode RTF"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|",
    ]
    for result in results:
        cells = [f"{result.per_set[name].wer:.1f}" for name in test_sets]
        rtf = "" if result.rtf is None else f"{result.rtf:.3f}"
        lines.append(
            f"| {result.name} | {result.total_params} / {result.active_params} | "
            + " | ".join(cells)
            + f" | **{average_wer(result.per_set):.1f}** | {rtf} |"
        )
    return "\n".join(lines)


def comparison_lines(
    results: Sequence[ModelResult], pairs: Sequence[tuple], num_samples: int = 1000
) -> List[str]:
    """``system vs baseline: relative change of average WER [95% CI]`` per pair present."""
    by_name = {result.name: result for result in results}
    lines = []
    for system, baseline in pairs:
        if system in by_name and baseline in by_name:
            change, low, high = relative_change_interval(
                by_name[baseline].per_set, by_name[system].per_set, num_samples
            )
            verdict = "better" if high < 0 else "worse" if low > 0 else "no significant difference"
            lines.append(
                f"- {system} vs {baseline}: {change:+.1f}% relative average WER "
                f"(95% bootstrap CI [{low:+.1f}%, {high:+.1f}%]: {verdict})"
            )
    return lines
