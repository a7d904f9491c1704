"""The project's Markdown documents: links resolve, no development-process talk, and every
results table names the command that wrote it.

Documents checked: README.md, docs/*.md, BENCHMARKS.md and the recipes' egs/*/asr1/*.md and
egs3/*/asr1/*.md. Code blocks and inline code are not prose: identifiers such as ONNX
Runtime's ``InferenceSession`` are never flagged, and links inside code are not followed.
Anchors follow GitHub's heading slugs (lower case, punctuation dropped, spaces to hyphens,
``-1``, ``-2`` ... for repeated headings).
"""

import re
import urllib.parse
from functools import cache
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted(
    path
    for path in {
        REPO / "README.md",
        REPO / "BENCHMARKS.md",
        *REPO.glob("docs/*.md"),
        *REPO.glob("egs/*/asr1/*.md"),
        *REPO.glob("egs3/*/asr1/*.md"),
    }
    if path.is_file()
)
# Documents whose tables are measurements: each table must name the command that wrote it.
RESULTS_DOCUMENTS = [
    path
    for path in DOCUMENTS
    if path.name == "BENCHMARKS.md" or re.fullmatch(r"(RESULTS\w*|STUDY)\.md", path.name)
]

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
HTML_COMMENT = re.compile(r"<!--.*?-->")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
TABLE_DELIMITER = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
INLINE_LINK = re.compile(r"\]\(\s*<?([^()\s<>]*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HTML_LINK = re.compile(r"\b(?:href|src)\s*=\s*\"([^\"]+)\"")
HTML_ANCHOR = re.compile(r"<a\s[^>]*\b(?:name|id)\s*=\s*\"([^\"]+)\"")
SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*:|//)")
# Inline code that runs something: an interpreter or shell with its arguments, or ./script.
# (A bare path such as `local/data.sh` names a file as often as it runs one: not a command.)
COMMAND = re.compile(r"^(python3?|bash|sh|uv|pytest|torchrun)\s+\S|^\./\S+")

# How the project came to be written is not the documents' subject: issue numbers,
# development sessions, what was tried or measured in an earlier version, who wrote what.
PROCESS_WORDS: Dict[str, re.Pattern] = {
    "issue reference": re.compile(r"\bissues?\s*#?\d+", re.I),
    "#number reference": re.compile(r"(?<![\w&/#])#\d+\b"),
    "development session": re.compile(
        r"\b(this|that|these|those|our|previous|earlier|later|next|last|another|current|"
        r"development|writing|coding)\s+sessions?\b"
        r"|\bsessions?\s+(that|which|who)\s+(wrote|ran|built|measured|made|added|changed|tested)\b"
        r"|\bsessions?'s?\s+(changes|work|code)\b",
        re.I,
    ),
    "the writers": re.compile(r"\b(the|its|our)\s+writers?\b|\bwhoever wrote\b", re.I),
    "earlier version": re.compile(
        r"\b(an?|the|in)\s+(earlier|previous|older)\s+(runs?|versions?|code|attempts?)\b"
        r"|\bearlier\s+(runs?|versions?|code)\b|\bprevious\s+(runs?|versions?)\b",
        re.I,
    ),
    "what we tried": re.compile(
        r"\bwe\s+(tried|measured|ran|fixed|found)\b"
        r"|\b(tried|measured|fixed)\s+(earlier|previously|twice)\b",
        re.I,
    ),
    "the writers' machines": re.compile(
        r"\b(was|were|is|are)\s+lent\b|\blent\s+to\b"
        r"|\bno\s+(run|GPU|corpus)\b[^.]{0,40}\bhere\b"
        r"|\b(none|nothing|not)\b[^.]{0,40}\b(run|made|measured|tested)\b[^.]{0,30}\bhere\b"
        r"|\b(the project's|our)\s+machines?\b|\bmachines?\s+here\b",
        re.I,
    ),
}


def relative(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def markdown_lines(path: Path) -> Iterator[Tuple[int, str]]:
    """(line number, line) for each line outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def without_code(line: str) -> str:
    return HTML_COMMENT.sub("", CODE_SPAN.sub("", line))


def prose(line: str) -> str:
    """The words a reader reads: no code, comments or link targets."""
    return INLINE_LINK.sub("]", without_code(line))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text (the rendered text: code spans keep their text,
    links their label, emphasis markers and HTML tags go)."""
    text = CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"[*~]", "", text)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> Set[str]:
    found: Set[str] = set()
    counts: Dict[str, int] = {}
    for _, line in markdown_lines(path):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = counts.get(base, 0)
            counts[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        found.update(HTML_ANCHOR.findall(line))
    return found


def links(path: Path) -> Iterator[Tuple[int, str]]:
    for number, line in markdown_lines(path):
        text = without_code(line)
        for pattern in (INLINE_LINK, REFERENCE_LINK, HTML_LINK):
            for target in pattern.findall(text):
                yield number, target


def broken_link(path: Path, target: str) -> Optional[str]:
    """Why ``target`` (a link in ``path``) does not resolve, or None."""
    if not target or SCHEME.match(target):
        return None
    target_path, _, anchor = target.partition("#")
    resolved = (path.parent / urllib.parse.unquote(target_path)).resolve() if target_path else path
    if not resolved.exists():
        return "no such file"
    if anchor and resolved.suffix == ".md" and resolved.is_file():
        if urllib.parse.unquote(anchor).lower() not in anchors(resolved):
            return f"no heading with anchor #{anchor} in {relative(resolved)}"
    return None


def test_slug_follows_github():
    assert slug("Reading (the run of 2026-11-30)") == "reading-the-run-of-2026-11-30"
    assert slug("Decoding: `ctc_lexicon_lm` (CTC beam search)") == (
        "decoding-ctc_lexicon_lm-ctc-beam-search"
    )
    assert slug("What's in **bold**, [a link](x.md) & more") == "whats-in-bold-a-link--more"


def test_process_words_spare_legitimate_text():
    legitimate = [
        "a known issue of ONNX export",
        "the eval sessions S01, S21 of CHiME-6",
        "VoxPopuli session audio",
        "a 2.5 h CHiME-6 session is ~0.6 GB",
        "every earlier chunk is visible",
        "the previous checkpoint is kept",
        "see issue tracker",
        "C# and F#1 notes",
        "`path.sh` and `utils/` are links to the files here",
        "| stage | what it does here |",
        "no GPU is needed",
    ]
    flagged = [
        "the targets of issue 8",
        "see #12 for details",
        "before this session's changes",
        "no GPU was lent to the sessions that wrote these scripts",
        "across earlier runs of this recipe",
        "in the previous run with a fixed LM weight",
        "Page faults, fixed earlier.",
        "None has been run on the real corpora here.",
        "no run has been made here (no GPU, no corpus)",
        "the project's machines have no GPU",
    ]
    for text in legitimate:
        assert not any(p.search(text) for p in PROCESS_WORDS.values()), text
    for text in flagged:
        assert any(p.search(text) for p in PROCESS_WORDS.values()), text


@pytest.mark.parametrize("path", DOCUMENTS, ids=relative)
def test_relative_links_resolve(path: Path):
    problems = [
        f"{relative(path)}:{number}: {target}: {why}"
        for number, target in links(path)
        if (why := broken_link(path, target))
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", DOCUMENTS, ids=relative)
def test_no_development_process_words(path: Path):
    problems = [
        f"{relative(path)}:{number}: {name}: {match.group(0)!r}"
        for number, line in markdown_lines(path)
        for name, pattern in PROCESS_WORDS.items()
        for match in pattern.finditer(prose(line))
    ]
    assert not problems, "\n".join(problems)


def command_spans(line: str) -> List[str]:
    return [span.strip() for _, span in CODE_SPAN.findall(line) if COMMAND.match(span.strip())]


def missing_script(path: Path, command: str) -> Optional[str]:
    """The script a ``python x.py ...``, ``bash x.sh`` or ``./x.sh`` command runs, if no such
    file exists beside the document or under the repository root. (A bare path such as
    ``local/data.sh`` names a script as often as it runs one, so it is not checked.)"""
    words = command.split()
    if words[0] in ("python", "python3", "bash", "sh") and len(words) > 1:
        script = words[1]
    elif words[0].startswith("./"):
        script = words[0]
    else:
        return None
    if not re.search(r"\.(py|sh)$", script):
        return None  # python -m module, bash -c ...
    found = (path.parent / script).exists() or (REPO / script).exists()
    return None if found else script


def tables_without_command(path: Path) -> List[str]:
    """Tables with no line naming a command in inline code before them, in their own section
    or in the introduction of a section that contains it (a command stated above a section's
    subsections covers their tables), and commands whose script does not exist."""
    problems = []
    # Open sections, outermost first: [heading level, a command was named in its text].
    sections: List[List] = [[0, False]]
    previous = ""
    for number, line in markdown_lines(path):
        heading = HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            while sections[-1][0] >= level:
                sections.pop()
            sections.append([level, False])
        elif TABLE_DELIMITER.match(line) and previous.lstrip().startswith("|"):
            if not any(named for _, named in sections):
                problems.append(f"{relative(path)}:{number - 1}: table without a command above it")
        elif not line.lstrip().startswith("|"):
            for command in command_spans(HTML_COMMENT.sub("", line)):
                sections[-1][1] = True
                script = missing_script(path, command)
                if script:
                    problems.append(f"{relative(path)}:{number}: {script} does not exist")
        previous = line
    return problems


def test_tables_without_command_are_found(tmp_path: Path):
    (tmp_path / "run.sh").write_text("")
    document = tmp_path / "RESULTS.md"
    document.write_text(
        "# Results\n\nIntro.\n\n## Mode a\n\nScored by `./run.sh --stage 7`.\n\n"
        "### Set b\n\n| x |\n|---|\n| 1 |\n\n"
        "## Other\n\nSee `local/data.sh`.\n\n| y |\n|---:|\n\n"
        "## Benchmarks\n\n`python missing.py --fast`\n\n```\n| z |\n|---|\n```\n"
    )
    assert tables_without_command(document) == [
        f"{document}:19: table without a command above it",
        f"{document}:24: missing.py does not exist",
    ]


@pytest.mark.parametrize("path", RESULTS_DOCUMENTS, ids=relative)
def test_results_tables_name_their_command(path: Path):
    problems = tables_without_command(path)
    assert not problems, "\n".join(problems)
