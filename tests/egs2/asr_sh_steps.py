"""The steps of ESPnet's egs2 recipe script (``egs2/TEMPLATE/asr1/asr.sh``) as it starts
them, for a Kaldi-style data dir: the same ESPnet modules with the same options, each in a
process of its own started with ``${python}`` = ``espnet-omnirouter-python`` (what
``asr.sh --python espnet-omnirouter-python`` does) through the job commands
``${train_cmd}``, ``${cuda_cmd}`` and ``${decode_cmd}`` = ``omnirouter-jobs``.

One method per stage that starts Python (5 char token list, 6-7 LM, 10 statistics, 11
training through ``espnet2.bin.launch``, 12 decoding, 14 packing), in asr.sh's option order,
with its defaults: raw audio (``--feats_type raw``), ``--feats_normalize global_mvn``, char
tokens. The command lines are built here; none of ESPnet's scripts is used or copied.
"""

import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence

BIN = Path(sys.executable).parent
PYTHON = [str(BIN / "espnet-omnirouter-python")]
JOB_COMMAND = [str(BIN / "omnirouter-jobs")]  # train_cmd = cuda_cmd = decode_cmd


def run(argv: Sequence[str], cwd: Path) -> None:
    result = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, (
        f"{shlex.join(argv)} failed ({result.returncode}):\n{result.stderr[-6000:]}"
    )


def split_keys(scp: Path, parts: int, pattern: str) -> None:
    """Kaldi's split_scp.pl: ``parts`` contiguous shares of ``scp``'s lines (PATTERN with
    JOB -> the share's number)."""
    lines = scp.read_text().splitlines(keepends=True)
    size, extra = divmod(len(lines), parts)
    start = 0
    for part in range(parts):
        end = start + size + (part < extra)
        path = Path(pattern.replace("JOB", str(part + 1)))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(lines[start:end]))
        start = end


def add_token_count(shape: Path, token_list: Path, output: Path) -> None:
    """text_shape -> text_shape.<token_type>: ``key length,vocabulary size``."""
    vocabulary = len(token_list.read_text().splitlines())
    lines = [f"{line},{vocabulary}\n" for line in shape.read_text().splitlines()]
    output.write_text("".join(lines))


@dataclass
class Egs2Recipe:
    """An egs2 recipe dir ``root`` whose train, valid and test set is the data dir ``data``
    (raw audio at ``fs``), with asr.sh's paths: ``data/token_list/char/tokens.txt``,
    ``exp/asr_stats_raw_char``, ``exp/lm_train_char``, ``exp/asr_<tag>``."""

    root: Path
    data: Path
    fs: str

    @property
    def token_list(self) -> Path:
        return self.root / "data" / "token_list" / "char" / "tokens.txt"

    @property
    def asr_stats_dir(self) -> Path:
        return self.root / "exp" / "asr_stats_raw_char"

    @property
    def lm_stats_dir(self) -> Path:
        return self.root / "exp" / "lm_stats_char"

    @property
    def lm_exp(self) -> Path:
        return self.root / "exp" / "lm_train_char"

    def asr_exp(self, tag: str) -> Path:
        return self.root / "exp" / f"asr_{tag}"

    def _launch(self, exp: Path) -> List[str]:
        """``espnet2.bin.launch`` as asr.sh runs it for one training job in ``exp``, up to
        the ``--`` before the training command."""
        return [
            *PYTHON, "-m", "espnet2.bin.launch",
            "--cmd", shlex.join([*JOB_COMMAND, "--name", f"{exp}/train.log"]),
            "--log", f"{exp}/train.log", "--ngpu", "0", "--num_nodes", "1",
            "--init_file_prefix", f"{exp}/.dist_init_",
            "--multiprocessing_distributed", "true", "--",
        ]  # fmt: skip

    def _token_options(self) -> List[str]:
        return [
            "--bpemodel", "none", "--token_type", "char", "--token_list", str(self.token_list),
            "--non_linguistic_symbols", "none", "--cleaner", "none", "--g2p", "none",
        ]  # fmt: skip

    def _speech_and_text(self, prefix: str) -> List[str]:
        return [
            f"--{prefix}_data_path_and_name_and_type", f"{self.data}/wav.scp,speech,sound",
            f"--{prefix}_data_path_and_name_and_type", f"{self.data}/text,text,text",
        ]  # fmt: skip

    def stage5_token_list(self) -> None:
        lm_train = self.root / "dump" / "raw" / "lm_train.txt"
        lm_train.parent.mkdir(parents=True, exist_ok=True)
        lm_train.write_text((self.data / "text").read_text())
        self.token_list.parent.mkdir(parents=True, exist_ok=True)
        run(
            [*PYTHON, "-m", "espnet2.bin.tokenize_text", "--token_type", "char",
             "--input", str(lm_train), "--output", str(self.token_list),
             "--non_linguistic_symbols", "none", "--field", "2-", "--cleaner", "none",
             "--g2p", "none", "--write_vocabulary", "true", "--add_symbol", "<blank>:0",
             "--add_symbol", "<unk>:1", "--add_symbol", "<sos/eos>:-1"],
            self.root,
        )  # fmt: skip

    def stage6_7_lm(self, lm_config: Path) -> None:
        """LM statistics (one job), then the LM trained through espnet2.bin.launch."""
        logdir = self.lm_stats_dir / "logdir"
        lm_train = self.root / "dump" / "raw" / "lm_train.txt"
        split_keys(lm_train, 1, f"{logdir}/train.JOB.scp")
        split_keys(lm_train, 1, f"{logdir}/dev.JOB.scp")
        run(
            [*JOB_COMMAND, "JOB=1:1", f"{logdir}/stats.JOB.log", *PYTHON, "-m",
             "espnet2.bin.lm_train", "--collect_stats", "true", "--use_preprocessor", "true",
             *self._token_options(),
             "--train_data_path_and_name_and_type", f"{lm_train},text,text",
             "--valid_data_path_and_name_and_type", f"{lm_train},text,text",
             "--train_shape_file", f"{logdir}/train.JOB.scp",
             "--valid_shape_file", f"{logdir}/dev.JOB.scp",
             "--output_dir", f"{logdir}/stats.JOB", "--config", str(lm_config)],
            self.root,
        )  # fmt: skip
        self._aggregate(logdir, 1, self.lm_stats_dir)
        run(
            [*self._launch(self.lm_exp),
             *PYTHON, "-m", "espnet2.bin.lm_train", "--ngpu", "0",
             "--use_preprocessor", "true", *self._token_options(),
             "--valid_data_path_and_name_and_type", f"{lm_train},text,text",
             "--valid_shape_file", f"{self.lm_stats_dir}/valid/text_shape.char",
             "--fold_length", "150", "--resume", "true", "--output_dir", str(self.lm_exp),
             "--config", str(lm_config),
             "--train_data_path_and_name_and_type", f"{lm_train},text,text",
             "--train_shape_file", f"{self.lm_stats_dir}/train/text_shape.char"],
            self.root,
        )  # fmt: skip

    def _aggregate(self, logdir: Path, nj: int, output_dir: Path) -> None:
        inputs = [
            arg for job in range(1, nj + 1) for arg in ("--input_dir", f"{logdir}/stats.{job}")
        ]
        run(
            [*PYTHON, "-m", "espnet2.bin.aggregate_stats_dirs", *inputs,
             "--output_dir", str(output_dir)],
            self.root,
        )  # fmt: skip
        for subset in ("train", "valid"):
            add_token_count(
                output_dir / subset / "text_shape",
                self.token_list,
                output_dir / subset / "text_shape.char",
            )

    def stage10_asr_stats(self, asr_config: Path, nj: int, asr_args: str = "") -> None:
        logdir = self.asr_stats_dir / "logdir"
        split_keys(self.data / "wav.scp", nj, f"{logdir}/train.JOB.scp")
        split_keys(self.data / "wav.scp", nj, f"{logdir}/valid.JOB.scp")
        run(
            [*JOB_COMMAND, f"JOB=1:{nj}", f"{logdir}/stats.JOB.log", *PYTHON, "-m",
             "espnet2.bin.asr_train", "--collect_stats", "true", "--use_preprocessor", "true",
             *self._token_options(), *self._speech_and_text("train"),
             *self._speech_and_text("valid"),
             "--train_shape_file", f"{logdir}/train.JOB.scp",
             "--valid_shape_file", f"{logdir}/valid.JOB.scp",
             "--output_dir", f"{logdir}/stats.JOB", "--config", str(asr_config),
             "--frontend_conf", f"fs={self.fs}", *asr_args.split()],
            self.root,
        )  # fmt: skip
        self._aggregate(logdir, nj, self.asr_stats_dir)

    def stage11_asr_train(self, tag: str, asr_config: Path, asr_args: str = "") -> Path:
        exp, stats = self.asr_exp(tag), self.asr_stats_dir
        run(
            [*self._launch(exp),
             *PYTHON, "-m", "espnet2.bin.asr_train", "--use_preprocessor", "true",
             *self._token_options(), *self._speech_and_text("valid"),
             "--valid_shape_file", f"{stats}/valid/speech_shape",
             "--valid_shape_file", f"{stats}/valid/text_shape.char",
             "--resume", "true", "--init_param", "--ignore_init_mismatch", "false",
             "--fold_length", "80000", "--fold_length", "150", "--output_dir", str(exp),
             "--config", str(asr_config), "--frontend_conf", f"fs={self.fs}",
             "--normalize=global_mvn", "--normalize_conf",
             f"stats_file={stats}/train/feats_stats.npz", *self._speech_and_text("train"),
             "--train_shape_file", f"{stats}/train/speech_shape",
             "--train_shape_file", f"{stats}/train/text_shape.char", *asr_args.split()],
            self.root,
        )  # fmt: skip
        return exp

    def stage12_decode(
        self,
        tag: str,
        inference_config: Path,
        nj: int,
        use_lm: bool,
        model: str,
        inference_args: str = "",
    ) -> Path:
        """Decode the test set (``nj`` jobs); returns the merged ``text``."""
        exp = self.asr_exp(tag)
        output = exp / f"decode_{'lm' if use_lm else 'nolm'}" / "test"
        logdir = output / "logdir"
        split_keys(self.data / "wav.scp", nj, f"{logdir}/keys.JOB.scp")
        lm = ["--lm_train_config", f"{self.lm_exp}/config.yaml",
              "--lm_file", f"{self.lm_exp}/valid.loss.ave.pth"] if use_lm else []  # fmt: skip
        run(
            [*JOB_COMMAND, "--gpu", "0", f"JOB=1:{nj}", f"{logdir}/asr_inference.JOB.log",
             *PYTHON, "-m", "espnet2.bin.asr_inference", "--batch_size", "1", "--ngpu", "0",
             "--data_path_and_name_and_type", f"{self.data}/wav.scp,speech,sound",
             "--key_file", f"{logdir}/keys.JOB.scp",
             "--asr_train_config", f"{exp}/config.yaml", "--asr_model_file", f"{exp}/{model}",
             "--output_dir", f"{logdir}/output.JOB", "--config", str(inference_config), *lm,
             *inference_args.split()],
            self.root,
        )  # fmt: skip
        lines = []
        for job in range(1, nj + 1):
            lines += (logdir / f"output.{job}" / "1best_recog" / "text").read_text().splitlines()
        (output / "text").write_text("".join(f"{line}\n" for line in sorted(lines)))
        return output / "text"

    def stage14_pack(self, tag: str, model: str) -> Path:
        exp = self.asr_exp(tag)
        packed = exp / f"asr_{tag}_{Path(model).stem}.zip"
        run(
            [*PYTHON, "-m", "espnet2.bin.pack", "asr",
             "--asr_train_config", f"{exp}/config.yaml", "--asr_model_file", f"{exp}/{model}",
             "--lm_train_config", f"{self.lm_exp}/config.yaml",
             "--lm_file", f"{self.lm_exp}/valid.loss.ave.pth",
             "--option", f"{self.lm_exp}/images",
             "--option", f"{self.asr_stats_dir}/train/feats_stats.npz",
             "--option", f"{exp}/images", "--outpath", str(packed)],
            self.root,
        )  # fmt: skip
        return packed
