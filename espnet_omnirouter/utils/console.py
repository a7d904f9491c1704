"""What the command-line tools print: their own messages and everyone's errors.

Other libraries' notices (Python warnings such as torch's and ESPnet's FutureWarnings or the
model zoo's cache notice, log records of other loggers below ERROR such as ESPnet's "Set
decoder to none") are held back at the default level, WARNING; ``OMNIROUTER_LOG_LEVEL=INFO``
writes them too (what the recipes do: their jobs' output goes to log files), ``DEBUG``
everything, including what native libraries write to the terminal (KenLM's loading banner).
"""

import contextlib
import logging
import os
import sys
import tempfile
from typing import Iterator

LEVEL_VARIABLE = "OMNIROUTER_LOG_LEVEL"
PACKAGE = "espnet_omnirouter"


class _OwnMessagesFilter(logging.Filter):
    """Passes this package's records and every record of ERROR and above; other libraries'
    warnings when the level is INFO or lower, everything when it is DEBUG."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name == PACKAGE or record.name.startswith(PACKAGE + ".")
        if own or record.levelno >= logging.ERROR or self.level <= logging.DEBUG:
            return True
        return self.level <= logging.INFO and record.levelno >= logging.WARNING


def setup_cli_logging() -> None:
    """Configure logging for a command-line tool (call in its ``main``, after parsing): one
    stderr handler at ``OMNIROUTER_LOG_LEVEL`` (default WARNING) filtered as the module
    says, and Python warnings routed into logging (logger ``py.warnings``), so that they are
    filtered the same way."""
    name = os.environ.get(LEVEL_VARIABLE, "WARNING").upper()
    level = logging.getLevelName(name)
    if not isinstance(level, int):
        raise SystemExit(f"{LEVEL_VARIABLE}={name}: not a logging level (DEBUG, INFO, WARNING)")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.addFilter(_OwnMessagesFilter(level))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(min(level, logging.WARNING))
    logging.getLogger(PACKAGE).setLevel(level)
    logging.captureWarnings(True)


@contextlib.contextmanager
def native_output_logged(logger: logging.Logger, what: str) -> Iterator[None]:
    """Send what native code writes to the process's stdout and stderr (file descriptors 1
    and 2, which Python's ``sys.std*`` redirection cannot reach) during the block to
    ``logger`` as ``<what>: <text>``: at DEBUG level, or at ERROR level when the block
    raises (the text may explain why)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    level = logging.ERROR
    with tempfile.TemporaryFile(mode="w+b") as captured:
        try:
            os.dup2(captured.fileno(), 1)
            os.dup2(captured.fileno(), 2)
            yield
            level = logging.DEBUG
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            captured.seek(0)
            text = captured.read().decode(errors="replace").strip()
            if text:
                logger.log(level, "%s: %s", what, text)
