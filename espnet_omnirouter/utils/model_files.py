"""Find the files of a trained model: an experiment dir, a packed archive or a zoo id."""

from pathlib import Path
from typing import NamedTuple, Optional

MODEL_FILES = ("valid.loss.ave.pth", "valid.loss.best.pth", "latest.pth")
# The word LM of CTC lexicon decoding, as bin/make_lexicon_lm writes it and a packed model
# carries it.
LEXICON_FILE = "lexicon.txt"
LM_FILE = "lm.arpa"


class ModelError(RuntimeError):
    """The --model argument names nothing that can be loaded."""


class ResolvedModel(NamedTuple):
    """Files of a model to load; ``lm_dir``: the word LM packed with it, if any."""

    config: Path
    checkpoint: Path
    lm_dir: Optional[Path] = None


def packed_lm_dir(config: Path) -> Optional[Path]:
    """The dir holding lexicon.txt and lm.arpa in the unpacked archive of ``config``."""
    root = next((d for d in config.parents if (d / "meta.yaml").is_file()), None)
    if root is None:
        return None
    lm_files = sorted(root.rglob(LM_FILE))
    return next((f.parent for f in lm_files if f.with_name(LEXICON_FILE).is_file()), None)


def resolve_model(
    model: str, model_file: Optional[str], cache_dir: Optional[Path]
) -> ResolvedModel:
    """The files of an experiment dir, a packed archive or a zoo / Hub id."""
    path = Path(model)
    if path.is_dir():
        config = path / "config.yaml"
        candidates = [path / model_file] if model_file else [path / n for n in MODEL_FILES]
        checkpoint = next((c for c in candidates if c.is_file()), None)
        if not config.is_file() or checkpoint is None:
            raise ModelError(
                f"{path} is not a model dir: it needs config.yaml and one of "
                f"{', '.join(c.name for c in candidates)}"
            )
        return ResolvedModel(config, checkpoint)
    from espnet_model_zoo.downloader import ModelDownloader

    try:
        files = ModelDownloader(cache_dir).download_and_unpack(model, quiet=True)
    except Exception as error:  # the zoo raises anything from KeyError to HTTP errors
        where = "archive" if path.exists() else "model (not a dir, archive or cached zoo id)"
        raise ModelError(f"cannot load {where} {model}: {error}") from error
    config = Path(files["asr_train_config"])
    return ResolvedModel(config, Path(files["asr_model_file"]), packed_lm_dir(config))
