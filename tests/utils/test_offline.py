import logging
import subprocess
import sys


def test_importing_the_plugin_leaves_logging_unconfigured_and_quiet():
    code = "import logging, espnet_omnirouter;print(len(logging.root.handlers), logging.root.level)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["0", str(logging.WARNING)]
    assert "nltk_data" not in result.stderr and "Error loading" not in result.stderr
