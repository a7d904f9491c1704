"""A tiny trained model, packed, then loaded offline where only the plugin is imported:
from the archive (through espnet_model_zoo, and ESPnet's own Speech2Text.from_pretrained and
espnet.load), from its Hub layout (a Hub snapshot in the local cache) and by the transcribe
CLI, each decoding synthesized speech as the training side does."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import soundfile
import torch
from tiny_asr import SAMPLE_RATE, make_workdir, run, train

from espnet_omnirouter.asr.decoding.eager_model import EagerModel
from espnet_omnirouter.asr.decoding.speech2text import load_speech2text
from espnet_omnirouter.runtime.audio import load_audio
from espnet_omnirouter.runtime.decoding import decode

pytestmark = pytest.mark.e2e

HUB_ID = "tester/tiny_omni"
# A user's process: the plugin, the model zoo and ESPnet's own inference class.
LOAD_AND_DECODE = """
import json, sys
import espnet_omnirouter
from espnet_model_zoo.downloader import ModelDownloader
from espnet2.bin.asr_inference import Speech2Text
import soundfile

cache_dir, model, wav = sys.argv[1:]
files = ModelDownloader(cache_dir).download_and_unpack(model)
speech2text = Speech2Text(**files, device="cpu", beam_size=2, ctc_weight=0.5, nbest=1)
speech, _ = soundfile.read(wav, dtype="float32")
print(json.dumps({"text": speech2text(speech)[0][0], "files": files}))
"""


# A user's process on ESPnet's own entry points: Speech2Text.from_pretrained, and
# espnet.load where the installed ESPnet has it (202609 and later). Both unpack a local
# archive into the model zoo's default cache; the process says where, for the clean-up.
LOAD_FROM_PRETRAINED = """
import json, sys
import espnet, espnet_omnirouter
from espnet2.bin.asr_inference import Speech2Text
from espnet_model_zoo.downloader import ModelDownloader, str_to_hash
import soundfile
from pathlib import Path

model, wav = sys.argv[1:]
options = dict(device="cpu", beam_size=2, ctc_weight=0.5, nbest=1)
speech, _ = soundfile.read(wav, dtype="float32")
loaded = {"from_pretrained": Speech2Text.from_pretrained(model, **options)}
if hasattr(espnet, "load"):
    loaded["espnet.load"] = espnet.load(model, task="asr", **options)
texts = {name: speech2text(speech)[0][0] for name, speech2text in loaded.items()}
unpacked = ModelDownloader().cachedir / str_to_hash(Path(model).absolute())
print(json.dumps({"texts": texts, "unpacked": str(unpacked)}))
"""


def beam_search_text(config: Path, checkpoint: Path, wav: Path) -> str:
    from espnet2.bin.asr_inference import Speech2Text

    speech2text = Speech2Text(
        asr_train_config=str(config),
        asr_model_file=str(checkpoint),
        device="cpu",
        beam_size=2,
        ctc_weight=0.5,
        nbest=1,
    )
    return speech2text(soundfile.read(wav, dtype="float32")[0])[0][0]


def load_and_decode(cache_dir: Path, model: str, wav: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_DECODE, str(cache_dir), model, str(wav)],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> dict:
    """Train, pack, then delete the experiment: what the training side decoded, and where
    the archive and a synthesized utterance are."""
    root = tmp_path_factory.mktemp("pack")
    workdir = make_workdir(root / "work")
    exp = workdir / "exp" / "asr_omni"
    train(workdir, "omni", exp, "--max_epoch", "1")
    (exp / "RESULTS.md").write_text(
        "# tiny results\n\n| model | test |\n|---|---:|\n| omni | 9.9 |\n"
    )
    espeak_wav = root / "espeak.wav"
    subprocess.run(["espeak-ng", "-w", str(espeak_wav), "a bad cab"], check=True)
    wav = root / "speech.wav"
    soundfile.write(wav, load_audio(espeak_wav, SAMPLE_RATE), SAMPLE_RATE)
    archive = root / "models" / "tiny_omni.zip"
    run(
        "pack_model",
        "--exp_dir",
        str(exp),
        "--model_file",
        "1epoch.pth",
        "--outpath",
        str(archive),
        cwd=root,  # not where training ran: the archive must not depend on it
    )
    speech2text = load_speech2text(exp / "config.yaml", exp / "1epoch.pth", beam_size=1)
    speech2text.asr_model.eval()
    with torch.no_grad():
        wave = torch.from_numpy(soundfile.read(wav, dtype="float32")[0])
        greedy = decode(EagerModel(speech2text), wave.numpy(), "ctc_greedy")
    expected = {
        "beam": beam_search_text(exp / "config.yaml", exp / "1epoch.pth", wav),
        "greedy": greedy,
    }
    shutil.rmtree(workdir)  # the archive must carry every file the model needs
    return {"archive": archive, "wav": wav, "expected": expected, "root": root}


def test_archive_holds_model_tokenizer_stats_results_and_card(packed):
    names = set(zipfile.ZipFile(packed["archive"]).namelist())
    expected = {
        "meta.yaml",
        "exp/asr_omni/config.yaml",
        "exp/asr_omni/1epoch.pth",
        "exp/asr_omni/RESULTS.md",
        "exp/asr_omni/README.md",
        "stats/train/feats_stats.npz",
    }
    assert expected <= names
    assert any(name.startswith("exp/asr_omni/images/") for name in names)
    card = zipfile.ZipFile(packed["archive"]).read("exp/asr_omni/README.md").decode()
    assert "`omni`: Omni-router MoE" in card and "| omni | 9.9 |" in card


def test_unpacked_archive_decodes_like_the_training_side(packed, tmp_path):
    result = load_and_decode(tmp_path / "zoo", str(packed["archive"]), packed["wav"])
    assert result["text"] == packed["expected"]["beam"]
    assert all(path.startswith(str(tmp_path / "zoo")) for path in result["files"].values())


def test_espnet_entry_points_load_the_archive_and_decode_like_the_training_side(packed):
    import espnet

    result = subprocess.run(
        [sys.executable, "-c", LOAD_FROM_PRETRAINED, str(packed["archive"]), str(packed["wav"])],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    output = json.loads(result.stdout.splitlines()[-1])
    shutil.rmtree(output["unpacked"])
    expected = {"from_pretrained"} | ({"espnet.load"} if hasattr(espnet, "load") else set())
    assert output["texts"] == {name: packed["expected"]["beam"] for name in expected}


def test_hub_layout_loads_offline_and_decodes_like_the_training_side(packed, tmp_path):
    upload_dir = tmp_path / "upload"
    log = subprocess.run(
        [
            sys.executable, "-m", "espnet_omnirouter.bin.publish",
            "--packed_model", str(packed["archive"]), "--hf_repo", HUB_ID,
            "--upload_dir", str(upload_dir), "--dry_run",
        ],
        capture_output=True, text=True,
    )  # fmt: skip
    assert log.returncode == 0, log.stderr[-3000:]
    assert "dry run: nothing uploaded" in log.stdout
    card = (upload_dir / "README.md").read_text()
    assert f'Speech2Text.from_pretrained("{HUB_ID}")' in card
    # What snapshot_download leaves in the cache after downloading the repo.
    repo_cache = tmp_path / "zoo" / ("models--" + HUB_ID.replace("/", "--"))
    revision = "0" * 40
    shutil.copytree(upload_dir, repo_cache / "snapshots" / revision)
    (repo_cache / "refs").mkdir()
    (repo_cache / "refs" / "main").write_text(revision)
    result = load_and_decode(tmp_path / "zoo", HUB_ID, packed["wav"])
    assert result["text"] == packed["expected"]["beam"]


def test_transcribe_cli_decodes_the_archive_like_the_training_side(packed, tmp_path):
    result = subprocess.run(
        [
            sys.executable, "-m", "espnet_omnirouter.bin.transcribe",
            "--model", str(packed["archive"]), "--cache_dir", str(tmp_path / "zoo"),
            str(packed["wav"]),
        ],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"speech {packed['expected']['greedy']}".strip()
