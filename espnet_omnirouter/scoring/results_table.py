"""Markdown results table: WER per test set and average, per model, with CIs."""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from espnet_omnirouter.scoring.bootstrap import average_wer, relative_change_interval
from espnet_omnirouter.scoring.wer import UtteranceErrors


@dataclass
class ModelResult:
    """One trained model's scores."""

    name: str
    total_params: str
    active_params: str
    per_set: Dict[str, UtteranceErrors]
    rtf: Optional[float] = None


def wer_table(results: Sequence[ModelResult], test_sets: Sequence[str]) -> str:
    """Rows: models; columns: parameters, each test set's WER, the average, RTF."""
    header = ["model", "params (total / active)", *test_sets, "**average**", "decode RTF"]
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
