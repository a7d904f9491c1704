"""Imports of the optional parts of the package, with an error naming the pip extra.

The plugin's core installs with ESPnet alone; exporting to ONNX, lexicon + word-LM
decoding, real corpora, publishing to the Hub and plots need packages that only some users
want, installed as extras (``pip install 'espnet_omnirouter[onnx]'``; ``[all]`` for every
one). Using such a part without its extra raises :class:`MissingExtraError` saying which
extra to install, instead of a bare ``ModuleNotFoundError`` deep inside a command.
"""

import importlib
from types import ModuleType

# Top-level import name -> the extra of pyproject.toml that installs it.
EXTRA_OF_MODULE = {
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "onnxscript": "onnx",
    "flashlight": "lm",
    "lhotse": "corpora",
    "huggingface_hub": "hub",
    "matplotlib": "plots",
}


class MissingExtraError(ImportError):
    """An optional part of the package is used without the extra that installs it."""


def import_optional(module: str, purpose: str) -> ModuleType:
    """Import ``module`` of an extra, or raise :class:`MissingExtraError` naming the extra.

    Args:
        module: the module to import, e.g. ``"onnxruntime"`` or ``"flashlight.lib.text"``.
        purpose: what needs it, for the message (e.g. ``"ONNX export"``).

    Only the absence of ``module``'s own distribution becomes a ``MissingExtraError``; an
    import that fails inside an installed package is that package's error and propagates.
    """
    top_level = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is None or error.name.split(".")[0] != top_level:
            raise
        extra = EXTRA_OF_MODULE[top_level]
        raise MissingExtraError(
            f"{purpose} needs {top_level}, which is not installed: "
            f"pip install 'espnet_omnirouter[{extra}]'"
        ) from error
