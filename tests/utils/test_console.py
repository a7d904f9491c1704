"""Command-line tools' console: own messages printed, other libraries' notices logged."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import ctypes, logging, warnings
    from espnet_omnirouter.utils.console import native_output_logged, setup_cli_logging

    setup_cli_logging()
    warnings.warn("third-party deprecation", FutureWarning)
    logging.getLogger("espnet2.x").warning("a library's notice")
    logging.getLogger().warning("a notice on the root logger")
    logging.getLogger("espnet2.x").error("a library's error")
    logging.getLogger("espnet_omnirouter.bin.x").warning("our warning")
    logging.getLogger("espnet_omnirouter.bin.x").info("our detail")
    libc = ctypes.CDLL(None)
    with native_output_logged(logging.getLogger("espnet_omnirouter.lm"), "KenLM"):
        libc.write(2, b"Loading the LM will be faster\\n", 30)
        libc.write(1, b"----5---10\\n", 11)
    print("result line")
    """
)


def run(level=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "OMNIROUTER_LOG_LEVEL"}
    if level:
        env["OMNIROUTER_LOG_LEVEL"] = level
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True
    )


def test_console_shows_own_warnings_and_every_error_only():
    result = run()
    assert result.stdout == "result line\n"
    lines = [line for line in result.stderr.splitlines() if "Flash Attention" not in line]
    assert lines == ["ERROR: a library's error", "WARNING: our warning"]


def test_info_level_writes_other_libraries_warnings_too():
    result = run("INFO")
    lines = [line for line in result.stderr.splitlines() if "Flash Attention" not in line]
    assert "FutureWarning: third-party deprecation" in result.stderr
    assert lines[-5:] == [
        "WARNING: a library's notice",
        "WARNING: a notice on the root logger",
        "ERROR: a library's error",
        "WARNING: our warning",
        "INFO: our detail",
    ]


def test_debug_level_shows_what_was_held_back():
    result = run("DEBUG")
    assert result.stdout == "result line\n"
    for text in [
        "FutureWarning: third-party deprecation",
        "WARNING: a library's notice",
        "WARNING: a notice on the root logger",
        "INFO: our detail",
        "DEBUG: KenLM: Loading the LM will be faster\n----5---10",
    ]:
        assert text in result.stderr, text
