"""Build the lexicon and word n-gram LM for CTC lexicon decoding from Kaldi ``text`` files.

Usage:
    python -m espnet_omnirouter.bin.make_lexicon_lm --text data/train/text \
        --bpemodel data/token_list/bpe_unigram50/bpe.model \
        --token_list data/token_list/bpe_unigram50/tokens.txt \
        --order 3 --dev_text data/dev/text --output_dir exp/lm_word3

Writes <output_dir>/lexicon.txt (every training word spelt in the model's tokens) and
<output_dir>/lm.arpa (interpolated Kneser-Ney), and prints the LM's perplexity and
out-of-vocabulary rate on --dev_text.
"""

import argparse
from pathlib import Path
from typing import List

from espnet_omnirouter.lm.lexicon import spell_words, write_lexicon
from espnet_omnirouter.lm.ngram import KneserNeyLM
from espnet_omnirouter.scoring.wer import read_kaldi_text
from espnet_omnirouter.utils.console import setup_cli_logging
from espnet_omnirouter.utils.model_files import LEXICON_FILE, LM_FILE


def read_sentences(path: Path) -> List[List[str]]:
    return [text.split() for text in read_kaldi_text(path).values()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", type=Path, nargs="+", required=True, help="LM training text")
    parser.add_argument("--bpemodel", type=Path, required=True)
    parser.add_argument("--token_list", type=Path, required=True)
    parser.add_argument("--order", type=int, default=3)
    parser.add_argument("--dev_text", type=Path, help="report perplexity on this text")
    parser.add_argument("--output_dir", type=Path, required=True)
    args = parser.parse_args()
    setup_cli_logging()
    for path in (*args.text, args.bpemodel, args.token_list, args.dev_text):
        if path is not None and not path.is_file():
            parser.error(f"not found: {path}")
    sentences = [words for path in args.text for words in read_sentences(path)]
    token_list = args.token_list.read_text().split()
    entries = spell_words((w for words in sentences for w in words), args.bpemodel, token_list)
    lexicon_words = {word for word, *_ in entries}
    lm = KneserNeyLM(
        ([w if w in lexicon_words else "<unk>" for w in words] for words in sentences),
        args.order,
    )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    write_lexicon(entries, args.output_dir / LEXICON_FILE)
    lm.write_arpa(args.output_dir / LM_FILE)
    print(
        f"[make_lexicon_lm] {len(sentences)} sentences, lexicon of {len(entries)} words, "
        f"{args.order}-gram LM -> {args.output_dir}"
    )
    if args.dev_text:
        dev = read_sentences(args.dev_text)
        words = [w for sentence in dev for w in sentence]
        oov = sum(w not in lexicon_words for w in words) / max(len(words), 1)
        print(
            f"[make_lexicon_lm] {args.dev_text}: perplexity {lm.perplexity(dev):.1f}, "
            f"OOV rate {100 * oov:.1f}%"
        )


if __name__ == "__main__":
    main()
