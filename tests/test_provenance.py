"""Every file of the project is the project's own: no copyright or licence header of another
project (Kaldi's, ESPnet's, WeNet's job scripts and modules carry theirs) anywhere in the
tree. The project's licence (LICENSE) and the licence notice of the data the default recipe
ships (egs/espeak_en/asr1/local/text/LICENSE: the sentence list's source) are the only
licence texts."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LICENCE_FILES = {"LICENSE", "egs/espeak_en/asr1/local/text/LICENSE"}
# What a header of someone else's code says: a copyright line, a licence grant, an SPDX tag.
FOREIGN_HEADER = re.compile(
    r"copyright|\(c\) ?(19|20)\d\d|licensed under|spdx-license-identifier|"
    r"apache license|gnu general public license|permission is hereby granted",
    re.IGNORECASE,
)


def tracked_text_files():
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, names):
        path = REPO / name
        if name in LICENCE_FILES or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" not in data[:8192]:  # images and other binary files hold no code
            yield name, data.decode("utf-8", errors="replace")


def test_no_file_carries_a_foreign_copyright_or_licence_header():
    found = [
        f"{name}:{number}: {line.strip()}"
        for name, text in tracked_text_files()
        for number, line in enumerate(text.splitlines(), start=1)
        if FOREIGN_HEADER.search(line) and name != "tests/test_provenance.py"
    ]
    assert not found, "lines of someone else's header:\n" + "\n".join(found)


def test_the_licence_files_are_the_projects_and_the_datas():
    assert (REPO / "LICENSE").read_text().lstrip().startswith("Apache License")
    notice = (REPO / "egs/espeak_en/asr1/local/text/LICENSE").read_text()
    assert "fortune" in notice  # the source of the sentence list, not of code
