"""Routing analysis: statistics of expert choices, the reassignment ablation, plots."""
