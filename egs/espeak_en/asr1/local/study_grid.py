"""The runs of the study (run_study.sh): which model, which change to its config, which seed.

Every run starts from one of the recipe's configs (``<conf_dir>/train_<base>.yaml``) and
changes only what its question needs, so that runs differ in one thing. Runs without a
change and with seed 0 are the recipe's own models (``exp/asr_<base>``): the default
recipe's run is the study's first seed.
"""

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

Config = Dict[str, Any]
SEEDS = (0, 1, 2)
EXPERT_COUNTS = (2, 4, 8)
# The question each group of runs answers (STUDY.md has one table per group).
GROUPS = {
    "seeds": "dense, switch and omni at the default size, 3 training seeds each",
    "experts": "switch and omni with 2, 4 and 8 experts (same active size)",
    "equal_size": "a dense model with as many parameters as the 4-expert MoE models",
    "controls": "routing of initialised models and of a switch model with tied router init",
    "u2pp": "U2++: dense, MoE, dense of equal total size, MoE with load balancing, omni",
}


@dataclass(frozen=True)
class StudyRun:
    """One trained (or, with ``train=False``, only initialised) model of the study.

    Attributes:
        name: the run's name in records and tables, e.g. ``omni_s1``.
        group: the ``GROUPS`` key of the question it serves (a run may serve others too).
        base: the recipe config it starts from (``train_<base>.yaml``).
        seed: ESPnet's ``--seed`` (initialisation and data order).
        change: what differs from the base config, in words (empty: nothing).
        edit: applies that change to a copy of the base config.
        tied_router_init: every router of the model starts from the same weights.
        train: False for an initialised model that is analysed without training.
    """

    name: str
    group: str
    base: str
    seed: int = 0
    change: str = ""
    edit: Optional[Callable[[Config], None]] = field(default=None, compare=False)
    tied_router_init: bool = False
    train: bool = True

    @property
    def tag(self) -> str:
        """The experiment's tag (``exp/asr_<tag>``): the recipe's own model for an
        unchanged seed-0 run, else ``study_<name>``."""
        if self.seed == 0 and not self.change and self.train:
            return self.base
        return f"study_{self.name}"

    def config(self, base_config: Config) -> Config:
        """The run's training config, from the base config."""
        config = copy.deepcopy(base_config)
        if self.edit is not None:
            self.edit(config)
        return config


def set_experts(num_experts: int) -> Callable[[Config], None]:
    def edit(config: Config) -> None:
        config["encoder_conf"]["moe_conf"]["num_experts"] = num_experts

    return edit


def widen_ffns(factor: int, decoder: bool = False) -> Callable[[Config], None]:
    """Dense FFNs ``factor`` times wider: as many FFN parameters as ``factor`` experts of
    the original width (the MoE models' experts concatenated), same depth."""

    def edit(config: Config) -> None:
        config["encoder_conf"]["linear_units"] *= factor
        if decoder:
            config["decoder_conf"]["linear_units"] *= factor

    return edit


def load_balancing_on(weight: float) -> Callable[[Config], None]:
    def edit(config: Config) -> None:
        for section in ("encoder_conf", "decoder_conf"):
            config[section]["moe_conf"]["load_balancing_weight"] = weight

    return edit


def omni_encoder(config: Config) -> None:
    """U2++ MoE whose encoder MoE layers share one router (the decoders keep their own)."""
    moe_conf = config["encoder_conf"]["moe_conf"]
    moe_conf.update(type="omni", num_experts=8, top_k=2, gate_normalization="topk_softmax")
    moe_conf.update(load_balancing_weight=0.0, z_loss_weight=0.0)


def study_runs() -> List[StudyRun]:
    """Every run of the study, in the order run_study.sh trains them (most needed first)."""
    runs = [
        StudyRun(f"{base}_s{seed}", "seeds", base, seed)
        for seed in SEEDS
        for base in ("dense", "switch", "omni")
    ]
    runs += [
        StudyRun(f"{base}_e{num_experts}_s0", "experts", base, 0, f"{num_experts} experts",
                 set_experts(num_experts))
        for num_experts in EXPERT_COUNTS if num_experts != 4
        for base in ("switch", "omni")
    ]  # fmt: skip
    runs += [
        StudyRun("dense_x4_s0", "equal_size", "dense", 0, "FFNs 4x wider", widen_ffns(4)),
        StudyRun("switch_tied_init_s0", "controls", "switch", 0, "routers start equal",
                 tied_router_init=True),
        StudyRun("switch_init", "controls", "switch", 0, "initialised, not trained", train=False),
        StudyRun("omni_init", "controls", "omni", 0, "initialised, not trained", train=False),
        StudyRun("u2pp_dense_s0", "u2pp", "u2pp_dense"),
        StudyRun("u2pp_moe_s0", "u2pp", "u2pp_moe"),
        StudyRun("u2pp_dense_x4_s0", "u2pp", "u2pp_dense", 0,
                 "FFNs 4x wider (encoder and decoders)", widen_ffns(4, decoder=True)),
        StudyRun("u2pp_moe_lb_s0", "u2pp", "u2pp_moe", 0, "load-balancing loss 0.01",
                 load_balancing_on(0.01)),
        StudyRun("u2pp_omni_s0", "u2pp", "u2pp_moe", 0, "one router shared by the encoder",
                 omni_encoder),
    ]  # fmt: skip
    return runs


def run_names_by_group() -> Dict[str, List[str]]:
    """Every group's run names in study order (a group may have none yet)."""
    names: Dict[str, List[str]] = {group: [] for group in GROUPS}
    for run in study_runs():
        names[run.group].append(run.name)
    return names


def select_runs(selection: Sequence[str]) -> List[StudyRun]:
    """Runs named in ``selection`` by run name or group name ("all": every run), in
    study order; an unknown name raises ValueError listing the known ones."""
    runs = study_runs()
    names = {run.name for run in runs}
    unknown = [item for item in selection if item not in names | set(GROUPS) | {"all"}]
    if unknown:
        raise ValueError(
            f"unknown runs or groups {unknown}; groups: {sorted(GROUPS)}, runs: "
            + " ".join(run.name for run in runs)
        )
    wanted = set(selection)
    return [run for run in runs if "all" in wanted or run.name in wanted or run.group in wanted]
