"""WER scoring and the results tables."""
