"""The study of run_study.sh: train the grid of study_grid.py with the recipe's stages,
keep one record per model, measure decoding and training speed, and write STUDY.md from
the records.

    python local/study.py run --runs seeds experts    # train, decode, analyse, record
    python local/study.py record --runs dense_s0      # record an already trained model
    python local/study.py speed --group u2pp          # decoding and training speed, one run
    python local/study.py tables                      # STUDY.md from study/records/*.json

Runs that have a record are skipped, so an interrupted study continues where it stopped
(run.sh itself resumes a killed training from its last epoch).
"""

import argparse
import datetime
import json
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Sequence

import torch
import yaml
from study_grid import StudyRun, run_names_by_group, select_runs, study_runs
from study_records import build_record, code_revision, dump_json, load_records, store_references
from study_tables import plot_wer_against_experts, study_tables

import espnet_omnirouter  # noqa: F401  (registers the plugin's model classes)
from espnet_omnirouter.utils.files import write_text_atomically

RECIPE = Path(__file__).resolve().parents[1]
# run.sh's stages: data preparation up to feature statistics, then training .. routing.
PREPARE_STAGES = (1, 4)
TRAIN_STAGE, DECODE_STAGE, ROUTING_STAGE = 5, 6, 8
# Decoding speed measured in one run per group: the models and the mode each is timed in.
SPEED_GROUPS = {
    "equal_size": (("dense_s0", "dense_x4_s0", "switch_s0", "omni_s0"), "ctc_greedy"),
    "u2pp": (
        ("u2pp_dense_s0", "u2pp_dense_x4_s0", "u2pp_moe_s0", "u2pp_moe_lb_s0", "u2pp_omni_s0"),
        "attention_rescoring",
    ),
}


def recipe(stages: Sequence[int], args: argparse.Namespace, *options: str) -> None:
    """Run the recipe's stages ``stages[0]..stages[1]`` with the study's directories."""
    command = [
        "bash", "run.sh", "--stage", str(stages[0]), "--stop_stage", str(stages[1]),
        "--exp_dir", str(args.exp_dir), "--data_dir", str(args.data_dir),
        "--conf_dir", str(args.conf_dir), *options, *shlex.split(args.recipe_args),
    ]  # fmt: skip
    print(f"[study] {shlex.join(command)}", flush=True)
    if subprocess.run(command, cwd=RECIPE).returncode != 0:
        sys.exit(f"[study] the recipe failed: {shlex.join(command)}")


def make_model(config: Path, seed: int) -> torch.nn.Module:
    """The model ``config`` describes, initialised as training would be with ``seed``."""
    from espnet_omnirouter.utils.model_config import build_model_from_config

    torch.manual_seed(seed)
    return build_model_from_config(config)


def tied_router_state(config: Path, seed: int) -> Dict[str, torch.Tensor]:
    """Router weights for ``--init_param``: every router starts from the first one's."""
    from espnet_omnirouter.layers.moe.router import Router

    routers = [
        (name, module)
        for name, module in make_model(config, seed).named_modules()
        if isinstance(module, Router)
    ]
    if len(routers) < 2:
        raise ValueError(f"{config}: tied router initialisation needs several routers")
    first = routers[0][1].linear.weight.detach().clone()
    return {f"{name}.linear.weight": first.clone() for name, _ in routers}


def run_config(run: StudyRun, args: argparse.Namespace) -> Path:
    """The run's training config: the recipe's own, or a changed copy in the study dir."""
    base = args.conf_dir / f"train_{run.base}.yaml"
    if not run.change or not run.train:
        return base
    path = args.exp_dir / "study" / "conf" / f"train_{run.tag}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    config = run.config(yaml.safe_load(base.read_text()))
    write_text_atomically(
        path, f"# {run.name}: train_{run.base}.yaml with {run.change}\n" + yaml.safe_dump(config)
    )
    return path


def train_run(run: StudyRun, args: argparse.Namespace) -> None:
    """Train, decode, score and analyse one run through the recipe's stages."""
    config = run_config(run, args)
    train_args = f"--seed {run.seed} {args.train_args}".strip()
    if run.tied_router_init:
        init = args.exp_dir / "study" / "conf" / f"{run.tag}_routers.pth"
        torch.save(tied_router_state(config, run.seed), init)
        train_args += f" --init_param {init}"
    outputs = args.exp_dir / "study" / run.tag
    recipe(
        (TRAIN_STAGE, ROUTING_STAGE), args, "--asr_config", str(config), "--tag", run.tag,
        "--train_args", train_args, "--results_file", str(outputs / "RESULTS.md"),
        "--figures_dir", str(outputs / "figures"),
    )  # fmt: skip


def initialised_run(run: StudyRun, args: argparse.Namespace) -> None:
    """Analyse the routing of an initialised, untrained model: the trained base model's
    experiment config, fresh weights from ``run.seed``."""
    trained = args.exp_dir / f"asr_{run.base}" / "config.yaml"
    if not trained.is_file():
        sys.exit(f"[study] {run.name} needs {trained}: train {run.base}_s0 first")
    model_dir = args.exp_dir / f"asr_{run.tag}"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "config.yaml").write_text(trained.read_text())
    model = make_model(model_dir / "config.yaml", run.seed)
    torch.save(model.state_dict(), model_dir / "valid.loss.ave.pth")
    recipe(
        (ROUTING_STAGE, ROUTING_STAGE), args, "--asr_config", str(model_dir / "config.yaml"),
        "--tag", run.tag, "--figures_dir", str(args.exp_dir / "study" / run.tag / "figures"),
    )  # fmt: skip


def record_path(run: StudyRun, args: argparse.Namespace) -> Path:
    return args.records_dir / f"{run.name}.json"


def write_record(run: StudyRun, args: argparse.Namespace, command: str) -> None:
    from espnet_omnirouter.layers.moe.parameter_count import count_parameters
    from espnet_omnirouter.utils.model_config import build_model_from_config

    model_dir = args.exp_dir / f"asr_{run.tag}"
    if not (model_dir / "config.yaml").is_file():
        sys.exit(f"[study] no experiment {model_dir} to record: train {run.name} first")
    count = count_parameters(build_model_from_config(model_dir / "config.yaml"))
    record, references = build_record(
        {
            "name": run.name, "group": run.group, "base": run.base, "seed": run.seed,
            "change": run.change, "tag": run.tag, "train": run.train,
            "tied_router_init": run.tied_router_init,
        },
        model_dir, args.exp_dir, args.data_dir, count._asdict(),
        {"command": command, "date": datetime.date.today().isoformat(),
         "machine": machine(), "revision": code_revision(RECIPE)},
    )  # fmt: skip
    store_references(args.records_dir, references)
    write_text_atomically(record_path(run, args), dump_json(record))
    print(f"[study] {run.name}: record {record_path(run, args)}", flush=True)


def machine() -> str:
    return f"{platform.machine()}, {torch.get_num_threads()} threads, {platform.python_version()}"


def command_line() -> str:
    """This study.py command as records keep it: without ``--records_dir``, which names
    wherever the checkout that ran it kept its records."""
    words = sys.argv[1:]
    if "--records_dir" in words:
        index = words.index("--records_dir")
        del words[index : index + 2]
    return "python local/study.py " + shlex.join(words)


def run_study(args: argparse.Namespace) -> None:
    runs = select_runs(args.runs)
    stats = args.exp_dir / "asr_stats" / "train" / "feats_stats.npz"
    for index, run in enumerate(runs, 1):
        if record_path(run, args).is_file():
            print(f"[study] {index}/{len(runs)} {run.name}: recorded, skipping", flush=True)
            continue
        print(f"[study] {index}/{len(runs)} {run.name} ({run.change or 'as the recipe'}, "
              f"seed {run.seed})", flush=True)  # fmt: skip
        if not stats.is_file():
            recipe(PREPARE_STAGES, args, "--models", run.base)
        start = time.time()
        (train_run if run.train else initialised_run)(run, args)
        write_record(run, args, command_line())
        print(f"[study] {run.name} done in {(time.time() - start) / 60:.0f} min", flush=True)


def measure_speed(args: argparse.Namespace) -> None:
    """Decode RTF and training step time of a group's models, measured in one run."""
    from study_speed import SAMPLE_RATE
    from study_speed import measure_speed as measure

    from espnet_omnirouter.data.audio_batches import read_waves
    from espnet_omnirouter.data.kaldi_dir import read_wav_scp
    from espnet_omnirouter.scoring.wer import read_kaldi_text

    torch.set_num_threads(args.threads)
    names, mode = SPEED_GROUPS[args.group]
    runs = {run.name: run for run in study_runs()}
    model_dirs = {name: args.exp_dir / f"asr_{runs[name].tag}" for name in names}
    if not all((model_dir / "valid.loss.ave.pth").is_file() for model_dir in model_dirs.values()):
        print(f"[study] speed {args.group}: not every model of {names} is trained yet; "
              "measure once they are", flush=True)  # fmt: skip
        return
    test_dir = args.data_dir / args.test_set
    utterances = sorted(read_wav_scp(test_dir).items())[: args.utterances]
    texts = read_kaldi_text(test_dir / "text")
    waves = read_waves(utterances)
    measured = measure(
        model_dirs, mode, waves, [texts[utt] for utt, _ in utterances], args.train_batch_size,
        args.rounds,
    )  # fmt: skip
    audio_seconds = sum(len(wave) for wave in waves) / SAMPLE_RATE
    speed = {
        "group": args.group, "mode": mode, "baseline": names[0], **measured,
        "command": command_line(), "date": datetime.date.today().isoformat(),
        "description": f"{mode}, batch 1, {len(waves)} {args.test_set} utterances "
        f"({audio_seconds:.0f} s); training steps on {args.train_batch_size} of them; "
        f"median of {args.rounds} interleaved rounds, {args.threads} thread(s), "
        f"{platform.machine()}",
    }  # fmt: skip
    path = args.records_dir / f"speed_{args.group}.json"
    write_text_atomically(path, dump_json(speed))
    for name in names:
        print(f"[study] {name}: decode RTF {speed['rtf'][name]:.4f}, training step "
              f"{speed['train_step_seconds'][name]:.3f} s", flush=True)  # fmt: skip


def write_tables(args: argparse.Namespace) -> None:
    records = load_records(args.records_dir)
    speed_records = (
        json.loads(path.read_text()) for path in sorted(args.records_dir.glob("speed_*.json"))
    )
    speeds = {speed["group"]: speed for speed in speed_records}
    figure = args.output.parent / "study" / "figures" / "wer_vs_experts.png"
    plot_wer_against_experts(records, figure)
    reading = RECIPE / "local" / "study_reading.md"
    parts = [
        (RECIPE / "local" / "study_header.md").read_text().strip(),
        f"Tables written by `{command_line()}` from {len(records)} records "
        f"({datetime.date.today().isoformat()}).",
        study_tables(records, speeds, run_names_by_group()).strip(),
        *([reading.read_text().strip()] if reading.is_file() else []),
    ]
    write_text_atomically(args.output, "\n\n".join(parts) + "\n")
    print(f"[study] {args.output}: {len(records)} records", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=("run", "record", "speed", "tables"))
    parser.add_argument("--runs", nargs="+", default=["all"], help="run or group names")
    parser.add_argument("--group", choices=sorted(SPEED_GROUPS), help="speed: which group")
    parser.add_argument("--exp_dir", type=Path, default=Path("exp"))
    parser.add_argument("--data_dir", type=Path, default=Path("data"))
    parser.add_argument("--conf_dir", type=Path, default=Path("conf"))
    parser.add_argument("--records_dir", type=Path, default=Path("study/records"))
    parser.add_argument("--output", type=Path, default=Path("STUDY.md"))
    parser.add_argument("--recipe_args", default="", help="more run.sh options for every run")
    parser.add_argument("--train_args", default="", help="more asr_train options")
    parser.add_argument("--test_set", default="test_clean", help="speed: utterances from it")
    parser.add_argument("--utterances", type=int, default=40, help="speed: how many")
    parser.add_argument("--rounds", type=int, default=5, help="speed: timed rounds")
    parser.add_argument("--threads", type=int, default=1, help="speed: torch threads")
    parser.add_argument(
        "--train_batch_size", type=int, default=8, help="speed: utterances per training step"
    )
    args = parser.parse_args()
    try:
        runs = select_runs(args.runs)
    except ValueError as error:
        parser.error(str(error))
    if args.action == "run":
        run_study(args)
    elif args.action == "record":
        for run in runs:
            write_record(run, args, command_line())
    elif args.action == "speed":
        if args.group is None:
            parser.error(f"speed needs --group, one of {sorted(SPEED_GROUPS)}")
        measure_speed(args)
    else:
        write_tables(args)


if __name__ == "__main__":
    main()
