"""Packing trained models, model cards and publishing to the Hugging Face Hub."""
