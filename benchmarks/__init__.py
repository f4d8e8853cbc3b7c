"""Reproducible performance runs against baselines (DESIGN §8); see benchmarks/README.md."""
