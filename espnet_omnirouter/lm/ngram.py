"""Word n-gram language model: interpolated Kneser-Ney estimation, written as ARPA.

A small pure-Python estimator for the text sizes of the recipes here (up to a few
million words); the ARPA file is read by KenLM (through flashlight-text) in
:mod:`espnet_omnirouter.asr.decoding.ctc_lexicon_decoder`.

Estimation follows Chen & Goodman's interpolated Kneser-Ney with one discount per order,
``D = n1 / (n1 + 2 n2)`` from the count-of-counts: the highest order uses raw counts,
lower orders use continuation counts (number of distinct left words), except for n-grams
starting with ``<s>``, which have no left word and keep their raw counts (as KenLM does).
Every n-gram gets its interpolated probability and every context its interpolation weight,
which are exactly ARPA's probability and back-off weight.
"""

import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

from espnet_omnirouter.utils.files import write_text_atomically

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
NGram = Tuple[str, ...]


class KneserNeyLM:
    """Interpolated Kneser-Ney n-gram model estimated from tokenised sentences.

    Args:
        sentences: sentences as lists of words (no ``<s>``/``</s>``).
        order: n-gram order (>= 1).
    """

    def __init__(self, sentences: Iterable[Sequence[str]], order: int = 3) -> None:
        if order < 1:
            raise ValueError(f"n-gram order must be >= 1, got {order}")
        self.order = order
        highest = Counter()
        for words in sentences:
            padded = [BOS] + list(words) + [EOS]
            for i in range(1, len(padded)):
                highest[tuple(padded[max(0, i - order + 1) : i + 1])] += 1
        if not highest:
            raise ValueError("no sentences to estimate an n-gram model from")
        self.counts = self._kneser_ney_counts(highest)
        self.probs: Dict[NGram, float] = {}
        self.backoffs: Dict[NGram, float] = {}
        self._estimate()

    def _kneser_ney_counts(self, highest: Counter) -> List[Counter]:
        """Counts per order (index n-1): raw for order N and <s>-initial, else continuation."""
        counts = [Counter() for _ in range(self.order)]
        for ngram, count in highest.items():
            counts[len(ngram) - 1][ngram] += count
        for n in range(self.order, 1, -1):
            for ngram in counts[n - 1]:
                counts[n - 2][ngram[1:]] += 1  # one more distinct left word
        return counts

    @staticmethod
    def _discount(counts: Counter) -> float:
        count_of_counts = Counter(c for c in counts.values() if c <= 2)
        n1, n2 = count_of_counts[1], count_of_counts[2]
        return n1 / (n1 + 2 * n2) if n1 and n2 else 0.5

    def _estimate(self) -> None:
        unigrams = self.counts[0]
        vocabulary = {w for (w,) in unigrams} | {UNK}
        vocabulary.discard(BOS)
        total = sum(c for (w,), c in unigrams.items() if w != BOS)
        discount = self._discount(unigrams)
        kept = sum(max(c - discount, 0.0) for (w,), c in unigrams.items() if w != BOS)
        uniform = (total - kept) / total / len(vocabulary)  # mass left, spread over all words
        for word in vocabulary:
            self.probs[(word,)] = max(unigrams[(word,)] - discount, 0.0) / total + uniform
        for n in range(2, self.order + 1):
            counts = self.counts[n - 1]
            discount = self._discount(counts)
            context_totals: Dict[NGram, int] = defaultdict(int)
            context_types: Dict[NGram, int] = defaultdict(int)
            for ngram, count in counts.items():
                context_totals[ngram[:-1]] += count
                context_types[ngram[:-1]] += 1
            for context, context_total in context_totals.items():
                self.backoffs[context] = discount * context_types[context] / context_total
            for ngram, count in counts.items():
                context = ngram[:-1]
                lower = self.prob(ngram[1:])
                self.probs[ngram] = (count - discount) / context_totals[context] + self.backoffs[
                    context
                ] * lower

    def prob(self, ngram: NGram) -> float:
        """P(last word | preceding words), backing off as ARPA does."""
        if ngram in self.probs:
            return self.probs[ngram]
        if len(ngram) == 1:
            return self.probs[(UNK,)]
        return self.backoffs.get(ngram[:-1], 1.0) * self.prob(ngram[1:])

    def write_arpa(self, path: Path) -> None:
        """Write the model in ARPA format (log10 probabilities and back-off weights)."""
        by_order: List[List[NGram]] = [[] for _ in range(self.order)]
        for ngram in self.probs:
            by_order[len(ngram) - 1].append(ngram)
        by_order[0].append((BOS,))
        lines = ["", "\\data\\"]
        lines += [f"ngram {n + 1}={len(grams)}" for n, grams in enumerate(by_order)]
        for n, grams in enumerate(by_order):
            lines += ["", f"\\{n + 1}-grams:"]
            for ngram in sorted(grams):
                prob = -99.0 if ngram == (BOS,) else math.log10(self.probs[ngram])
                fields = [f"{prob:.6f}", " ".join(ngram)]
                if n + 1 < self.order and ngram in self.backoffs:
                    fields.append(f"{math.log10(self.backoffs[ngram]):.6f}")
                lines.append("\t".join(fields))
        lines += ["", "\\end\\", ""]
        write_text_atomically(path, "\n".join(lines))

    def perplexity(self, sentences: Iterable[Sequence[str]]) -> float:
        """Per-word perplexity (``</s>`` counted, as SRILM's ppl) of the given sentences."""
        log_sum, count = 0.0, 0
        for words in sentences:
            padded = [BOS] + list(words) + [EOS]
            for i in range(1, len(padded)):
                history = padded[max(0, i - self.order + 1) : i]
                word = padded[i] if (padded[i],) in self.probs else UNK
                log_sum += math.log(self.prob(tuple(history) + (word,)))
                count += 1
        return math.exp(-log_sum / count)
