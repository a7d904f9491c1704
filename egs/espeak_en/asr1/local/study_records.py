"""A study run's record: the small JSON file that keeps what the study's tables need.

One record per trained model, committed under ``study/records/<run>.json``, so that the
tables of STUDY.md can be rebuilt without the experiment dirs (which are not committed):

    run          name, group, base config, seed, change, experiment tag, config sections
    parameters   total and active per frame
    decoding     per mode: per test set the word errors of every utterance (in the order of
                 the references), and the RTF
    training     per epoch ESPnet's [train] and [valid] means; seconds of training
    routing      per MoE layer: expert load, per-frame router entropy, entropy of the load;
                 L x L Cramér's V and NMI between layers; reassignment ablation WERs
    provenance   the command, date, machine and code revision that produced it

The runs decode the same test sets: their utterance ids and reference word counts are kept
once, in ``study/records/references.json`` (``REFERENCES_FILE``), which every new record is
checked against.
"""

import json
import math
import re
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import yaml

from espnet_omnirouter.analysis.training_log import read_checkpoint_epochs, read_training_log
from espnet_omnirouter.scoring.wer import UtteranceErrors, read_kaldi_text, score
from espnet_omnirouter.utils.stage_times import read_stage_times

RECORD_VERSION = 2
REFERENCES_FILE = "references.json"


def stage_seconds(exp_dir: Path, step: str) -> Optional[int]:
    """Seconds of the last ``step`` (e.g. ``train_omni``) in run.sh's stage_times.tsv."""
    times = read_stage_times(exp_dir / "stage_times.tsv")
    return next((time.seconds for time in reversed(times) if time.step == step), None)


def decodings(model_dir: Path, data_dir: Path) -> Dict[str, Dict[str, UtteranceErrors]]:
    """Per decoding mode (``ctc_greedy``, ``chunk16/streaming``, ...), per test set, the
    scores of ``<model_dir>/decode/<mode>/<set>/text`` against ``<data_dir>/<set>/text``."""
    found: Dict[str, Dict[str, UtteranceErrors]] = {}
    decode_dir = model_dir / "decode"
    for hypotheses in sorted(decode_dir.glob("**/text")):
        *mode_parts, test_set, _ = hypotheses.relative_to(decode_dir).parts
        references = read_kaldi_text(data_dir / test_set / "text")
        mode = "/".join(mode_parts)
        found.setdefault(mode, {})[test_set] = score(references, read_kaldi_text(hypotheses))
    return found


def load_entropy(load: List[float]) -> float:
    """Entropy (nats) of one layer's expert-load distribution."""
    shares = np.asarray(load, float)
    shares = shares[shares > 0]
    return float(-(shares * np.log(shares)).sum())


def mean_off_diagonal(matrix: List[List[float]]) -> Optional[float]:
    values = np.asarray(matrix, float)
    if values.shape[0] < 2:
        return None
    return float(values[~np.eye(len(values), dtype=bool)].mean())


def routing_record(routing_dir: Path) -> Optional[Dict[str, Any]]:
    """What the study keeps of bin/analyze_routing's ``routing_stats.json`` (None: no
    analysis, or a model without MoE layers)."""
    path = routing_dir / "routing_stats.json"
    if not path.is_file():
        return None
    stats = json.loads(path.read_text())
    if not stats["layers"]:
        return None
    return {
        "layers": stats["layers"],
        "num_experts": stats["num_experts"],
        "frames": stats["frames"],
        "load": np.round(stats["load"], 4).tolist(),
        "frame_entropy": np.round(stats["entropy"], 4).tolist(),
        "load_entropy": [round(load_entropy(load), 4) for load in stats["load"]],
        "cramers_v": np.round(stats["cramers_v"], 4).tolist(),
        "nmi": np.round(stats["nmi"], 4).tolist(),
        "cramers_v_mean": round(mean_off_diagonal(stats["cramers_v"]), 4),
        "nmi_mean": round(mean_off_diagonal(stats["nmi"]), 4),
        "neighbour_agreement": stats["neighbour_agreement"],
        "ablation": stats.get("ablation"),
    }


def training_record(model_dir: Path, exp_dir: Path, tag: str) -> Optional[Dict[str, Any]]:
    """Per-epoch training and validation means and the training's seconds.

    From ESPnet's checkpoint.pth where it is kept: every epoch, also of a run resumed
    after a kill, and the seconds are the epochs' own (training and validation). Else
    from train.log and the stage's wall time in stage_times.tsv.
    """
    checkpoint, log = model_dir / "checkpoint.pth", model_dir / "train.log"
    if checkpoint.is_file():
        epochs = read_checkpoint_epochs(checkpoint)
        seconds = round(sum(e["train"].get("time", 0) + e["valid"].get("time", 0) for e in epochs))
    elif log.is_file():
        epochs = read_training_log(log).epochs
        seconds = stage_seconds(exp_dir, f"train_{tag}")
    else:
        return None
    finite = lambda values: {k: v for k, v in values.items() if math.isfinite(v)}  # noqa: E731
    return {
        "epochs": [{"train": finite(e["train"]), "valid": finite(e["valid"])} for e in epochs],
        "seconds": seconds,
    }


def code_revision(path: Path) -> str:
    result = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return result.stdout.strip() or "unknown"


class ReferencesMismatch(ValueError):
    """A run decoded other test utterances than the study's other runs."""


def store_references(records_dir: Path, references: Dict[str, Dict[str, list]]) -> None:
    """Keep ``references`` in ``records_dir``'s references file, or check that they are the
    ones it holds (per test set; a run may decode fewer sets)."""
    path = records_dir / REFERENCES_FILE
    stored = json.loads(path.read_text()) if path.is_file() else {}
    for test_set, reference in references.items():
        if stored.setdefault(test_set, reference) != reference:
            raise ReferencesMismatch(
                f"{test_set}: the utterances or references differ from the study's ({path}): "
                "records of one study must decode the same data"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_json(stored))


def load_references(records_dir: Path) -> Dict[str, Dict[str, list]]:
    path = records_dir / REFERENCES_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def dump_json(data: Any) -> str:
    """JSON with one key per line and each list of numbers on one line."""
    text = json.dumps(data, indent=1)
    return (
        re.sub(
            r"\[\s*([-0-9.eE+, \n]*?)\s*\]",
            lambda m: "[" + ", ".join(v.strip() for v in m[1].split(",") if v.strip()) + "]",
            text,
        )
        + "\n"
    )


def build_record(
    run: Dict[str, Any],
    model_dir: Path,
    exp_dir: Path,
    data_dir: Path,
    parameters: Dict[str, int],
    provenance: Dict[str, str],
) -> Tuple[Dict[str, Any], Dict[str, Dict[str, list]]]:
    """The record of one study run from its experiment dir (see the module docstring), and
    the references of its test sets."""
    config = yaml.safe_load((model_dir / "config.yaml").read_text())
    scored = decodings(model_dir, data_dir)
    references: Dict[str, Dict[str, list]] = {}
    decoding: Dict[str, Dict[str, Any]] = {}
    for mode, per_set in scored.items():
        rtfs = []
        for test_set, errors in per_set.items():
            references.setdefault(
                test_set,
                {"utt_ids": errors.utt_ids, "ref_words": errors.ref_words.astype(int).tolist()},
            )
            rtf = model_dir / "decode" / mode / test_set / "rtf"
            if rtf.is_file():
                rtfs.append(float(rtf.read_text()))
        decoding[mode] = {
            "errors": {s: e.errors.astype(int).tolist() for s, e in per_set.items()},
            "rtf": round(float(np.mean(rtfs)), 5) if rtfs else None,
        }
    record = {
        "version": RECORD_VERSION,
        "run": {
            **run,
            "config": {k: config.get(k) for k in ("encoder_conf", "decoder_conf", "model_conf")},
        },
        "parameters": parameters,
        "decoding": decoding,
        "decode_seconds": stage_seconds(exp_dir, f"decode_{run['tag']}"),
        "training": training_record(model_dir, exp_dir, run["tag"]),
        "routing": routing_record(model_dir / "routing"),
        "provenance": provenance,
    }
    return record, references


def load_records(records_dir: Path) -> List[Dict[str, Any]]:
    """The run records of ``records_dir`` (not its speed records), each with the study's
    ``references``."""
    references = load_references(records_dir)
    records = []
    for path in sorted(records_dir.glob("*.json")):
        if path.name == REFERENCES_FILE or path.name.startswith("speed_"):
            continue
        record = json.loads(path.read_text())
        record["references"] = {s: references[s] for s in test_sets_decoded(record)}
        records.append(record)
    return records


def test_sets_decoded(record: Dict[str, Any]) -> List[str]:
    return sorted({s for mode in record["decoding"].values() for s in mode["errors"]})


def utterance_errors(record: Dict[str, Any], mode: str) -> Dict[str, UtteranceErrors]:
    """The scores of a record's decoding ``mode``, per test set (of a record given its
    ``references`` when loaded: ``load_records``)."""
    return {
        test_set: UtteranceErrors(
            record["references"][test_set]["utt_ids"],
            np.asarray(errors, float),
            np.asarray(record["references"][test_set]["ref_words"], float),
        )
        for test_set, errors in record["decoding"][mode]["errors"].items()
    }
