"""Real corpora: preparation of the evaluation benchmarks (and LibriSpeech training data)
from corpora as their publishers distribute them, through lhotse's recipes."""
