"""Checks ``asr_train`` runs before ESPnet starts: every configuration key is one its class
accepts, and the training and validation data are usable (``data/validation.py``).

A failed check raises ``PreflightError`` listing every problem; nothing has been written
to the output directory at that point.
"""

import argparse
import inspect
from typing import Dict, List, Optional, Set

from espnet2.asr.ctc import CTC
from espnet2.tasks.abs_task import optim_classes, scheduler_classes
from espnet2.tasks.asr import ASRTask

from espnet_omnirouter.data.validation import InputDataError, validate_task_data
from espnet_omnirouter.layers.moe.config import MoEConfig, MoEConfigError
from espnet_omnirouter.utils.model_config import frontend_sample_rate


class PreflightError(ValueError):
    """The configuration or data of an ``asr_train`` run is unusable."""


def accepted_keywords(cls: type) -> Optional[Set[str]]:
    """Keyword arguments ``cls(...)`` accepts, following ``**kwargs`` passed on to base
    classes; None when a ``**kwargs`` may be consumed in ways we cannot see."""
    accepted: Set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        if klass.__module__.startswith("torch.nn") or klass is object:
            return None  # **kwargs ended in a generic base: cannot tell
        parameters = inspect.signature(klass.__init__).parameters.values()
        accepted |= {p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return accepted - {"self"}
    return None


def _configured_classes(args: argparse.Namespace) -> Dict[str, type]:
    """``<name>_conf`` option -> the class it configures, for every choice made in args."""
    classes = {}
    for choices in ASRTask.class_choices_list:
        chosen = getattr(args, choices.name, None)
        if chosen is not None and isinstance(getattr(args, f"{choices.name}_conf", None), dict):
            cls = choices.get_class(chosen)
            if cls is not None:
                classes[f"{choices.name}_conf"] = cls
    classes["ctc_conf"] = CTC
    for prefix, table in (("optim", optim_classes), ("scheduler", scheduler_classes)):
        chosen = getattr(args, prefix, None)
        if chosen is not None and chosen.lower() in table:
            classes[f"{prefix}_conf"] = table[chosen.lower()]
    return classes


def config_problems(args: argparse.Namespace) -> List[str]:
    """Unknown keys of every ``*_conf`` section, and invalid ``moe_conf`` sections."""
    problems = []
    for option, cls in _configured_classes(args).items():
        conf = getattr(args, option, None) or {}
        allowed = accepted_keywords(cls)
        unknown = sorted(set(conf) - allowed) if allowed is not None else []
        if unknown:
            problems.append(
                f"{option}: unknown key(s) {unknown} for {cls.__name__}; "
                f"accepted: {sorted(allowed)}"
            )
        if isinstance(conf.get("moe_conf"), dict) or "moe_conf" in conf:
            try:
                MoEConfig.from_dict(conf["moe_conf"], where=f"{option}.moe_conf")
            except MoEConfigError as error:
                problems.append(str(error))
    return problems


def check_training_run(args: argparse.Namespace) -> None:
    """Raise ``PreflightError`` listing every configuration and data problem of ``args``
    (ESPnet's parsed ``asr_train`` options)."""
    where = f"--config {args.config}" if getattr(args, "config", None) else "options"
    problems = [f"{where}: {problem}" for problem in config_problems(args)]
    sample_rate = frontend_sample_rate(
        getattr(args, "frontend", None), getattr(args, "frontend_conf", None)
    )
    for prefix in ("train", "valid"):
        option = f"{prefix}_data_path_and_name_and_type"
        entries = getattr(args, option, None)
        if not entries:
            continue
        try:
            validate_task_data(entries, sample_rate, what=f"--{option}")
        except InputDataError as error:
            problems.append(str(error))
    if problems:
        raise PreflightError("asr_train cannot start:\n" + "\n".join(problems))
