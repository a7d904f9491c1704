"""The default recipe's pseudo-label scoring (local/self_training.py score): WER of the kept
pseudo-labels per confidence measure and filtering level, against the withheld truth."""

import json
import subprocess
import sys
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[2] / "egs" / "espeak_en" / "asr1"

# (utt, truth, pseudo-label, ctc confidence, agreement): the CTC confidence ranks the
# wrong labels first, the agreement ranks them last.
RECORDS = [
    ("u1", "a b c d", "a b c d", 0.2, 1.0),
    ("u2", "a b c d", "a b c x", 0.4, 0.9),
    ("u3", "a b c d", "x y c d", 0.6, 0.5),
    ("u4", "a b c d", "x y z w", 0.8, 0.1),
]


def test_scores_every_measure_and_the_oracle_at_each_level(tmp_path):
    work_dir = tmp_path / "pool_pl.work"
    (work_dir / "shards").mkdir(parents=True)
    (work_dir / "plan.json").write_text(json.dumps({"shards": [[0, 4]]}))
    lines = [
        json.dumps({"utt": utt, "text": label, "ctc": ctc, "agreement": agreement,
                    "duration": 1.8})
        for utt, _, label, ctc, agreement in RECORDS
    ]  # fmt: skip
    (work_dir / "shards" / "00001.jsonl").write_text("\n".join(lines) + "\n")
    truth = tmp_path / "text"
    truth.write_text("".join(f"{utt} {text}\n" for utt, text, *_ in RECORDS))
    output = tmp_path / "scores.json"
    command = [sys.executable, str(RECIPE / "local" / "self_training.py"), "score",
               "--work_dir", str(work_dir), "--truth", str(truth), "--confidence", "ctc",
               "--keep_fractions", "1", "0.5", "--output", str(output)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, text=True)

    scores = json.loads(output.read_text())
    wers = {m: [x["wer"] for x in levels] for m, levels in scores["by_confidence"].items()}
    # All 16 words: 0 + 1 + 2 + 4 errors; the top half by CTC is u4, u3 (6 of 8 words wrong).
    assert wers["ctc"] == [43.75, 75.0] and scores["levels"] == scores["by_confidence"]["ctc"]
    assert wers["agreement"] == [43.75, 12.5] and wers["oracle"] == [43.75, 12.5]
    assert scores["by_confidence"]["both"][1]["utterances"] == 2
    assert scores["by_confidence"]["oracle"][1]["hours"] == round(2 * 1.8 / 3600, 3)
