"""Frontends: waveforms to the features the encoder reads."""
