"""Kaldi-style data directories."""
