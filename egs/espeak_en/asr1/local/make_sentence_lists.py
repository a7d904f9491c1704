"""Build the recipe's shipped sentence lists from Debian's text packages (run once).

The recipe never runs this: it reads the lists committed under local/text/. This script
documents how they were made, so they can be rebuilt and audited:

    apt-get download fortunes && dpkg -x fortunes_*.deb pkgs
    python local/make_sentence_lists.py pkgs local/text

Debian's fortunes package (fortune-mod, BSD licence; see local/text/LICENSE) holds the
clean-language fortune files (a few categories are excluded for content). Sentences of
the technical categories go to fortunes_tech.txt (the text-domain-shift test set), others to
fortunes_general.txt. Sentences are normalised (see normalize_sentence), kept at 4 to 14
words, de-duplicated, and a sentence in both lists is kept in the technical one only.
"""

import argparse
import re
from pathlib import Path
from typing import Dict, Iterator, Optional

MIN_WORDS, MAX_WORDS = 4, 14
TECH_CATEGORIES = {"computers", "linux", "linuxcookie", "science", "debian", "perl", "startrek"}
# Categories left out of a default dataset for their content.
EXCLUDED_CATEGORIES = {"ethnic", "men-women", "drugs"}


def normalize_sentence(raw: str) -> Optional[str]:
    """Lower-case words of letters and inner apostrophes; None if anything else remains.

    Hyphens and dashes become spaces and commas, semicolons, colons and quotes are
    dropped; a sentence with digits, brackets or other symbols is rejected rather than
    guessed at, so every kept word is pronounceable as written.
    """
    text = raw.replace("--", " ").replace("-", " ")
    text = re.sub(r"[,;:\"“”]", " ", text)
    text = re.sub(r"\s+", " ", text).strip().lower()
    if not re.fullmatch(r"[a-z]+(?:'[a-z]+)?(?: [a-z]+(?:'[a-z]+)?)*", text):
        return None
    if not MIN_WORDS <= len(text.split()) <= MAX_WORDS:
        return None
    return text


def split_sentences(paragraph: str) -> Iterator[str]:
    for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
        yield sentence.rstrip(".!?")


def fortunes(root: Path, tech: bool) -> Iterator[str]:
    """Sentences of the technical (``tech``) or the other fortune categories."""
    for path in sorted((root / "usr/share/games/fortunes").iterdir()):
        if path.suffix or not path.is_file() or path.name in EXCLUDED_CATEGORIES:
            continue
        if (path.name in TECH_CATEGORIES) != tech:
            continue
        for entry in path.read_text(encoding="latin-1").split("\n%\n"):
            lines = entry.strip("\n%").splitlines()
            if not lines or len(lines) > 6 or any(line.startswith(("\t", "  ")) for line in lines):
                continue  # indented verse, attributions and long dialogues
            yield from split_sentences(" ".join(entry.split()))


def normalized_unique(sentences: Iterator[str]) -> Dict[str, None]:
    """Normalised sentences, first occurrence order, without duplicates."""
    unique: Dict[str, None] = {}
    for raw in sentences:
        sentence = normalize_sentence(raw)
        if sentence:
            unique.setdefault(sentence, None)
    return unique


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package_root", type=Path, help="where the .deb files were unpacked")
    parser.add_argument("output_dir", type=Path)
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    tech = normalized_unique(fortunes(args.package_root, tech=True))
    general = [
        s for s in normalized_unique(fortunes(args.package_root, tech=False)) if s not in tech
    ]
    for name, sentences in (("general", general), ("tech", list(tech))):
        path = args.output_dir / f"fortunes_{name}.txt"
        path.write_text("".join(f"{s}\n" for s in sentences), encoding="utf-8")
        print(f"{path}: {len(sentences)} sentences")


if __name__ == "__main__":
    main()
