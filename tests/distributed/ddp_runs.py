"""Tiny trainings of the plugin's asr_train, in one process and under torchrun (ESPnet's
DDP over gloo, CPU), and what they leave behind (per-step losses, saved weights)."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import numpy as np
import soundfile
import torch
import yaml
from conftest import TINY_CONFORMER, TINY_DECODER
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tiny_asr import LETTERS, SAMPLE_RATE, synthesize

from espnet_omnirouter.data.kaldi_dir import Utterance, write_data_dir

# Equal-length transcripts: every utterance has the same number of samples, so a batch has
# no padding and an utterance's features do not depend on which utterances share its batch
# (with padding, the STFT's last frames and the convolution module see the batch's padding).
SENTENCES = ["abc", "bad", "cab", "dab", "dcb", "acd", "bba", "cad"]
GLOBAL_BATCH = 4  # ESPnet gives rank r the utterances batch[r::world_size]
EPOCHS = 2


def make_data(root: Path) -> Path:
    """Kaldi data dir, shape files and token list of ``SENTENCES`` under ``root``."""
    rng = np.random.default_rng(0)
    (root / "wav").mkdir(parents=True)
    utterances = []
    for index, sentence in enumerate(SENTENCES):
        path = root / "wav" / f"utt{index:02d}.wav"
        soundfile.write(path, synthesize(sentence, rng), SAMPLE_RATE)
        utterances.append(Utterance(f"utt{index:02d}", "speaker", str(path), sentence))
    write_data_dir(utterances, root / "data")
    samples = len(synthesize(SENTENCES[0], rng))
    ids = [u.utt_id for u in utterances]
    (root / "speech_shape").write_text("".join(f"{i} {samples}\n" for i in ids))
    (root / "text_shape").write_text("".join(f"{i} {len(SENTENCES[0])}\n" for i in ids))
    (root / "tokens.txt").write_text("\n".join(["<blank>", "<unk>", *LETTERS, "<sos/eos>"]) + "\n")
    return root


def ctc_attention_config(moe_conf: Dict) -> Dict:
    """A tiny hybrid CTC/attention MoE Conformer without dropout, trained with plain SGD
    (Adam's first steps are lr * sign(gradient), which turns rounding noise in near-zero
    gradients into full-size updates). No convolution module: its BatchNorm normalises
    with each rank's own batch statistics under DDP."""
    return {
        "frontend_conf": {"n_fft": 128, "hop_length": 64, "n_mels": 20, "fs": SAMPLE_RATE},
        "normalize": "utterance_mvn",
        "encoder": "moe_conformer",
        "encoder_conf": {**TINY_CONFORMER, "use_cnn_module": False, "moe_conf": moe_conf},
        "decoder": "transformer",
        "decoder_conf": {**TINY_DECODER, "num_blocks": 1},
        "model": "moe_espnet",
        "model_conf": {"ctc_weight": 0.5},
        "batch_type": "sorted",
        "batch_size": GLOBAL_BATCH,
        "max_epoch": EPOCHS,
        "optim": "sgd",
        "optim_conf": {"lr": 0.5},
        "num_att_plot": 0,
        "keep_nbest_models": EPOCHS,
        "log_interval": 1,
        "use_matplotlib": False,
    }


def u2pp_config() -> Dict:
    """``ctc_attention_config`` as U2++ MoE: dynamic chunk training, per-layer top-2 gates
    in the encoder and both decoders, CTC + left-to-right + right-to-left losses."""
    moe = {"type": "u2pp", "num_experts": 4}
    config = ctc_attention_config(moe)
    config.update(
        encoder="u2pp_conformer",
        decoder="bi_transformer",
        model="u2pp",
        model_conf={"ctc_weight": 0.3, "reverse_weight": 0.3},
    )
    config["encoder_conf"].update(rel_pos_type="legacy", use_dynamic_chunk=True, moe_conf=moe)
    config["decoder_conf"].update(r_num_blocks=1, moe_conf=moe)
    return config


def train_command(workdir: Path, config: Dict, exp: Path, world_size: int) -> List[str]:
    """``python -m espnet_omnirouter.bin.asr_train ...``; for ``world_size`` > 1 launched
    by torchrun, with ESPnet's options for an external launcher and CPU ranks."""
    exp.mkdir(parents=True)
    (exp / "train_config.yaml").write_text(yaml.safe_dump(config))
    data = workdir / "data"
    args = ["--config", str(exp / "train_config.yaml"), "--output_dir", str(exp)]
    args += ["--use_preprocessor", "true", "--token_type", "char"]
    args += ["--token_list", str(workdir / "tokens.txt"), "--ngpu", "0", "--num_workers", "0"]
    for mode in ("train", "valid"):
        args += [f"--{mode}_data_path_and_name_and_type", f"{data}/wav.scp,speech,sound"]
        args += [f"--{mode}_data_path_and_name_and_type", f"{data}/text,text,text"]
        args += [f"--{mode}_shape_file", str(workdir / "speech_shape")]
        args += [f"--{mode}_shape_file", str(workdir / "text_shape")]
    if world_size == 1:
        return [sys.executable, "-m", "espnet_omnirouter.bin.asr_train", *args]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    launcher += ["--nproc_per_node", str(world_size)]
    espnet_ddp = ["--multiprocessing_distributed", "false", "--dist_backend", "gloo"]
    return [*launcher, "-m", "espnet_omnirouter.bin.asr_train", *args, *espnet_ddp]


def launch(command: List[str], cwd: Path) -> subprocess.Popen:
    """Start ``command`` (one intra-op thread per process: the runs share the cores)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def step_scalars(exp: Path, tag: str) -> np.ndarray:
    """Training scalar ``tag`` as rank 0 wrote it to TensorBoard: every step's value
    (averaged over the ranks by ESPnet, weighted by their utterances), each epoch's
    mean after its last step."""
    accumulator = EventAccumulator(str(exp / "tensorboard" / "train"))
    accumulator.Reload()
    return np.array([event.value for event in accumulator.Scalars(tag)])


def weights(exp: Path, epoch: int) -> Dict[str, torch.Tensor]:
    """The model state dict ESPnet saved after ``epoch``."""
    return torch.load(exp / f"{epoch}epoch.pth", map_location="cpu")
