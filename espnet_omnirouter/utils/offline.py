"""Keep ESPnet's imports from reaching for the network."""

import contextlib
import logging
from typing import Iterator

# A named logger: module-level logging.debug() would configure the root logger during
# import and turn ESPnet's later logging.basicConfig(level=INFO) into a no-op.
logger = logging.getLogger(__name__)


@contextlib.contextmanager
def nltk_downloads_skipped() -> Iterator[None]:
    """Skip ``nltk.download`` calls made while the block runs.

    ESPnet's phoneme tokenizer imports ``g2p_en``, which calls ``nltk.download`` at
    import time when its tagger and CMUdict data are missing. Offline (the normal
    case for this package) that prints "[nltk_data] Error loading ..." lines and
    tries the network on every ESPnet start-up. We never use g2p_en, so those
    downloads are skipped with one debug message; g2p_en still works where its
    nltk data is installed, and fails with nltk's own error where it is not. Without nltk
    (ESPnet 202609 and later do not need it) nothing can call it: the block just runs.
    """
    try:
        import nltk
    except ModuleNotFoundError:
        yield
        return

    original = nltk.download

    def skip_download(info_or_id: str = "", *args, **kwargs) -> bool:
        logger.debug("skipped nltk.download(%r) while importing ESPnet", info_or_id)
        return False

    nltk.download = skip_download
    try:
        yield
    finally:
        nltk.download = original
