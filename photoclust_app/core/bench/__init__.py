"""Benchmarks behind `photoclust bench ...`: speed and quality figures, never timed unit tests."""
